"""A tiny pipeline's outputs for the token funnel: chunks, parts, rejected files, a tokenizer.

Two chunks of one month (a paper in both: the first member counts), and one paper per drop
path: filter drops with and without a member, validate drops with member bytes and without
(`missing_source`), an extract drop (no text, TeX bytes), a normalize drop (text in extract's
parts), a shard drop (empty text), and normalize trimming text from a kept paper.
"""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sentencepiece as spm

from arxiv2lm.ledger import REJECTED_SCHEMA
from arxiv2lm.sources.manifest import ChunkEntry, md5_file, write_manifest

WORDS = ["we", "show", "that", "the", "field", "energy", "is", "bounded", "by", "its", "norm"]
MATH = [r"$\frac{a}{b}$", r"$x^2 \leq y$", r"$\alpha_i$", "$n = 42$"]
KEPT = ["2301.00001", "2301.00002v2", "2301.00003", "2301.00004"]  # through validate/extract
NORM_DROP, EXTRACT_DROP = "2301.00007", "2301.00008"
SIZES = {  # compressed member bytes written to the chunks
    "2301.00001": 900,
    "2301.00002": 2500,
    "2301.00003": 1300,
    "2301.00004": 700,
    "2301.00005": 300,  # validate: pdf_only (member bytes in its rejected row)
    "2301.00007": 1800,
    "2301.00008": 1100,
    "2301.00009": 2000,  # filter: category_excluded, has a member
}


def text(rng: random.Random, n_words: int) -> str:
    return " ".join(rng.choice(WORDS + MATH) for _ in range(n_words))


def train_model(path: Path, seed: int = 0) -> None:
    rng = random.Random(seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter([text(rng, 30) for _ in range(300)]),
        model_writer=model,
        vocab_size=320,
        model_type="bpe",
        byte_fallback=True,
        normalization_rule_name="identity",
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(model.getvalue())


def _write(rows: list[dict], path: Path, schema: pa.Schema | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)


def _rejected(rows: list[tuple[str, str, int]], stage_dir: Path) -> None:
    dicts = [{"id": i, "reason": r, "bytes": b, "detail": ""} for i, r, b in rows]
    _write(dicts, stage_dir / "rejected.parquet", REJECTED_SCHEMA)


def _chunk(path: Path, members: list[tuple[str, int]]) -> ChunkEntry:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w") as tar:
        folder = tarfile.TarInfo("2301")
        folder.type = tarfile.DIRTYPE
        tar.addfile(folder)
        for name, size in members:
            info = tarfile.TarInfo(name)
            info.size = size
            tar.addfile(info, io.BytesIO(b"\x1f\x8b" + b"x" * (size - 2)))
    return ChunkEntry(
        filename=f"src/{path.name}",
        md5sum=md5_file(path),
        content_md5sum="",
        size=path.stat().st_size,
        num_items=len(members),
        first_item="",
        last_item="",
        yymm="2301",
        seq_num=int(path.stem[-3:]),
        timestamp="",
    )


def build(root: Path, seed: int = 0) -> dict[str, Path]:
    """Write the stage folders under `root`; returns {stage: folder} plus 'ingest', 'model'."""
    rng = random.Random(seed)
    dirs = {s: root / s for s in ("filter", "validate", "extract", "normalize", "shard")}
    dirs["ingest"], dirs["model"] = root / "ingest", root / "tokenizer" / "tokenizer.model"
    train_model(dirs["model"], seed)

    src = dirs["ingest"] / "src"
    first = [(f"2301/{i}.gz", n) for i, n in SIZES.items() if i != "2301.00003"]
    first.append(("2301/README", 50))  # not a paper member
    second = [("2301/2301.00003v1.gz", SIZES["2301.00003"]), ("2301/2301.00001.gz", 99)]
    entries = [
        _chunk(src / "arXiv_src_2301_001.tar", first),
        _chunk(src / "arXiv_src_2301_002.tar", second),  # 2301.00001 again: not counted
    ]
    write_manifest(entries, src / "arXiv_src_manifest.xml")

    _rejected(
        [("2301.00009", "category_excluded", 0), ("2302.00001v2", "withdrawn", 0)], dirs["filter"]
    )
    _rejected(
        [("2301.00005", "pdf_only", SIZES["2301.00005"]), ("2301.00006", "missing_source", 0)],
        dirs["validate"],
    )
    _write(
        [{"id": i} for i in [*KEPT, NORM_DROP, EXTRACT_DROP]],
        dirs["validate"] / "parts" / "arXiv_src_2301_001.parquet",
    )

    extracted = {i: text(rng, rng.randint(40, 200)) for i in [*KEPT, NORM_DROP]}
    extracted["2301.00004"] = "$$ $$"  # normalize makes it empty; shard drops it
    _write(
        [{"id": i, "text": t, "bytes_in": 3 * len(t)} for i, t in extracted.items()],
        dirs["extract"] / "parts" / "arXiv_src_2301_001.parquet",
    )
    _rejected([(EXTRACT_DROP, "timeout", 5000)], dirs["extract"])

    normalized = {i: extracted[i] for i in KEPT}
    normalized["2301.00001"] = normalized["2301.00001"][: len(normalized["2301.00001"]) // 2]
    normalized["2301.00004"] = ""
    _write(
        [{"id": i, "text": t} for i, t in normalized.items()],
        dirs["normalize"] / "parts" / "arXiv_src_2301_001.parquet",
    )
    _rejected([(NORM_DROP, "exact_duplicate", len(extracted[NORM_DROP]))], dirs["normalize"])
    _rejected([("2301.00004", "empty_after_tokenize", 0)], dirs["shard"])
    return dirs
