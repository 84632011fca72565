import codecs

import pytest

from arxiv2lm.latex.encoding import decode


def test_utf8_default():
    assert decode("Poincaré".encode()) == ("Poincaré", "utf-8")


def test_bom_stripped():
    text, enc = decode(codecs.BOM_UTF8 + "é".encode())
    assert (text, enc) == ("é", "utf-8-sig")


@pytest.mark.parametrize(
    "option,codec,char",
    [("latin1", "latin_1", "é"), ("latin9", "iso8859_15", "€"), ("applemac", "mac_roman", "é"),
     ("ansinew", "cp1252", "—"), ("cp1252", "cp1252", "“")],
)  # fmt: skip
def test_inputenc_option_honoured(option, codec, char):
    data = f"\\usepackage[{option}]{{inputenc}}\n".encode() + char.encode(codec)
    text, enc = decode(data)
    assert text.endswith(char) and enc == codec


def test_commented_inputenc_ignored():
    data = "%\\usepackage[latin1]{inputenc}\nPoincaré".encode()
    assert decode(data) == ("%\\usepackage[latin1]{inputenc}\nPoincaré", "utf-8")


def test_invalid_utf8_falls_back_to_cp1252():
    assert decode(b"Poincar\xe9 \x93q\x94") == ("Poincaré “q”", "cp1252")


def test_crlf_to_lf():
    assert decode(b"a\r\nb\rc")[0] == "a\nb\nc"
