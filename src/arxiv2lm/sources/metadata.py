"""The Kaggle arXiv metadata snapshot, read as it really is, and the metadata filter.

>>> rec = parse_record({"id": "0704.0001", "categories": "hep-ph",
...     "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"}]})
>>> rec.id, rec.created
('0704.0001', '2007-04-02')
"""

from __future__ import annotations

import gzip
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa

from arxiv2lm.io import ParquetBatchWriter
from arxiv2lm.ledger import Drop, Ledger
from arxiv2lm.params import FilterParams

# Defunct archives and aliases, mapped to today's taxonomy (arXiv category taxonomy page).
# Without this, 1990s papers in `alg-geom` or `chao-dyn` fall through every category group.
CATEGORY_ALIASES: dict[str, str] = {
    "alg-geom": "math.AG",
    "dg-ga": "math.DG",
    "funct-an": "math.FA",
    "q-alg": "math.QA",
    "math.MP": "math-ph",
    "chao-dyn": "nlin.CD",
    "solv-int": "nlin.SI",
    "patt-sol": "nlin.PS",
    "adap-org": "nlin.AO",
    "comp-gas": "nlin.CG",
    "cmp-lg": "cs.CL",
    "mtrl-th": "cond-mat.mtrl-sci",
    "supr-con": "cond-mat.supr-con",
    "acc-phys": "physics.acc-ph",
    "ao-sci": "physics.ao-ph",
    "atom-ph": "physics.atom-ph",
    "bayes-an": "physics.data-an",
    "chem-ph": "physics.chem-ph",
    "plasm-ph": "physics.plasm-ph",
    "stat.TH": "math.ST",
    "cs.NA": "math.NA",
    "cs.SY": "eess.SY",
}

# "withdrawn" in the comments field is how arXiv marks a withdrawal in the metadata.
_WITHDRAWN = re.compile(r"\bwithdrawn\b|\bwithdrawal\b", re.IGNORECASE)

# The longest real snapshot lines are papers of large collaborations (thousands of
# `authors_parsed` entries, a few hundred KB); a line past this is damage, not a paper,
# and is dropped without being read whole.
MAX_LINE_BYTES = 16 * 1024 * 1024
READ_BLOCK = 256 * 1024  # how much of an over-long line is read at a time
# Every field `parse_record` reads besides `versions`; `update_date` is not read (the date
# is v1's, see MetaRecord.created), so its type does not matter here.
TEXT_FIELDS = ("id", "categories", "license", "title", "abstract", "comments")


class MetadataError(ValueError):
    """A snapshot that cannot be read at all (as opposed to one bad record)."""


@dataclass(frozen=True)
class MetaRecord:
    id: str
    categories: list[str]
    created: str  # ISO date of v1
    license: str | None
    title: str
    abstract: str
    withdrawn: bool


def canonical_category(cat: str) -> str:
    """`alg-geom` -> `math.AG`; unknown categories pass through."""
    return CATEGORY_ALIASES.get(cat, cat)


def open_snapshot(path: str | Path) -> IO[bytes]:
    """Open a snapshot as bytes: plain JSON Lines, gzipped or zstd (by magic bytes, not name).

    Bytes, not text: a non-UTF-8 byte must cost one line (decoded line by line in
    `iter_snapshot`), not stop a text reader in the middle of a buffer.
    """
    path = Path(path)
    if not path.exists():
        raise MetadataError(f"metadata snapshot {path} does not exist")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # noqa: PLC0415 - optional dependency
        except ImportError as err:
            raise MetadataError(
                f"{path} is zstd-compressed: pip install zstandard, or decompress it"
            ) from err
        stream = zstandard.ZstdDecompressor().stream_reader(path.open("rb"))
        return io.BufferedReader(stream, READ_BLOCK)  # the zstd reader has no readline
    return path.open("rb")


def _read_line(fh: IO[bytes], max_line_bytes: int) -> tuple[bytes, bool]:
    """(next line, whether it was longer than `max_line_bytes`); b"" at the end.

    A longer line is skipped block by block, so memory stays at `max_line_bytes`.

    >>> _read_line(io.BytesIO(b"abcdef\\nok\\n"), 4)
    (b'abcd', True)
    """
    line = fh.readline(max_line_bytes + 1)
    if len(line) <= max_line_bytes or line.endswith(b"\n"):
        return line, False
    rest = line
    while rest and not rest.endswith(b"\n"):
        rest = fh.readline(READ_BLOCK)
    return line[:max_line_bytes], True


def _decode_line(lineno: int, line: bytes) -> dict[str, Any] | Drop:
    """One snapshot line -> a JSON object, or a `bad_metadata` Drop naming the line."""
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as err:
        byte = line[err.start]
        return Drop("bad_metadata", f"line {lineno}: byte 0x{byte:02x} at {err.start} not UTF-8")
    try:
        raw = json.loads(text.removeprefix("\ufeff") if lineno == 1 else text)
    except json.JSONDecodeError as err:
        return Drop("bad_metadata", f"line {lineno}: {err.msg}")
    except RecursionError:  # `[[[[...` deeper than the interpreter's stack
        return Drop("bad_metadata", f"line {lineno}: JSON nested too deep")
    except ValueError as err:  # an integer past Python's 4300-digit int-string limit
        return Drop("bad_metadata", f"line {lineno}: {str(err)[:80]}")
    if not isinstance(raw, dict):
        return Drop("bad_metadata", f"line {lineno}: not a JSON object")
    return raw


def _stream_errors() -> tuple[type[Exception], ...]:
    """zstandard's error class when it is installed (it is optional)."""
    try:
        import zstandard  # noqa: PLC0415 - optional dependency
    except ImportError:
        return ()
    return (zstandard.ZstdError,)


def iter_snapshot(
    path: str | Path, max_line_bytes: int = MAX_LINE_BYTES
) -> Iterator[tuple[int, dict[str, Any] | Drop]]:
    """Yield (line number, raw record or Drop) for each non-blank line of the snapshot.

    A line that is not UTF-8, not JSON, not an object, nested past the stack, or longer than
    `max_line_bytes` (not read whole) is a `bad_metadata` Drop; a stream that stops being
    readable (truncated gzip, corrupt zstd) is a MetadataError.
    """
    stream_errors = (EOFError, OSError, *_stream_errors())
    lineno = 0
    with open_snapshot(path) as fh:
        while True:
            try:
                line, too_long = _read_line(fh, max_line_bytes)
            except stream_errors as err:
                raise MetadataError(f"{path}: unreadable after line {lineno}: {err}") from err
            if not line:
                return
            lineno += 1
            if too_long:
                yield lineno, Drop("bad_metadata", f"line {lineno}: over {max_line_bytes} bytes")
            elif line.strip():
                yield lineno, _decode_line(lineno, line)


def _created_date(versions: object) -> str | None:
    """ISO date of `versions[0].created`, or None when the field is missing or malformed."""
    if not isinstance(versions, list) or not versions or not isinstance(versions[0], dict):
        return None
    created = versions[0].get("created")
    if not isinstance(created, str):
        return None
    try:
        return parsedate_to_datetime(created).date().isoformat()
    except (ValueError, OverflowError):  # no date, or a year/offset past datetime's range
        return None


def _text_fields(raw: dict[str, Any]) -> dict[str, str | None] | str:
    """The text fields filter reads, each a string or null; else what is wrong, as text.

    A wrong type (a licence object, a numeric title) or an unpaired surrogate (`"\\ud800"`,
    valid JSON that Parquet cannot store) would otherwise stop the stage at the next
    batch write, far from the line that caused it. A numeric id means the snapshot went
    through a float parser (0704.0010 became 704.001): refused, never mangled.

    >>> _text_fields({"license": {"url": "x"}})
    'license is dict, not str'
    """
    out: dict[str, str | None] = {}
    for key in TEXT_FIELDS:
        value = raw.get(key)
        if value is not None and not isinstance(value, str):
            return f"{key} is {type(value).__name__}, not str"
        if value is not None and not _encodable(value):
            return f"{key} has an unpaired surrogate"
        out[key] = value
    return out


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_record(raw: dict[str, Any]) -> MetaRecord | Drop:
    """One snapshot record -> MetaRecord, or a `bad_metadata` Drop when it is unusable."""
    fields = _text_fields(raw)
    if isinstance(fields, str):
        return Drop("bad_metadata", fields)
    arxiv_id = (fields["id"] or "").strip()
    if not arxiv_id:
        return Drop("bad_metadata", "id is missing or blank")
    created = _created_date(raw.get("versions"))
    if created is None:
        return Drop("bad_metadata", f"{arxiv_id}: no parsable versions[0].created")
    cats = [canonical_category(c) for c in (fields["categories"] or "").split()]
    if not cats:
        return Drop("bad_metadata", f"{arxiv_id}: no categories")
    return MetaRecord(
        id=arxiv_id,
        categories=cats,
        created=created,
        license=fields["license"] or None,
        title=" ".join((fields["title"] or "").split()),
        abstract=(fields["abstract"] or "").strip(),
        withdrawn=bool(_WITHDRAWN.search(fields["comments"] or "")),
    )


def _matches(category: str, entry: str) -> bool:
    return category == entry or category.startswith(entry + ".")


def domain_of(categories: list[str], groups: dict[str, list[str]]) -> str | None:
    """The group of the primary category, else of the first cross-list that has one.

    >>> domain_of(["math.AG", "hep-th"], {"math": ["math"], "physics": ["hep-th"]})
    'math'
    """
    for cat in categories:
        for domain, entries in groups.items():
            if any(_matches(cat, e) for e in entries):
                return domain
    return None


def select(rec: MetaRecord, params: FilterParams) -> str | Drop:
    """Return the paper's domain if it passes the filter, else the named reason."""
    if params.drop_withdrawn and rec.withdrawn:
        return Drop("withdrawn", "comments say withdrawn")
    if not (params.from_date <= rec.created < params.to_date):
        return Drop("out_of_date_range", f"v1 created {rec.created}")
    if params.licenses and rec.license not in params.licenses:
        return Drop("license_excluded", f"license {rec.license}")
    domain = domain_of(rec.categories, params.groups)
    if domain is None:
        return Drop("category_excluded", " ".join(rec.categories))
    return domain


SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("domain", pa.string()),
        ("categories", pa.string()),
        ("primary_category", pa.string()),
        ("created", pa.string()),
        ("license", pa.string()),
        ("title", pa.string()),
        ("abstract", pa.string()),
    ]
)


def filter_snapshot(snapshot: Path, params: FilterParams, out: Path) -> Ledger:
    """Stream the snapshot once; write the kept papers to `out/papers.parquet` (`SCHEMA`)
    and return the ledger: every other line is a drop with its reason.

    >>> filter_snapshot(Path("snapshot.json"), params, Path("out")).kept_papers  # doctest: +SKIP
    3
    """
    ledger = Ledger("filter")
    seen: set[str] = set()
    with ParquetBatchWriter(out / "papers.parquet", SCHEMA) as writer:
        for lineno, raw in iter_snapshot(snapshot):
            if isinstance(raw, Drop):  # its detail already names the line
                ledger.drop(f"line:{lineno}", raw.reason, 0, raw.detail)
                continue
            rec = parse_record(raw)
            if isinstance(rec, Drop):
                ledger.drop(f"line:{lineno}", rec.reason, 0, f"line {lineno}: {rec.detail}")
                continue
            if rec.id in seen:
                ledger.drop(rec.id, "duplicate_id", 0, f"line {lineno}")
                continue
            seen.add(rec.id)
            domain = select(rec, params)
            if isinstance(domain, Drop):
                ledger.drop(rec.id, domain.reason, 0, domain.detail)
                continue
            ledger.keep(rec.id, 0)
            writer.write(
                {
                    "id": rec.id,
                    "domain": domain,
                    "categories": " ".join(rec.categories),
                    "primary_category": rec.categories[0],
                    "created": rec.created,
                    "license": rec.license,
                    "title": rec.title,
                    "abstract": rec.abstract,
                }
            )
    return ledger
