"""Decode a TeX file's bytes: BOM, `inputenc` option, UTF-8, then cp1252/latin-1.

>>> decode(b"\\\\usepackage[latin1]{inputenc} Poincar\\xe9")
('\\\\usepackage[latin1]{inputenc} Poincaré', 'latin_1')
"""

from __future__ import annotations

import codecs
import re

# inputenc option -> Python codec (names from inputenc.sty's .def files)
INPUTENC_CODECS: dict[str, str] = {
    "utf8": "utf-8",
    "utf8x": "utf-8",
    "latin1": "latin_1",
    "latin2": "iso8859_2",
    "latin3": "iso8859_3",
    "latin4": "iso8859_4",
    "latin5": "iso8859_9",
    "latin9": "iso8859_15",
    "latin10": "iso8859_16",
    "cp1250": "cp1250",
    "cp1252": "cp1252",
    "ansinew": "cp1252",
    "cp437": "cp437",
    "cp850": "cp850",
    "cp852": "cp852",
    "cp858": "cp858",
    "cp865": "cp865",
    "cp1251": "cp1251",
    "koi8-r": "koi8_r",
    "applemac": "mac_roman",
    "macce": "mac_latin2",
    "decmulti": "latin_1",
    "next": "latin_1",
}

_INPUTENC = re.compile(rb"\\usepackage\s*\[([^\]]*)\]\s*\{inputenc\}")


def _declared(data: bytes) -> str | None:
    """The codec named by the first uncommented `\\usepackage[..]{inputenc}`, if known."""
    for m in _INPUTENC.finditer(data):
        line_start = data.rfind(b"\n", 0, m.start()) + 1
        if b"%" in data[line_start : m.start()]:
            continue  # commented out
        for opt in reversed(m.group(1).decode("ascii", "replace").split(",")):
            codec = INPUTENC_CODECS.get(opt.strip().lower())
            if codec:
                return codec
    return None


def decode(data: bytes) -> tuple[str, str]:
    """Return (text with LF line ends, codec name used)."""
    if data.startswith(codecs.BOM_UTF8):
        text, enc = data[len(codecs.BOM_UTF8) :].decode("utf-8", "replace"), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, enc = data.decode("utf-16", "replace"), "utf-16"
    else:
        declared = _declared(data)
        if declared and declared != "utf-8":
            text, enc = data.decode(declared, "replace"), declared
        else:
            try:
                text, enc = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                try:
                    text, enc = data.decode("cp1252"), "cp1252"
                except UnicodeDecodeError:
                    text, enc = data.decode("latin_1"), "latin_1"
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, enc
