"""Decode a TeX file's bytes to text, never to mojibake: declared codecs first, then detection.

Order: a BOM; ISO-2022-JP escapes; the file's own declaration (`\\usepackage[..]{inputenc}`,
the CJK package's `\\begin{CJK}{GBK}`, `ctex`'s `[GBK]`, `CJKutf8`) unless the bytes are
valid UTF-8; valid UTF-8; UTF-8 with a few stray cp1252 bytes (a pasted quote); the project's
declaration (an `\\input` chapter of a cp1251 paper declares nothing itself); then, on a
sample of the non-ASCII lines: Japanese (hiragana-rich EUC-JP or Shift-JIS, which the
detector misses), cp1252 where there is too little evidence to detect and it reads as Western,
else `charset-normalizer` among the codecs LaTeX reads. Bytes that fit none of these, or hold
control bytes, raise `Undecodable`: the caller drops them, it never guesses.

>>> decode(b"\\\\usepackage[latin1]{inputenc} Poincar\\xe9")
('\\\\usepackage[latin1]{inputenc} Poincaré', 'latin_1')
>>> decode("Пусть дано множество точек.".encode("koi8_r"))
('Пусть дано множество точек.', 'koi8_r')
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterable, Iterator
from types import EllipsisType

from charset_normalizer import from_bytes

# inputenc option -> Python codec (inputenc.sty's .def files and the cyrillic bundle's)
INPUTENC_CODECS: dict[str, str] = {
    "utf8": "utf-8", "utf8x": "utf-8", "ascii": "ascii",
    "latin1": "latin_1", "latin2": "iso8859_2", "latin3": "iso8859_3", "latin4": "iso8859_4",
    "latin5": "iso8859_9", "latin9": "iso8859_15", "latin10": "iso8859_16",
    "cp1250": "cp1250", "cp1251": "cp1251", "cp1252": "cp1252", "ansinew": "cp1252",
    "cp1257": "cp1257", "cp437": "cp437", "cp850": "cp850", "cp852": "cp852", "cp855": "cp855",
    "cp858": "cp858", "cp865": "cp865", "cp866": "cp866",
    "koi8-r": "koi8_r", "koi8-u": "koi8_u", "iso88595": "iso8859_5", "maccyr": "mac_cyrillic",
    "pt154": "ptcp154", "iso-8859-7": "iso8859_7", "macgreek": "mac_greek",
    "applemac": "mac_roman", "macce": "mac_latin2", "decmulti": "latin_1", "next": "latin_1",
}  # fmt: skip
# CJK package encodings (`\begin{CJK}{GBK}{song}`) and ctex's options -> Python codec
CJK_CODECS: dict[str, str] = {
    "utf8": "utf-8", "gb": "gb2312", "gbk": "gbk", "bg5": "big5", "bg5+": "big5hkscs",
    "hk": "big5hkscs", "ks": "euc_kr", "jis": "euc_jp", "sjis": "cp932",
}  # fmt: skip

_DECLARATIONS = [
    rb"\\usepackage\s*\[(?P<inputenc>[^\]]*)\]\s*\{inputenc\}",
    rb"\\begin\s*\{CJK\*?\}\s*(?:\[[^\]]*\]\s*)?\{(?P<cjk>[^}]*)\}",
    rb"\\(?:usepackage|documentclass)\s*\[(?P<ctex>[^\]]*)\]\s*\{ctex(?:art|rep|book|beamer)?\}",
    rb"\\usepackage\s*(?:\[[^\]]*\]\s*)?\{(?P<cjkutf8>CJKutf8)\}",
]
_DECLARED = re.compile(b"|".join(_DECLARATIONS))
_TABLES = {"inputenc": INPUTENC_CODECS, "cjk": CJK_CODECS, "ctex": CJK_CODECS}
# The detector chooses only among codecs LaTeX itself reads (inputenc, CJK): on a short
# sample it otherwise prefers e.g. Shift_JIS-2004 half-width katakana to KOI8-R.
DETECTABLE = sorted({*INPUTENC_CODECS.values(), *CJK_CODECS.values()} - {"utf-8", "ascii"})
# A detected subset reads as its superset: same chars, and the extensions too.
SUPERSETS = {"gb2312": "gbk", "euc_kr": "cp949", "big5": "big5hkscs"}

SAMPLE_BYTES = 16_384  # detection reads at most this much of a file: lines with non-ASCII
MIXED_MIN_RATIO = 2  # valid UTF-8 chars per stray byte: text in any 8-bit codec has ~0
MAX_CONTROL_SHARE = 0.01  # control bytes per byte; text has ~0, random bytes 11%
MAX_CANDIDATES = 4  # whole-file decodes tried, so a 50 MB file costs a few decodes at most
MAX_REPLACED_SHARE = 0.001  # undecodable bytes per non-ASCII char allowed outside the sample
MIN_HIRAGANA_SHARE = 0.15  # of non-ASCII chars; Japanese prose is ~40% hiragana
# Below this many non-ASCII bytes the detector guesses (one NBSP byte before `f` is Big5 to
# it), so the commonest legacy codec, cp1252, wins if its reading looks Western: no run of
# 3+ non-ASCII chars, which Cyrillic and CJK words make, and no symbol inside a word, which
# cp1250 letters read as cp1252 make (`ka¿dy`, `sta³ych` for każdy, stałych).
MIN_EVIDENCE_BYTES = 32
_HIGH_BYTES = bytes(range(0x80, 0x100))
_LONG_RUN = re.compile("[^\x00-\x7f]{3}")
_NON_ASCII_CHAR = re.compile("[^\x00-\x7f]")
_IN_WORD_OK = "\u2019\u2018\u00b4\u00b7\u00ad\u2010\u2013\u2014"  # ’ ‘ ´ · soft hyphen, dashes
# Control bytes but \t\n\v\f\r, ^Z (DOS end of file) and ESC; single chars in every codec
# tried here (multi-byte codecs' trail bytes are >= 0x40), so counted on the bytes, in C.
_CONTROL_BYTES = bytes([*range(0x00, 0x09), *range(0x0E, 0x1A), *range(0x1C, 0x20), 0x7F])
_HIRAGANA = re.compile("[\u3041-\u309f]")
_HIGH = re.compile(rb"[\x80-\xff]")
# Bytes 0x40-0x7e are also trail bytes of Shift-JIS, GBK and Big5 chars (0x5c: `表`), so
# markup in that range goes only where no lead byte (0x81+) precedes it.
_MARKUP_BYTES = [
    rb"(?<![\x80-\xff])\\(?:[A-Za-z@]+\*?|.)",  # control sequence
    rb"(?<![\x80-\xff])[{}\[\]^_~|]",  # grouping, sub/superscript, tie
    rb"[$&#%]",  # below 0x40: never a trail byte
]
_MARKUP = re.compile(b"|".join(_MARKUP_BYTES))


class Undecodable(ValueError):
    """The bytes fit no text encoding (binary, or text in none of the known codecs)."""


def declared(data: bytes) -> str | None:
    """The codec the first uncommented encoding declaration names, if known.

    >>> declared(b"\\\\begin{CJK*}{GBK}{song}"), declared(b"%\\\\usepackage[latin1]{inputenc}")
    ('gbk', None)
    """
    for m in _DECLARED.finditer(data):
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        if b"%" in data[line_start : m.start()]:
            continue  # commented out
        if m.group("cjkutf8"):
            return "utf-8"
        kind = m.lastgroup or ""
        for opt in reversed(m.group(kind).decode("ascii", "replace").split(",")):
            codec = _TABLES[kind].get(opt.strip().lower())
            if codec:
                return codec
    return None


def project_hint(contents: Iterable[bytes]) -> str | None:
    """The one 8-bit or CJK codec the project's files declare; None if none or they disagree.

    >>> project_hint([b"\\\\usepackage[cp1251]{inputenc}", b"no declaration"])
    'cp1251'
    """
    return hint_of(declared(data) for data in contents)


def hint_of(declarations: Iterable[str | None]) -> str | None:
    """`project_hint` from each file's `declared` codec (a caller that has them already).

    >>> hint_of(["cp1251", None, "utf-8"]), hint_of(["cp1251", "koi8_r"])
    ('cp1251', None)
    """
    found = set(declarations) - {None, "utf-8", "ascii"}
    return found.pop() if len(found) == 1 else None


def _strict(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except UnicodeDecodeError:
        return None


# each byte as cp1252, or as latin-1 where cp1252 leaves it undefined (0x81, 0x8d, ...)
_CP1252_BYTES = [bytes([b]).decode("cp1252", "ignore") or chr(b) for b in range(256)]


def _stray_as_cp1252(err: UnicodeError) -> tuple[str, int]:
    assert isinstance(err, UnicodeDecodeError)
    return "".join(_CP1252_BYTES[b] for b in err.object[err.start : err.end]), err.end


codecs.register_error("arxiv2lm_cp1252", _stray_as_cp1252)


def _mixed_utf8(data: bytes) -> str | None:
    """UTF-8 with a few stray single-byte chars (one pasted cp1252 quote), else None."""
    text = data.decode("utf-8", "replace")
    stray = text.count("\ufffd")
    valid = _non_ascii(text) - stray
    if valid < MIXED_MIN_RATIO * stray:
        return None
    return data.decode("utf-8", "arxiv2lm_cp1252")


def _sample(data: bytes) -> bytes:
    """The lines with non-ASCII bytes (where codecs differ), up to SAMPLE_BYTES, without
    TeX markup, which the detector counts as noise (`$x$.` lines hide a Polish sentence)."""
    out, size, pos = [], 0, 0
    while size < SAMPLE_BYTES and (m := _HIGH.search(data, pos)):
        start = data.rfind(b"\n", 0, m.start()) + 1
        end = data.find(b"\n", m.end())
        pos = len(data) if end < 0 else end
        out.append(data[start:pos])
        size += pos - start + 1
    return _MARKUP.sub(b" ", b"\n".join(out)[:SAMPLE_BYTES])


def _non_ascii(text: str) -> int:
    return len(text) - len(text.encode("ascii", "ignore"))


def _japanese(sample: bytes) -> str | None:
    """EUC-JP or Shift-JIS when the sample decodes to hiragana-rich text: charset-normalizer
    rejects Japanese lines over 24 chars without punctuation as noise, and EUC-JP's kana rows
    are GB2312's too, so only the hiragana share tells Japanese from Chinese or Korean."""
    for codec in ("euc_jp", "cp932"):  # EUC-JP first: Shift-JIS lead bytes are invalid in it
        text = _strict(sample, codec)
        if text is None:
            continue
        non_ascii = _non_ascii(text)
        if non_ascii and len(_HIRAGANA.findall(text)) >= MIN_HIRAGANA_SHARE * non_ascii:
            return codec
    return None


def _western(sample: bytes) -> bool:
    """Few non-ASCII bytes, and cp1252 reads them as Western text (see MIN_EVIDENCE_BYTES)."""
    if len(sample) - len(sample.translate(None, _HIGH_BYTES)) >= MIN_EVIDENCE_BYTES:
        return False
    text = _strict(sample, "cp1252")
    return text is not None and not _LONG_RUN.search(text) and not _symbol_in_word(text)


def _symbol_in_word(text: str) -> bool:
    """A non-ASCII symbol, digit or punctuation mark between two letters (`ka¿dy`)."""
    for m in _NON_ASCII_CHAR.finditer(text):
        i, ch = m.start(), m.group()
        if ch.isalpha() or ch.isspace() or ch in _IN_WORD_OK or not 0 < i < len(text) - 1:
            continue
        if text[i - 1].isalpha() and text[i + 1].isalpha():
            return True
    return False


def _candidates(data: bytes) -> Iterator[str]:
    """Codecs to try, best first; the detector runs only if the cheap readings fail."""
    sample = _sample(data)
    japanese = _japanese(sample)
    if japanese:
        yield japanese
        return
    if _western(sample):
        yield "cp1252"
    seen = set()
    for match in from_bytes(sample, steps=1, chunk_size=len(sample), cp_isolation=DETECTABLE):
        # Codecs that read the sample alike: report the common Western one.
        same = match.could_be_from_charset
        best = SUPERSETS.get(match.encoding, match.encoding)
        for codec in [c for c in ("cp1252", "latin_1") if c in same] + [best]:
            if codec not in seen:
                seen.add(codec)
                yield codec


def _detected(data: bytes) -> tuple[str, str]:
    """The first detector candidate that reads the whole file with at most a few errors."""
    for codec in itertools.islice(_candidates(data), MAX_CANDIDATES):
        text = data.decode(codec, "replace")
        non_ascii = _non_ascii(text)
        if text.count("\ufffd") <= MAX_REPLACED_SHARE * non_ascii:
            return text, codec
    raise Undecodable("no codec reads these bytes as text")


def decode(
    data: bytes, hint: str | None = None, own: str | None | EllipsisType = ...
) -> tuple[str, str]:
    """Return (text with LF line ends, codec name used); `hint` is the project's codec
    (`project_hint`), tried after the file's own declaration (`own`: `declared(data)`, when
    the caller has it) and UTF-8."""
    if data.startswith(codecs.BOM_UTF8):
        text, enc = data[len(codecs.BOM_UTF8) :].decode("utf-8", "replace"), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, enc = data.decode("utf-16", "replace"), "utf-16"
    else:
        controls = len(data) - len(data.translate(None, _CONTROL_BYTES))
        if controls > MAX_CONTROL_SHARE * len(data):
            raise Undecodable(
                f"{controls} control bytes in {len(data)} (> {MAX_CONTROL_SHARE:.0%})"
            )
        text, enc = _choose(data, declared(data) if own is ... else own, hint)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, enc


def _choose(data: bytes, own: str | None, hint: str | None) -> tuple[str, str]:
    if b"\x1b$" in data:  # ISO-2022-JP's escape to JIS X 0208: 7-bit, so also valid UTF-8
        text = _strict(data, "iso2022_jp")
        if text is not None:
            return text, "iso2022_jp"
    utf8 = _strict(data, "utf-8")
    # A declared 8-bit codec loses to valid UTF-8 with non-ASCII chars: real text in a
    # single-byte codec is practically never valid UTF-8 (it would need é only after Ã).
    if own and (utf8 is None or own == "utf-8" or utf8.isascii()):
        text = _strict(data, own)
        if text is not None:
            return text, own
    if utf8 is not None:
        return utf8, "utf-8"
    mixed = _mixed_utf8(data)
    if mixed is not None:
        return mixed, "utf-8+cp1252"
    if hint:
        text = _strict(data, hint)
        if text is not None:
            return text, hint
    return _detected(data)
