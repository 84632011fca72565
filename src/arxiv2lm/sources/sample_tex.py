"""Whole synthetic papers: preamble, sections, environments, and the files they live in.

>>> p = make_paper(random.Random(3), "cs", "project")
>>> p.main in p.files and p.files[p.main].startswith(b"%")
True

`layout` picks how the source is shipped: `project` (a main file that \\input's section files
in a subfolder, a local .sty of macros, a .bbl, figures, sometimes a decoy template and a
00README.json), `single` (one .tex), `plain` (plain TeX ending in \\bye) or `body` (bare text,
no \\documentclass). `latin1=True` writes Latin-1 bytes with inputenc[latin1].
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field

from arxiv2lm.sources.sample_text import Grammar

FIRST = [
    "Anna",
    "Wei",
    "Carlos",
    "Priya",
    "Jonas",
    "Mei",
    "Omar",
    "Sofia",
    "Ivan",
    "Lena",
    "Kenji",
    "Ana",
    "David",
    "Fatima",
    "Pierre",
    "Yuki",
    "Marta",
    "Tomas",
    "Nadia",
    "Ravi",
]
# (TeX spelling, Unicode spelling): accents as TeX escapes, as in arXiv metadata
LAST = [
    ("Smith", "Smith"),
    ("Zhang", "Zhang"),
    ('M\\"uller', "Müller"),
    ("Garc\\'ia", "García"),
    ("Kowalski", "Kowalski"),
    ("Nakamura", "Nakamura"),
    ("Dupont", "Dupont"),
    ("Bal\\'azs", "Balázs"),
    ("Rossi", "Rossi"),
    ("Singh", "Singh"),
    ("Andersson", "Andersson"),
    ("Petrov", "Petrov"),
    ("Okafor", "Okafor"),
    ('Sch\\"onberg', "Schönberg"),
    ("Lef\\`evre", "Lefèvre"),
    ("Novak", "Novak"),
    ("Costa", "Costa"),
    ("Ibrahim", "Ibrahim"),
    ("Lindqvist", "Lindqvist"),
    ("Kim", "Kim"),
]
LATIN1_WORDS = [
    "Universität Göttingen",
    "École Polytechnique",
    "théorème",
    "Müller",
    "Gödel",
    "García",
    "Besançon",
    "Zürich",
]
MACROS = [
    "\\newcommand{\\norm}[1]{\\left\\lVert#1\\right\\rVert}",
    "\\newcommand{\\ip}[2]{\\langle #1, #2 \\rangle}",
    "\\def\\R{\\mathbb{R}}",
    "\\DeclareMathOperator{\\tr}{tr}",
    "\\newcommand{\\eps}{\\varepsilon}",
]
THEOREMS = [
    "\\newtheorem{theorem}{Theorem}[section]",
    "\\newtheorem{lemma}[theorem]{Lemma}",
    "\\newtheorem{proposition}[theorem]{Proposition}",
    "\\theoremstyle{definition}",
    "\\newtheorem{definition}[theorem]{Definition}",
]
SECTIONS = {
    "math": [
        "Preliminaries",
        "Main results",
        "Proof of the main theorem",
        "Examples",
        "Further remarks",
    ],
    "cs": ["Related work", "Method", "Experimental setup", "Results", "Discussion"],
    "physics": ["Model", "Methods", "Results", "Comparison with experiment", "Discussion"],
}
DECOYS = ["template.tex", "sample-sigconf.tex", "elsarticle-template.tex", "aps-template.tex"]
MAINS = ["main.tex", "paper.tex", "ms.tex", "article.tex", "draft.tex"]
PDF = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


@dataclass
class Paper:
    title: str
    abstract: str
    authors: list[tuple[str, str, str]]  # (first, TeX last, Unicode last)
    main: str
    files: dict[str, bytes] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)


def _environment(g: Grammar) -> str:
    """One non-prose block; the domain tilts the odds (cs: algorithms, tables)."""
    r, d = g.rng, g.domain
    weights = {"math": [6, 5, 1, 1, 1, 2], "cs": [2, 1, 4, 4, 2, 2], "physics": [5, 1, 1, 2, 3, 2]}
    kind = r.choices(["display", "theorem", "algorithm", "table", "figure", "list"], weights[d])[0]
    if kind == "display":
        return g.display()
    if kind == "theorem":
        env = r.choice(["theorem", "lemma", "proposition", "definition"])
        opt = f"[{g.word('X')}]" if r.random() < 0.3 else ""
        proof = (
            ""
            if env == "definition"
            else (f"\n\\begin{{proof}}\n{g.prose(2, 3)}\n{g.display()}\n\\end{{proof}}")
        )
        return f"\\begin{{{env}}}{opt}\n{g.prose(1, 2)}\n\\end{{{env}}}{proof}"
    if kind == "algorithm":
        label = f"alg:{len(g.labels['alg']) + 1}"
        g.labels["alg"].append(label)
        v = r.choice(["x", "w", "\\theta", "z"])
        return (
            f"\\begin{{algorithm}}[t]\n\\caption{{{g.fill('<A> <N> update')}}}"
            f"\\label{{{label}}}\n\\begin{{algorithmic}}[1]\n"
            f"\\Require a <A> <N> ${v}$, step size $\\eta > 0$\n"
            f"\\For{{$t = 1, \\dots, T$}}\n  \\State ${v}_{{t+1}} \\gets {g.expr(1)}$\n"
            f"  \\If{{${g.relation()}$}}\n    \\State \\textbf{{break}}\n  \\EndIf\n"
            f"\\EndFor\n\\State \\Return ${v}_T$\n\\end{{algorithmic}}\n\\end{{algorithm}}"
        ).replace("<A> <N>", g.fill("<A> <N>"))
    if kind == "table":
        label = f"tab:{len(g.labels['tab']) + 1}"
        g.labels["tab"].append(label)
        cols = r.randint(2, 4)
        head = " & ".join(
            ["Method"] + [g.word("X") if d == "cs" else f"${g.var()}$" for _ in range(cols)]
        )
        rows = [
            " & ".join([g.fill("<A>")] + [f"{r.uniform(1, 99):.1f}" for _ in range(cols)])
            for _ in range(r.randint(2, 5))
        ]
        lines = "\n".join(f"{row} \\\\" for row in rows)
        return (
            f"\\begin{{table}}[h]\n\\centering\n\\caption{{{g.fill('Results for <A> <N>s.')}}}"
            f"\\label{{{label}}}\n\\begin{{tabular}}{{l{'c' * cols}}}\n\\hline\n"
            f"{head} \\\\\n\\hline\n{lines}\n\\hline\n\\end{{tabular}}\n\\end{{table}}"
        )
    if kind == "figure":
        n = len(g.labels["fig"]) + 1
        g.labels["fig"].append(f"fig:{n}")
        return (
            f"\\begin{{figure}}[t]\n\\centering\n\\includegraphics[width=0.8\\linewidth]"
            f"{{figures/fig{n}}}\n\\caption{{{g.sentence()}}}\n\\label{{fig:{n}}}\n"
            "\\end{figure}"
        )
    env = r.choice(["itemize", "enumerate"])
    items = "\n".join(f"  \\item {g.sentence()}" for _ in range(r.randint(2, 4)))
    return f"\\begin{{{env}}}\n{items}\n\\end{{{env}}}"


def _section(g: Grammar, name: str, n: int) -> str:
    label = f"sec:{n}"
    g.labels["sec"].append(label)
    parts = [f"\\section{{{name}}}\\label{{{label}}}"]
    for i in range(g.rng.randint(2, 4)):
        if i and g.rng.random() < 0.3:
            parts.append(f"\\subsection{{{g.fill('<A> <N>s').capitalize()}}}")
        if g.rng.random() < 0.15:
            parts.append(f"\\paragraph{{{g.fill('The <A> case.').capitalize()}}}")
        parts.append(g.prose())
        if g.rng.random() < 0.7:
            parts.append(_environment(g))
        if g.rng.random() < 0.1:
            parts.append("% " + g.sentence())
    return "\n\n".join(parts)


def _plain_section(g: Grammar, n: int, name: str) -> str:
    """Plain TeX: bold headings, prose and $$ displays only."""
    paras = [
        f"{g.prose()}\n$${g.relation()}$$\n{g.prose(1, 3)}" for _ in range(g.rng.randint(2, 3))
    ]
    return f"\\bigskip\\noindent{{\\bf {n}. {name}}}\\medskip\n\n" + "\n\n".join(paras)


def _bibliography(g: Grammar, authors: list[tuple[str, str, str]]) -> str:
    items = []
    for key in g.cites:
        first, last, _ = g.rng.choice(authors)
        items.append(
            f"\\bibitem{{{key}}} {first[0]}.~{last}, \\emph{{{g.title()}}}, "
            f"J. {g.word('X').replace(chr(92), '')} \\textbf{{{g.rng.randint(1, 99)}}} "
            f"({key[-4:]}), {g.rng.randint(1, 400)}--{g.rng.randint(401, 900)}."
        )
    return "\\begin{thebibliography}{99}\n" + "\n".join(items) + "\n\\end{thebibliography}"


def make_paper(rng: random.Random, domain: str, layout: str, latin1: bool = False) -> Paper:
    """A paper of `domain` shipped as `layout`; the same rng state gives the same bytes."""
    g = Grammar(rng, domain, macros=layout in ("project", "single"))
    authors = [(rng.choice(FIRST), *rng.choice(LAST)) for _ in range(rng.randint(1, 4))]
    g.cites = sorted(
        {
            f"{rng.choice(LAST)[1].lower()}{rng.randint(1990, 2023)}".replace("ü", "u")
            .replace("ö", "o")
            .replace("á", "a")
            .replace("í", "i")
            .replace("è", "e")
            for _ in range(rng.randint(4, 9))
        }
    )
    title = g.title()
    abstract = g.abstract()
    names = SECTIONS[domain][:]
    rng.shuffle(names)
    names = ["Introduction"] + names[: rng.randint(2, 4)]
    sections = [_section(g, name, i + 1) for i, name in enumerate(names)]
    appendix = _section(g, "Proof details", len(names) + 1) if rng.random() < 0.4 else ""
    if latin1:
        sections[0] += " " + " ".join(f"{w}." for w in rng.sample(LATIN1_WORDS, 4))
        authors[0] = (authors[0][0], "Müller", "Müller")
    paper = Paper(title, abstract, authors, "main.tex")
    enc = "latin-1" if latin1 else "utf-8"
    if layout in ("plain", "body"):
        text = "\n\n".join(_plain_section(g, i + 1, name) for i, name in enumerate(names))
        if layout == "plain":
            text = (
                f"\\magnification=1200\n\\centerline{{\\bf {title}}}\n\\bigskip\n"
                f"{abstract}\n\n{text}\n\\bye\n"
            )
        paper.files["main.tex"] = text.encode(enc)
        return paper
    project = layout == "project"
    klass = {"math": "amsart", "cs": "article", "physics": "revtex4-2"}[domain]
    pre = [
        f"\\documentclass[11pt]{{{klass}}}",
        "\\usepackage[latin1]{inputenc}" if latin1 else "\\usepackage[utf8]{inputenc}",
        "\\usepackage{amsmath,amssymb,amsthm}",
        "\\usepackage{graphicx}",
    ]
    if domain == "cs":
        pre.append("\\usepackage{algorithm,algpseudocode}")
    sty = "\n".join(["\\NeedsTeXFormat{LaTeX2e}", "\\ProvidesPackage{macros}", *MACROS])
    pre += ["\\usepackage{macros}"] if project else MACROS
    pre += THEOREMS
    author_tex = " \\and ".join(f"{f} {t}" for f, t, _ in authors)
    head = "\n".join(pre) + (
        f"\n\n\\title{{{title}}}\n\\author{{{author_tex}}}\n\\date{{}}\n\n"
        f"\\begin{{document}}\n\\maketitle\n\n\\begin{{abstract}}\n"
        f"{abstract}\n\\end{{abstract}}\n\n"
    )
    stem = rng.choice(MAINS)[:-4] if project else "main"
    paper.main = f"{stem}.tex"
    body = [sections[0]]
    for i, sec in enumerate(sections[1:], start=2):
        if not project:
            body.append(sec)
            continue
        name = f"sections/{names[i - 1].split()[0].lower()}"
        paper.files[f"{name}.tex"] = sec.encode(enc)
        body.append(
            rng.choice([f"\\input{{{name}}}", f"\\input{{{name}.tex}}", f"\\include{{{name}}}"])
        )
    if appendix:
        body.append("\\appendix\n\n" + appendix)
    bib = _bibliography(g, authors)
    if project:
        paper.files[f"{stem}.bbl"] = bib.encode(enc)
        paper.files["macros.sty"] = sty.encode(enc)
        bib = "\\bibliographystyle{plain}\n\\bibliography{refs}"
        for n in range(1, len(g.labels["fig"]) + 1):
            paper.files[f"figures/fig{n}.pdf"] = PDF + bytes(rng.randrange(256) for _ in range(64))
        paper.features += ["sty", "bbl"]
        if rng.random() < 0.3:
            paper.files[rng.choice(DECOYS)] = (
                b"\\documentclass{article}\n\\begin{document}\n\\section{Sample}\n"
                b"This is a sample file for the journal template.\n\\end{document}\n"
            )
            paper.features.append("decoy")
        if rng.random() < 0.3:  # independent of the decoy: some decoys come without it
            readme = {
                "process": {"compiler": "pdflatex"},
                "spec_version": 1,
                "sources": [{"filename": paper.main, "usage": "toplevel"}],
            }
            paper.files["00README.json"] = json.dumps(readme, indent=2).encode()
            paper.features.append("readme")
    main = f"% {title}\n{head}" + "\n\n".join(body) + f"\n\n{bib}\n\n\\end{{document}}\n"
    paper.files[paper.main] = main.encode(enc)
    return paper
