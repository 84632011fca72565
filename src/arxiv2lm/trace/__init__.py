"""Lineage of one paper: where it went through the pipeline, from the artifacts alone.

    python -m arxiv2lm.trace 2301.00042 [--data data] [--json]

`paper.trace_paper` follows an id through filter, validate, extract, normalize and shard
with point lookups (`lookup`: Parquet footer statistics, month-named parts), and
`__main__` prints the sectioned report.
"""

from arxiv2lm.trace.paper import PaperId, StageTrace, Trace, TraceError, parse_id, trace_paper

__all__ = ["PaperId", "StageTrace", "Trace", "TraceError", "parse_id", "trace_paper"]
