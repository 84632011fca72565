"""A seeded grammar of scientific prose and math for the synthetic sample.

>>> g = Grammar(random.Random(1), "math")
>>> isinstance(g.sentence(), str)
True

Domain vocabularies fill sentence templates; `<X>` slots expand to words, inline math or
cross-references. Math papers are formula-heavy, cs papers talk about algorithms and
benchmarks, physics papers quote quantities with units. The text only has to be varied and
regular enough for a tokenizer to learn and a tiny model's loss to fall.
"""

from __future__ import annotations

import random
import re


def _w(words: str) -> list[str]:
    return words.split()


def _p(phrases: str) -> list[str]:
    return phrases.split("|")


VOCAB: dict[str, dict[str, list[str]]] = {
    "math": {
        "N": _w(
            "manifold operator group module ideal fibration measure function sequence graph "
            "polynomial lattice algebra scheme semigroup cocycle representation bundle curve "
            "surface domain kernel functional martingale partition matroid norm extension"
        ),
        "A": _w(
            "compact smooth bounded finite abelian nilpotent convex ergodic holomorphic "
            "projective separable reduced irreducible self-adjoint harmonic stationary "
            "non-degenerate orientable Noetherian unimodular hyperbolic measurable"
        ),
        "V": _w(
            "prove establish construct characterize classify estimate compute study obtain derive"
        ),
        "R": _p(
            "a sharp upper bound|an explicit formula|a structure theorem|"
            "a rigidity result|a dichotomy|a new invariant|optimal decay rates|"
            "a local-global principle|a uniform estimate|an asymptotic expansion"
        ),
        "X": _p(
            "Hodge|Sobolev|Poincar\\'e|Banach|Riemann|Hilbert|Noether|Fourier|"
            'Cauchy--Schwarz|H\\"older|Gr\\"onwall|Lipschitz'
        ),
        "var": _w("x y z u v f g h n k m p q t \\lambda \\mu \\varphi \\xi \\alpha"),
    },
    "cs": {
        "N": _w(
            "network algorithm classifier model dataset scheduler protocol compiler cache "
            "embedding transformer agent retriever encoder benchmark optimizer estimator "
            "pipeline sampler heuristic solver tokenizer"
        ),
        "A": _w(
            "distributed scalable sparse adversarial robust greedy randomized parallel "
            "lightweight self-supervised online approximate incremental lock-free "
            "differentiable federated streaming hierarchical"
        ),
        "V": _w(
            "propose design evaluate implement analyze train benchmark introduce optimize study"
        ),
        "R": _p(
            "a 3x speedup|state-of-the-art accuracy|a tight regret bound|"
            "a linear-time algorithm|a lower memory footprint|a new benchmark|"
            "provable convergence|a simple baseline|an open-source library"
        ),
        "X": _p("ImageNet|CIFAR-10|WikiText-103|GLUE|MNIST|SQuAD|the Penn Treebank|OGB-Arxiv"),
        "var": _w("x w \\theta \\eta n d k L T b y_i x_i \\epsilon \\gamma"),
    },
    "physics": {
        "N": _w(
            "spin_chain Hamiltonian cross_section halo black_hole superconductor "
            "quantum_dot magnetic_field gauge_field amplitude phase_transition photon "
            "neutrino plasma waveguide qubit condensate cluster detector wave_function"
        ),
        "A": _w(
            "relativistic topological anisotropic thermal coherent nonlinear massive "
            "chiral quantum turbulent metastable ferromagnetic entangled effective "
            "supersymmetric dissipative"
        ),
        "V": _w(
            "measure compute simulate derive observe predict constrain model investigate calculate"
        ),
        "R": _p(
            "a sharp resonance|a new phase diagram|precise constraints|"
            "an anomalous scaling law|a finite-size correction|a universal ratio|"
            "a first-order transition|the leading-order correction"
        ),
        "X": _p("LHC|Planck|LIGO|IceCube|Super-Kamiokande|ATLAS|SDSS"),
        "var": _w("\\psi E \\omega k m T \\phi g \\Lambda q r \\rho \\sigma \\beta"),
    },
}
# Two-word nouns written with spaces in the split above are rejoined here.
for _d in VOCAB.values():
    _d["N"] = [w.replace("_", " ") for w in _d["N"]]

UNITS = _w(
    "\\mathrm{K} \\mathrm{GeV} \\mathrm{meV} \\mathrm{T} \\mathrm{nm} \\mathrm{MeV}/c^2 "
    "\\mathrm{fb}^{-1} \\mathrm{Hz} \\mu\\mathrm{s}"
)

COMMON = [
    "We <V> <R> for <A> <N>s.",
    "Let $<S>$ be a <A> <N> and assume that <M>.",
    "In this section we <V> the <N> introduced in Section~\\ref{<SEC>}.",
    "It follows from <CITE> that <M> for every $<S>$.",
    "The main difficulty is that the <N> need not be <A>.",
    "Our approach combines ideas from <CITE> with a careful analysis of the <A> <N>.",
    "Roughly speaking, $<S>$ measures how far the <N> is from being <A>.",
    "This improves the previous bound of <CITE> by a factor of <INT>.",
    "Note that <M>, which is the key estimate. % <NOTE>\n",
    "In about <INT>\\% of the cases the <N> is <A>.",
    "Moreover, <M> whenever <M>.",
    "We refer to <CITE> for background on <A> <N>s.",
    "Throughout, $<S>$ denotes a <A> <N>.\\footnote{<FOOT>}",
    "A similar argument shows that the <A> <N> is <A> as well.",
    "To our knowledge, this is the first <A> <N> with this property.",
    "See Section~\\ref{<SEC>} for the precise statement.",
    "The <N> in <EQ> plays a central role in what follows.",
    "Combining <EQ> with <M> yields the desired bound.",
    "Unlike <CITE>, we do not require the <N> to be <A>.",
    "We now turn to the <A> case, which is considerably more delicate.",
    "The proof proceeds in <INT> steps, each of which uses <EQ>.",
    "If the <N> is not <A>, then <M> fails for some $<S>$.",
    "For simplicity we only treat the <A> case; the general case is analogous.",
    "The assumption that $<S>$ is <A> cannot be dropped, as the <A> <N> shows.",
    "We expect that the <A> <N> behaves similarly, but we have not verified this.",
    "Recently, <CITE> obtained <R> for <A> <N>s under stronger assumptions.",
    "In contrast with the <A> setting, here <M> holds only asymptotically.",
    "Section~\\ref{<SEC>} collects the notation and the standing assumptions.",
    "Our main contribution is <R>, stated precisely below.",
    "As a consequence, the <N> is determined by $<S>$ up to a <A> correction.",
]
DOMAIN = {
    "math": [
        "Since $<S>$ is <A>, the <N> $<S>$ is <A> as well.",
        "Hence <M> and the claim follows from the <X> inequality.",
        "By the <X> theorem, <M>.",
        "Every <A> <N> admits a decomposition <M>.",
        "We first reduce to the case <M>, then apply <EQ>.",
        "The constant in <EQ> depends only on $<S>$ and the dimension.",
    ],
    "cs": [
        "We train the <N> with a learning rate of <FLT> for <INT> epochs.",
        "On <X>, our <A> <N> reaches <INT>.<INT>\\% accuracy, compared with <INT>\\% "
        "for the baseline of <CITE>.",
        "The running time is $<BIGO>$ and the memory usage is $<BIGO>$.",
        "Algorithm~\\ref{<ALG>} summarizes the <A> procedure.",
        "Table~\\ref{<TAB>} reports the results averaged over <INT> runs.",
        "Each <N> is assigned to a worker, and the workers communicate asynchronously.",
    ],
    "physics": [
        "We <V> the <N> at a temperature of $T = <FLT>\\,\\mathrm{K}$.",
        "The <N> exhibits a <A> phase below $<FLT>\\,<UNIT>$.",
        "Our results agree with the <X> measurements within <INT>\\%.",
        "Figure~\\ref{<FIG>} shows the <N> as a function of $<S>$.",
        "The coupling $g = <FLT>$ is fixed by matching to <EQ>.",
        "At energies above $<INT>\\,\\mathrm{GeV}$ the <A> contribution dominates.",
    ],
}
NOTES = _p(
    "check the constant|see also the appendix|cite the original here|"
    "this was wrong in v1|referee asked for this"
)
FOOTS = _p(
    "All computations were repeated with independent seeds.|"
    "The same argument works for unbounded domains.|"
    "Code is available from the authors upon request.|"
    "We thank the referee for pointing this out."
)
REL = ["=", "\\le", "\\ge", "<", "\\approx", "\\sim", "\\lesssim"]
_SLOT = re.compile(r"<([A-Z]+)>")
_AN = re.compile(r"\b([Aa]) (?=[aeiouAEIOU])")


class Grammar:
    """Sentences, formulas and labels for one paper, drawn from one seeded `rng`."""

    def __init__(self, rng: random.Random, domain: str, macros: bool = True) -> None:
        self.rng = rng
        self.domain = domain
        self.voc = VOCAB[domain]
        self.macros = macros  # the paper defines \norm, \ip, \R
        self.cites: list[str] = []
        self.labels: dict[str, list[str]] = {"sec": [], "eq": [], "tab": [], "fig": [], "alg": []}

    # ---- words -------------------------------------------------------------------------
    def word(self, slot: str) -> str:
        return self.rng.choice(self.voc[slot])

    def ref(self, kind: str) -> str:
        return self.rng.choice(self.labels[kind]) if self.labels[kind] else "sec:1"

    def cite(self) -> str:
        keys = self.rng.sample(self.cites, k=min(len(self.cites), self.rng.choice([1, 1, 2])))
        return "\\cite{" + ",".join(keys) + "}" if keys else "earlier work"

    def _slot(self, m: re.Match[str]) -> str:
        s, r = m.group(1), self.rng
        if s in ("N", "A", "V", "R", "X"):
            return self.word(s)
        if s == "S":
            return self.var()
        if s == "M":
            f = self.relation()
            return f"\\({f}\\)" if r.random() < 0.15 else f"${f}$"
        if s == "CITE":
            return self.cite()
        if s == "EQ":
            return f"\\eqref{{{self.ref('eq')}}}" if self.labels["eq"] else "the identity above"
        if s in ("SEC", "TAB", "FIG", "ALG"):
            return self.ref(s.lower())
        if s == "INT":
            return str(r.choice([2, 3, 4, 5, 8, 10, 12, 16, 20, 32, 50, 64, 90, 100]))
        if s == "FLT":
            return f"{r.uniform(0.01, 9.9):.{r.choice([1, 2, 3])}f}"
        if s == "UNIT":
            return r.choice(UNITS)
        if s == "BIGO":
            return r.choice(["O(n \\log n)", "O(n^2)", "O(nd)", "O(k \\log k)", "O(1)"])
        if s == "NOTE":
            return r.choice(NOTES)
        if s == "FOOT":
            return r.choice(FOOTS)
        raise KeyError(s)  # a template typo, not bad input

    def fill(self, template: str) -> str:
        return _AN.sub(r"\1n ", _SLOT.sub(self._slot, template))

    def sentence(self) -> str:
        pool = DOMAIN[self.domain] if self.rng.random() < 0.4 else COMMON
        return self.fill(self.rng.choice(pool))

    def prose(self, lo: int = 3, hi: int = 6) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(lo, hi)))

    def abstract(self) -> str:
        """Prose fit for metadata: no comments, footnotes or cross-references."""
        out: list[str] = []
        macros, self.macros = self.macros, False  # metadata has no paper macros
        while len(out) < 4:
            s = self.sentence()
            if not any(c in s for c in ("%", "\\footnote", "\\ref", "\\cite", "\\eqref")):
                out.append(s)
        self.macros = macros
        return " ".join(out)

    def title(self) -> str:
        pats = [
            "On <A> <N>s",
            "<R> for <A> <N>s",
            "<A> <N>s and <A> <N>s",
            "Towards <A> <N>s via <A> <N>s",
            "A Note on the <A> <N>",
            "The <X> Problem for <A> <N>s",
        ]
        t = self.fill(self.rng.choice(pats))
        return " ".join(w[:1].upper() + w[1:] if len(w) > 3 else w for w in t.split())

    # ---- math --------------------------------------------------------------------------
    def var(self) -> str:
        v = self.word("var")
        roll = self.rng.random()
        if roll < 0.2:
            return f"{v}_{self.rng.choice('ijkn0')}"
        if roll < 0.3:
            return f"{v}^{{{self.rng.choice(['2', '*', '(k)', '-1'])}}}"
        return v

    def expr(self, depth: int = 0) -> str:
        r = self.rng
        if depth > 2 or r.random() < 0.3:
            return self.var() if r.random() < 0.8 else str(r.randint(1, 9))
        a, b = self.expr(depth + 1), self.expr(depth + 1)
        forms = [
            f"{a} + {b}",
            f"{a} - {b}",
            f"{a} {b}",
            f"\\frac{{{a}}}{{{b}}}",
            f"{{{a}}}^{{{r.randint(2, 4)}}}" if "^" in a else f"{a}^{{{r.randint(2, 4)}}}",
            f"\\sqrt{{{a}}}",
            f"\\sum_{{i=1}}^{{n}} {a}",
            f"\\int_0^1 {a} \\, dt",
            f"\\log {a}",
            f"\\exp({a})",
            f"|{a}|",
            f"({a})",
        ]
        if self.macros:
            forms += [f"\\norm{{{a}}}", f"\\ip{{{a}}}{{{b}}}", f"\\tr({a})", f"{a} + \\eps"]
        if self.domain == "physics":
            forms += [f"\\hbar {a}", f"\\langle {a} \\rangle", f"e^{{i {a}}}"]
        if self.domain == "cs":
            forms += [f"\\nabla {a}", f"\\mathbb{{E}}[{a}]", f"\\max_{{i}} {a}"]
        return r.choice(forms)

    def relation(self) -> str:
        if self.macros and self.rng.random() < 0.1:
            return f"{self.var()} \\in \\R^{{{self.rng.choice('dnk')}}}"
        return f"{self.expr(1)} {self.rng.choice(REL)} {self.expr(1)}"

    def display(self) -> str:
        """One display: \\[..\\], equation (labelled), align, gather or $$..$$."""
        r = self.rng
        kind = r.choice(["bracket", "equation", "equation", "align", "gather", "dollars"])
        if kind == "bracket":
            return f"\\[\n  {self.relation()}\n\\]"
        if kind == "dollars":
            return f"$${self.relation()}$$"
        if kind == "equation":
            label = f"eq:{len(self.labels['eq']) + 1}"
            self.labels["eq"].append(label)
            return f"\\begin{{equation}}\\label{{{label}}}\n  {self.relation()}\n\\end{{equation}}"
        lines = [self.expr(1) for _ in range(r.randint(2, 3))]
        if kind == "align":
            body = " \\\\\n".join(f"  {x} &{r.choice(REL)} {self.expr(1)}" for x in lines)
            return f"\\begin{{align}}\n{body}\n\\end{{align}}"
        body = " \\\\\n".join(f"  {self.relation()}" for _ in lines)
        return f"\\begin{{gather}}\n{body}\n\\end{{gather}}"
