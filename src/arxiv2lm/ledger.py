"""Named drop reasons: every document a stage drops is counted, with its id and bytes.

>>> led = Ledger("extract")
>>> led.keep("2301.00001", 1200)
>>> led.drop("2301.00002", "no_main_tex", 800)
>>> led.summary()["dropped"]["no_main_tex"]["papers"]
1

Each stage writes `rejected.parquet` (id, reason, bytes, detail) and `stats.json`
(papers and bytes in, kept, and dropped per reason); the `report` stage turns them into
the yield funnel.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from arxiv2lm.io import write_json, write_parquet

_REASON = re.compile(r"^[a-z][a-z0-9_]*$")

REJECTED_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("reason", pa.string()),
        ("bytes", pa.int64()),
        ("detail", pa.string()),
    ]
)


@dataclass(frozen=True)
class Drop:
    """A per-record failure: a stable snake_case reason and a human detail."""

    reason: str
    detail: str = ""

    def __post_init__(self) -> None:
        if not _REASON.match(self.reason):
            raise ValueError(f"drop reason {self.reason!r} is not snake_case")


class Ledger:
    """Counts of kept and dropped documents of one stage, with the dropped ids."""

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.kept_papers = 0
        self.kept_bytes = 0
        self.kept_tokens = 0
        self.rows: list[tuple[str, str, int, str]] = []
        self._papers: Counter[str] = Counter()
        self._bytes: Counter[str] = Counter()

    def keep(self, doc_id: str, nbytes: int, tokens: int = 0) -> None:
        self.kept_papers += 1
        self.kept_bytes += int(nbytes)
        self.kept_tokens += int(tokens)

    def drop(self, doc_id: str, reason: str, nbytes: int, detail: str = "") -> None:
        Drop(reason)  # validates the name
        self.rows.append((doc_id, reason, int(nbytes), detail))
        self._papers[reason] += 1
        self._bytes[reason] += int(nbytes)

    @property
    def dropped_papers(self) -> int:
        return sum(self._papers.values())

    def summary(self) -> dict[str, Any]:
        dropped = {
            r: {"papers": self._papers[r], "bytes": self._bytes[r]} for r in sorted(self._papers)
        }
        return {
            "stage": self.stage,
            "in": {
                "papers": self.kept_papers + self.dropped_papers,
                "bytes": self.kept_bytes + sum(self._bytes.values()),
            },
            "kept": {
                "papers": self.kept_papers,
                "bytes": self.kept_bytes,
                "tokens": self.kept_tokens,
            },
            "dropped": dropped,
        }

    def write(self, out_dir: str | Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Write `rejected.parquet` and `stats.json` into `out_dir`; return the summary."""
        out_dir = Path(out_dir)
        columns = list(zip(*self.rows, strict=True)) if self.rows else [[], [], [], []]
        table = pa.table(
            {name: list(col) for name, col in zip(REJECTED_SCHEMA.names, columns, strict=True)},
            schema=REJECTED_SCHEMA,
        )
        write_parquet(table, out_dir / "rejected.parquet")
        summary = self.summary()
        if extra:
            summary.update(extra)
        write_json(summary, out_dir / "stats.json")
        return summary
