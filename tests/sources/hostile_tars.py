"""Byte-level builders of hostile tar archives (what `tarfile` refuses to write).

>>> len(header("main.tex", 59)), len(END)
(512, 1024)
"""

from __future__ import annotations

import gzip
import random
import tarfile
import time
import tracemalloc

TEX = b"\\documentclass{article}\\begin{document}Hello\\end{document}\n"
END = b"\0" * 1024  # the end-of-archive blocks


def pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 512)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def header(
    name: str,
    size: int,
    kind: bytes = tarfile.REGTYPE,
    fmt: int = tarfile.GNU_FORMAT,
    patch: dict[int, bytes] | None = None,
) -> bytes:
    """One 512-byte header; `patch` overwrites raw bytes at offsets, then the checksum is
    recomputed (so tarfile reads the header and meets the patched field)."""
    info = tarfile.TarInfo(name)
    info.size, info.type = size, kind
    buf = bytearray(info.tobuf(fmt, "utf-8", "surrogateescape"))
    for offset, value in (patch or {}).items():
        buf[offset : offset + len(value)] = value
    buf[148:156] = b" " * 8
    buf[148:156] = b"%06o\0 " % sum(buf)
    return bytes(buf)


def member(name: str, data: bytes, **kw: object) -> bytes:
    return header(name, len(data), **kw) + pad(data)  # type: ignore[arg-type]


def record(key: bytes, value: bytes) -> bytes:
    """One pax record, `<len> <key>=<value>\\n`, its length counting itself."""
    rest = b" %s=%s\n" % (key, value)
    n = len(rest) + 1
    while len(str(n)) + len(rest) != n:
        n += 1
    return b"%d%s" % (n, rest)


def pax(body: bytes, kind: bytes = tarfile.XHDTYPE) -> bytes:
    """An extended header (pax `x`/`g`, GNU `L`/`K`) with a raw body."""
    return header("././@PaxHeader", len(body), kind=kind, fmt=tarfile.USTAR_FORMAT) + pad(body)


def digits(n: int) -> bytes:
    """`n` random digits: the CVE-2024-6232 pax body (random, so gzip keeps it ~0.42 n)."""
    rng = random.Random(n)
    return bytes(rng.choice(b"0123456789") for _ in range(n))


def gnu_sparse(name: str, realsize: int, stored: bytes = b"x" * 512) -> bytes:
    """A GNU `S` member: `stored` bytes on disk that tarfile expands to `realsize`."""
    patch = {386: b"%011o\0" % 0 + b"%011o\0" % len(stored), 483: b"%011o\0" % realsize}
    return header(name, len(stored), kind=tarfile.GNUTYPE_SPARSE, patch=patch) + pad(stored)


def pax_sparse(name: str, realsize: int, sparse_map: bytes = b"0,0") -> bytes:
    """A pax (GNU format 0.1) sparse member of `realsize` bytes holding no data at all."""
    body = (
        record(b"GNU.sparse.major", b"0")
        + record(b"GNU.sparse.minor", b"1")
        + record(b"GNU.sparse.map", sparse_map)
        + record(b"GNU.sparse.size", str(realsize).encode())
    )
    return pax(body) + member(name, b"")


def timed(fn, *args):
    """(result, wall seconds) of `fn(*args)`."""
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def peak_bytes(fn, *args):
    """(result, peak bytes Python allocated while `fn` ran)."""
    tracemalloc.start()
    try:
        return fn(*args), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
