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

from arxiv2lm.ledger import Drop
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


def open_snapshot(path: str | Path) -> IO[str]:
    """Open a snapshot as text: plain JSON Lines or gzipped (by magic bytes, not name)."""
    path = Path(path)
    if not path.exists():
        raise MetadataError(f"metadata snapshot {path} does not exist")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic[:2] == b"\x1f\x8b":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    if magic == b"\x28\xb5\x2f\xfd":
        try:
            import zstandard  # noqa: PLC0415 - optional dependency
        except ImportError as err:
            raise MetadataError(
                f"{path} is zstd-compressed: pip install zstandard, or decompress it"
            ) from err
        stream = zstandard.ZstdDecompressor().stream_reader(path.open("rb"))
        return io.TextIOWrapper(stream, encoding="utf-8")
    return path.open(encoding="utf-8")


def iter_snapshot(path: str | Path) -> Iterator[tuple[int, dict[str, Any] | Drop]]:
    """Yield (line number, raw record or Drop) for each non-blank line of the snapshot."""
    with open_snapshot(path) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as err:
                yield lineno, Drop("bad_metadata", f"line {lineno}: {err.msg}")
                continue
            if not isinstance(raw, dict):
                yield lineno, Drop("bad_metadata", f"line {lineno}: not a JSON object")
                continue
            yield lineno, raw


def _created_date(raw: dict[str, Any]) -> str | None:
    versions = raw.get("versions") or []
    if not versions or not isinstance(versions[0], dict):
        return None
    try:
        return parsedate_to_datetime(str(versions[0].get("created", ""))).date().isoformat()
    except (TypeError, ValueError):
        return None


def parse_record(raw: dict[str, Any]) -> MetaRecord | Drop:
    """One snapshot record -> MetaRecord, or a Drop when it is unusable."""
    arxiv_id = raw.get("id")
    if not isinstance(arxiv_id, str) or not arxiv_id.strip():
        # A number here means someone round-tripped the snapshot through a float parser:
        # 0704.0010 would silently become 704.001.
        return Drop("bad_metadata", f"id {arxiv_id!r} is not a string")
    created = _created_date(raw)
    if created is None:
        return Drop("bad_metadata", f"{arxiv_id}: no parsable versions[0].created")
    cats = [canonical_category(c) for c in str(raw.get("categories") or "").split()]
    if not cats:
        return Drop("bad_metadata", f"{arxiv_id}: no categories")
    return MetaRecord(
        id=arxiv_id.strip(),
        categories=cats,
        created=created,
        license=raw.get("license") or None,
        title=" ".join(str(raw.get("title") or "").split()),
        abstract=str(raw.get("abstract") or "").strip(),
        withdrawn=bool(_WITHDRAWN.search(str(raw.get("comments") or ""))),
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
