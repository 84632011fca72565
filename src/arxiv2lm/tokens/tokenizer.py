r"""Train a SentencePiece tokenizer for LaTeX-heavy text that decodes back byte for byte.

>>> stats = train_tokenizer(texts, params, Path("data/tokenizer"))    # doctest: +SKIP
>>> sp = spm.SentencePieceProcessor(model_file="data/tokenizer/tokenizer.model")  # doctest: +SKIP
>>> sp.decode(sp.encode("a\n  $\\frac{1}{2}$")) == "a\n  $\\frac{1}{2}$"  # doctest: +SKIP
True

Exact round trips (normalization "identity") come from: no normalisation, no dummy prefix,
no whitespace squeezing, "\n" a required character (never <unk>) and byte fallback for
characters below `character_coverage`. One known exception: a literal U+2581 ("▁",
SentencePiece's space marker) decodes as a space; the held-out `roundtrip_rate` counts such
papers.

What beats plain SentencePiece on real papers (bench/tokenizer_study.py, README "Tokenizer
experiments"): training sentences are paragraphs with their newlines, not lines, so BPE
learns "\n\n", "}\n" and "\\\n" (a newline as a token of its own cost ~3% more tokens per
character); no split between Unicode scripts (`split_by_script: false`), so `\frac{`, `}{`, `^{`
and `_{i}` can be pieces (LaTeX mixes letters and punctuation in every command); the
mined commands with the most characters to save (count x (length - 1)) as user symbols; and
prose cut apart from its punctuation in the training sentences (`split_prose_punct`,
`prose_cut`): math keeps its mixed pieces, while the vocabulary holds no `model,` or `(see`,
which cost the model bits on prose (bench/tokenizer_bpb.py).

SentencePiece has no training seed: the result is fixed by the sample (chosen by a hash of
the id and `seed`) and `num_threads=1`; `seed` also seeds SentencePiece's own generator.
The sample comes from the shard stage's train split only (`plan_sample`), so no paper the
model is validated on has shaped the vocabulary.
"""

from __future__ import annotations

import hashlib
import io
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import sentencepiece as spm
from google.protobuf.message import DecodeError
from sentencepiece.sentencepiece_model_pb2 import ModelProto

from arxiv2lm.io import atomic_path
from arxiv2lm.params import TokenizerParams
from arxiv2lm.text.mathspan import math_spans
from arxiv2lm.tokens.shards import split_of
from arxiv2lm.tokens.symbols import count_latex_symbols, top_by_saving, top_symbols

NEWLINE = "\n"
# Commands whose single-token share `metrics.evaluate` reports (the top 200).
N_TOP_COMMANDS = 200
UNK_ID, BOS_ID, EOS_ID = 0, 1, 2
# Training sentences are paragraphs cut to at most this many characters; SentencePiece skips
# sentences longer than max_sentence_length *bytes*, so that is 4 bytes per character.
MAX_SENTENCE_CHARS = 4096
MAX_SENTENCE_BYTES = 4 * MAX_SENTENCE_CHARS
NORMALIZATION_RULES = {"identity": "identity", "nfkc": "nmt_nfkc"}
_PARAGRAPH_END = re.compile(r"(?<=\n\n)(?!\n)")  # cut after a run of blank lines
# Between a word character and punctuation (either order): where prose is cut (`prose_cut`).
_PROSE_CUT = re.compile(r"(?<=\w)(?=[^\w\s])|(?<=[^\w\s])(?=\w)")
# tokenizer.vocab is one piece per line: show the whitespace pieces as escapes.
_VISIBLE = str.maketrans({"\n": "\\n", "\t": "\\t", "\r": "\\r"})


def is_heldout(doc_id: str, heldout_fraction: float, seed: int) -> bool:
    """True for a stable `heldout_fraction` of ids: evaluation papers, never trained on."""
    digest = hashlib.sha1(f"tokenizer-heldout\x00{seed}\x00{doc_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < heldout_fraction


def sample_order(doc_id: str, seed: int) -> bytes:
    """Sort key that makes "the first sample_mb of the corpus" a seeded random sample."""
    return hashlib.sha1(f"tokenizer-sample\x00{seed}\x00{doc_id}".encode()).digest()


def sentences(text: str) -> Iterator[str]:
    r"""Training sentences: paragraphs with their newlines (each ends after its blank line),
    several short ones packed up to MAX_SENTENCE_CHARS, a longer one cut into pieces.

    SentencePiece never learns a piece across two sentences; keeping newlines inside them
    lets "\n\n" or "}\n" become pieces.
    >>> list(sentences("a\nb\n\nc"))
    ['a\nb\n\nc']
    """
    buf = ""
    for para in _PARAGRAPH_END.split(text):
        if len(buf) + len(para) > MAX_SENTENCE_CHARS and buf:
            yield buf
            buf = ""
        while len(para) > MAX_SENTENCE_CHARS:
            yield para[:MAX_SENTENCE_CHARS]
            para = para[MAX_SENTENCE_CHARS:]
        buf += para
    if buf:
        yield buf


def prose_cut(text: str) -> Iterator[str]:
    r"""`text` in consecutive parts, cut between a word character and punctuation outside
    its math spans (`math_spans`): whitespace stays with the word after it, math is never
    cut. Training on the parts keeps SentencePiece from learning prose pieces that glue a
    word to its punctuation (`model,`, `(see`), while math keeps `\frac{` and `^{2}`.

    >>> list(prose_cut(r"we see (Fig. 2) $\frac{a}{b}$."))
    ['we see (', 'Fig', '. 2', ') $\\frac{a}{b}$.']
    """
    cuts, pos = [], 0
    for a, b in [*math_spans(text), (len(text), len(text))]:
        cuts += [m.start() for m in _PROSE_CUT.finditer(text, pos, a) if m.start() > pos]
        pos = b
    prev = 0
    for cut in [*cuts, len(text)]:
        if cut > prev:
            yield text[prev:cut]
        prev = cut


def bounded(texts: Iterable[str], max_bytes: int) -> list[str]:
    """The first texts up to `max_bytes` UTF-8 bytes (the last one cut to fit)."""
    out, used = [], 0
    for text in texts:
        raw = text.encode("utf-8")
        if used + len(raw) > max_bytes:
            out.append(raw[: max_bytes - used].decode("utf-8", errors="ignore"))
            break
        out.append(text)
        used += len(raw)
    return out


def latex_symbols(params: TokenizerParams, mined: list[str]) -> list[str]:
    if params.latex_symbols == "mined":
        return mined[: params.n_mined_symbols]
    if params.latex_symbols == "list":
        return list(params.symbol_list)
    return []


def _train(sample: list[str], num_threads: int, cut_prose: bool = False, **spec: Any) -> bytes:
    """Run the SentencePiece trainer on `sample`'s sentences (of `prose_cut`'s parts when
    `cut_prose`); return the model bytes."""
    model = io.BytesIO()
    parts = (p for text in sample for p in prose_cut(text)) if cut_prose else iter(sample)
    sents = [s for part in parts for s in sentences(part) if s]
    if not sents:
        raise ValueError("the tokenizer sample has no text to train on")
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(sents),
            model_writer=model,
            num_threads=num_threads,
            max_sentence_length=MAX_SENTENCE_BYTES,
            minloglevel=2,
            **spec,
        )
    except RuntimeError as err:
        vocab = spec.get("vocab_size")
        raise ValueError(
            f"vocab_size {vocab} cannot be trained on this sample "
            f"({sum(map(len, sents))} chars in {len(sents)} lines): {err}"
        ) from err
    return model.getvalue()


def write_model(model: bytes, out_dir: Path) -> None:
    """Write tokenizer.model and a human-readable tokenizer.vocab (piece \t score)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "tokenizer.model") as tmp:
        tmp.write_bytes(model)
    sp = spm.SentencePieceProcessor(model_proto=model)
    lines = [
        f"{sp.id_to_piece(i).translate(_VISIBLE)}\t{sp.get_score(i)}"
        for i in range(sp.get_piece_size())
    ]
    with atomic_path(out_dir / "tokenizer.vocab") as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


def train_tokenizer(
    texts: Iterable[str], params: TokenizerParams, out_dir: Path, num_threads: int = 1
) -> dict[str, Any]:
    r"""Train on up to `sample_mb` of `texts`; write tokenizer.model/.vocab into `out_dir`.

    Returns what it learnt: the user symbols, the corpus's top-200 commands (for
    `metrics.evaluate`), the sample size, the model's SHA-256 and the training time.
    >>> train_tokenizer([r"\frac{a}{b} ..."] * 500, params, tmp)["symbols"][:1]  # doctest: +SKIP
    ['\\frac']
    """
    if params.vocab_size < 8:
        raise ValueError(f"vocab_size {params.vocab_size} is too small (need >= 8)")
    sample = bounded(texts, int(params.sample_mb * 2**20))
    counts = count_latex_symbols(sample)
    top = top_symbols(counts, N_TOP_COMMANDS)
    symbols = latex_symbols(params, top_by_saving(counts, params.n_mined_symbols))
    user = [s for s in symbols if s != NEWLINE]
    if len(user) + 3 >= params.vocab_size:
        raise ValueError(
            f"vocab_size {params.vocab_size} leaves no room for {len(user)} user symbols"
        )
    spm.set_random_generator_seed(params.seed)
    t0 = time.perf_counter()
    model = _train(
        sample,
        num_threads,
        cut_prose=params.split_prose_punct,
        model_type=params.model_type,
        vocab_size=params.vocab_size,
        user_defined_symbols=user,
        split_digits=params.split_digits,
        split_by_unicode_script=params.split_by_script,
        split_by_whitespace=params.split_by_whitespace,
        max_sentencepiece_length=params.max_piece_chars,
        required_chars=NEWLINE,
        byte_fallback=params.byte_fallback,
        character_coverage=params.character_coverage,
        normalization_rule_name=NORMALIZATION_RULES[params.normalization],
        remove_extra_whitespaces=False,
        add_dummy_prefix=False,
        allow_whitespace_only_pieces=True,
        unk_id=UNK_ID,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
        pad_id=-1,
    )
    train_s = time.perf_counter() - t0
    write_model(model, out_dir)
    stats: dict[str, Any] = {
        "vocab_size": params.vocab_size,
        "model_type": params.model_type,
        "eos_id": EOS_ID,
        "bos_id": BOS_ID,
        "unk_id": UNK_ID,
        "sample_docs": len(sample),
        "sample_bytes": sum(len(t.encode("utf-8")) for t in sample),
        "symbols": symbols,
        "top_commands": top,
        "model_sha256": hashlib.sha256(model).hexdigest(),
        "train_s": round(train_s, 3),
    }
    return stats


def pin_tokenizer(
    model_path: Path, texts: Iterable[str], params: TokenizerParams, out_dir: Path
) -> dict[str, Any]:
    """Keep an already trained model instead of training one: write it into `out_dir` as
    `train_tokenizer` would and return the same stats, with `pinned` naming its source and
    the top-200 commands counted on `texts` (the stage passes this run's held-out papers, on
    which the report then scores the pinned model).

    >>> pin_tokenizer(Path("tokenizer-2611.model"), texts, params, out)["pinned"]  # doctest: +SKIP
    'tokenizer-2611.model'
    """
    model = Path(model_path).read_bytes()
    proto = ModelProto()
    try:
        proto.ParseFromString(model)
        sp = spm.SentencePieceProcessor(model_proto=model)
    except (DecodeError, RuntimeError) as err:
        msg = f"tokenizer.reuse {model_path}: not a SentencePiece model ({err})"
        raise ValueError(msg) from err
    if sp.eos_id() < 0:
        raise ValueError(f"tokenizer.reuse {model_path} has no EOS id to separate documents")
    sample = bounded(texts, int(params.sample_mb * 2**20))
    write_model(model, out_dir)
    user = ModelProto.SentencePiece.USER_DEFINED
    model_types = {1: "unigram", 2: "bpe", 3: "word", 4: "char"}
    return {
        "vocab_size": sp.get_piece_size(),
        "model_type": model_types.get(proto.trainer_spec.model_type, "unknown"),
        "eos_id": sp.eos_id(),
        "bos_id": sp.bos_id(),
        "unk_id": sp.unk_id(),
        "sample_docs": len(sample),
        "sample_bytes": sum(len(t.encode("utf-8")) for t in sample),
        "symbols": [p.piece for p in proto.pieces if p.type == user and p.piece != NEWLINE],
        "top_commands": top_symbols(count_latex_symbols(sample), N_TOP_COMMANDS),
        "model_sha256": hashlib.sha256(model).hexdigest(),
        "pinned": str(model_path),
        "train_s": 0.0,
    }


def train_baseline(texts: Iterable[str], params: TokenizerParams, num_threads: int = 1) -> bytes:
    """A plain SentencePiece model (default settings but vocab_size) on the same sample.

    `hard_vocab_limit=False` lets the unigram trainer stop short of `vocab_size` on a small
    sample (the comparison still runs); the project model must reach it exactly.
    """
    sample = bounded(texts, int(params.sample_mb * 2**20))
    spm.set_random_generator_seed(params.seed)
    return _train(sample, num_threads, vocab_size=params.vocab_size, hard_vocab_limit=False)


class SamplePlan(NamedTuple):
    """Ids to train on and to score, and the split the scored ones come from."""

    train: list[str]  # in `sample_order`, up to `sample_mb` of text
    heldout: list[str]  # in `sample_order`, up to `max_eval_bytes`
    heldout_split: str  # "val", or "train" when the val split is empty


def plan_sample(
    rows: Iterable[tuple[str, int]],
    params: TokenizerParams,
    max_eval_bytes: int,
    val_fraction: float,
    split_salt: str,
) -> SamplePlan:
    """Pick training and held-out ids from (id, bytes) rows, never training on a val paper.

    The train/val split is the shard stage's (`split_of(id, val_fraction, split_salt)`), so
    the tokenizer learns only from papers the model trains on. `heldout_fraction` is the
    share of the corpus the tokenizer is scored on; it is drawn from the val split (a val
    paper is scored with probability heldout_fraction / val_fraction, so at most the whole
    val split). When the val split is empty (val_fraction 0, or a corpus too small to draw
    one), the held-out papers are `is_heldout`'s share of the train split and are left out
    of training.
    >>> plan_sample([("a", 10), ("b", 10)], params, 2**20, 0.0, "s")   # doctest: +SKIP
    SamplePlan(train=['b', 'a'], heldout=[], heldout_split='train')
    """
    if not 0.0 <= params.heldout_fraction <= 1.0:
        raise ValueError(f"heldout_fraction {params.heldout_fraction} must be in [0, 1]")
    ranked: dict[str, list[tuple[bytes, str, int]]] = {"train": [], "val": []}
    for doc_id, nbytes in rows:
        split = split_of(doc_id, val_fraction, split_salt)
        ranked[split].append((sample_order(doc_id, params.seed), doc_id, int(nbytes)))
    if ranked["val"]:
        rate = min(1.0, params.heldout_fraction / val_fraction)
        train = ranked["train"]
        held = [r for r in ranked["val"] if is_heldout(r[1], rate, params.seed)]
        source = "val"
    else:
        train, held, source = [], [], "train"
        for r in ranked["train"]:
            (held if is_heldout(r[1], params.heldout_fraction, params.seed) else train).append(r)
    return SamplePlan(
        _take(sorted(train), int(params.sample_mb * 2**20)),
        _take(sorted(held), max_eval_bytes),
        source,
    )


def _take(ranked: list[tuple[bytes, str, int]], max_bytes: int) -> list[str]:
    out, used = [], 0
    for _, doc_id, nbytes in ranked:
        if used >= max_bytes:
            break
        out.append(doc_id)
        used += nbytes
    return out
