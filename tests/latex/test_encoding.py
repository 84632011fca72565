import codecs
import random

import pytest

from arxiv2lm.latex import encoding
from arxiv2lm.latex.encoding import Undecodable, declared, decode, project_hint
from arxiv2lm.latex.project import ExtractResult, extract_paper
from arxiv2lm.ledger import Drop

from .conftest import doc, make_params

# Hand-written sentences, a few lines each (not taken from any paper).
RU = (
    "Пусть задано конечное множество точек на плоскости. Мы доказываем, что каждая "
    "выпуклая оболочка содержит не более трёх вершин, лежащих на одной прямой.\n"
    "Следствие верно и для многогранников в пространстве любой размерности."
)
PL = (
    "Niech dana będzie skończona rodzina zbiorów. Pokażemy, że każdy łańcuch ma element "
    "największy, a zbiór ograniczeń jest źródłem wielu trudności.\n"
    "Wynik ten uogólnia znane twierdzenie o punktach stałych."
)
JA = (
    "有限個の点からなる集合を考える。各凸包は同一直線上にある頂点を高々三つしか"
    "含まないことを示す。\n本論文では、グラフの彩色問題に対する新しい近似アルゴリズムを提案する。"
)
ZH = (
    "考虑平面上有限个点组成的集合。我们证明每个凸包至多包含三个共线的顶点。\n"
    "这个结果推广了已知的定理。"
)
KO = (
    "평면 위의 유한한 점들의 집합을 생각하자. 우리는 각 볼록 껍질이 한 직선 위에 있는 "
    "꼭짓점을 많아야 세 개 포함함을 보인다.\n이 결과는 알려진 정리를 일반화한다."
)
EL = (
    "Έστω ένα πεπερασμένο σύνολο σημείων στο επίπεδο. Αποδεικνύουμε ότι κάθε κυρτό "
    "περίβλημα περιέχει το πολύ τρεις συνευθειακές κορυφές."
)
FR = "Soit un ensemble fini de points. On démontre que chaque enveloppe convexe est réduite."


def tex(body: str, preamble: str = "") -> str:
    return doc(f"\\section{{Intro}}\n{body}\n$x^2 + y$ and \\cite{{a}}.", preamble)


def test_utf8_default():
    assert decode("Poincaré".encode()) == ("Poincaré", "utf-8")


def test_bom_stripped():
    text, enc = decode(codecs.BOM_UTF8 + "é".encode())
    assert (text, enc) == ("é", "utf-8-sig")


@pytest.mark.parametrize(
    "option,codec,char",
    [("latin1", "latin_1", "é"), ("latin9", "iso8859_15", "€"), ("applemac", "mac_roman", "é"),
     ("ansinew", "cp1252", "—"), ("cp1252", "cp1252", "“"), ("latin2", "iso8859_2", "ą"),
     ("cp1251", "cp1251", "ж"), ("koi8-r", "koi8_r", "ж")],
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


@pytest.mark.parametrize(
    "source,declaration,codec",
    [(b"\\usepackage[T2A]{fontenc}\\usepackage[koi8-r,utf8]{inputenc}", "inputenc", "utf-8"),
     (b"\\begin{CJK}{GBK}{song}", "cjk", "gbk"),
     (b"\\begin{CJK*}[dnp]{Bg5}{bsmi}", "cjk", "big5"),
     (b"\\begin{CJK}{SJIS}{min}", "cjk", "cp932"),
     (b"\\documentclass[GBK,12pt]{ctexart}", "ctex", "gbk"),
     (b"\\usepackage[UTF8]{ctex}", "ctex", "utf-8"),
     (b"\\usepackage{CJKutf8}", "cjkutf8", "utf-8")],
)  # fmt: skip
def test_each_declaration_alternative(source, declaration, codec):
    assert declared(source) == codec, declaration


def test_unknown_or_commented_declaration_is_none():
    assert declared(b"\\usepackage[klingon]{inputenc}") is None
    assert declared(b"x % \\begin{CJK}{GBK}{song}") is None


# --- detection without a declaration --------------------------------------------------


@pytest.mark.parametrize(
    "body,codec,names",
    [(RU, "koi8_r", {"koi8_r"}),
     (RU, "cp1251", {"cp1251"}),
     (PL, "cp1250", {"cp1250"}),
     (EL, "iso8859_7", {"iso8859_7"}),
     (FR, "latin_1", {"cp1252", "latin_1"}),
     (JA, "shift_jis", {"cp932", "shift_jis"}),
     (JA, "euc_jp", {"euc_jp"}),
     (ZH, "gbk", {"gbk", "gb18030"}),
     (KO, "euc_kr", {"euc_kr", "cp949"})],
)  # fmt: skip
def test_undeclared_legacy_codec_detected(body, codec, names):
    source = tex(body)
    text, enc = decode(source.encode(codec))
    assert text == source and enc in names


def test_long_file_detected_from_its_non_ascii_lines():
    # The Cyrillic sits past the first SAMPLE_BYTES, after ASCII-only lines.
    ascii_part = "Plain ASCII text with $x$ math.\n" * (2 * encoding.SAMPLE_BYTES // 32)
    source = ascii_part + RU + "\n"
    assert decode(source.encode("koi8_r")) == (source, "koi8_r")


def test_declared_8bit_loses_to_valid_utf8():
    source = tex("Poincaré — déjà vu.", "\\usepackage[latin1]{inputenc}")
    assert decode(source.encode()) == (source, "utf-8")


def test_declared_utf8_with_legacy_bytes_is_detected():
    source = tex(RU, "\\usepackage[utf8]{inputenc}")
    assert decode(source.encode("cp1251")) == (source, "cp1251")


def test_utf8_with_a_stray_cp1252_byte():
    names = "Poincaré, Lefschetz, Hörmander, Schrödinger, Müller: "
    assert decode(names.encode() + b"\x93q\x94") == (names + "“q”", "utf-8+cp1252")


def test_few_stray_bytes_per_utf8_char_is_not_mixed():
    # one valid UTF-8 pair (`ß“` is also U+07D3) among cp1252 umlauts: a cp1252 file
    data = "„groß“ und schön, müde, Bär".encode("cp1252")
    assert decode(data) == ("„groß“ und schön, müde, Bär", "cp1252")


def test_one_nbsp_is_cp1252_not_a_cjk_guess():
    # one 0xA0 before an ASCII letter: a detector calls it Big5; too little evidence for that
    data = b"% {\\sc TOOL}\xa0further extends it.\n" + b"Plain text.\n" * 100
    assert decode(data)[1] == "cp1252"


@pytest.mark.parametrize(
    "line,codec,expected",
    [("a naïve Müller at 25°C, “q” — x", "cp1252", "cp1252"),  # Western: cp1252 wins
     ("Pokażemy, że każdy łańcuch.", "cp1250", "cp1250"),  # `Poka¿emy`: symbol in a word
     ("Пусть дано множество.", "koi8_r", "koi8_r")],  # runs of 3+ non-ASCII chars
)  # fmt: skip
def test_little_evidence_beside_much_markup(line, codec, expected):
    # Under MIN_EVIDENCE_BYTES non-ASCII bytes, after lines of markup the detector counts
    # as noise: the sample drops the markup, and cp1252 wins only where it reads as Western.
    source = "\\section{A} Text with $x_{1}^{2}$ \\cite{b}.\n" * 20 + line + "\n"
    assert decode(source.encode(codec)) == (source, expected)


def test_markup_stripped_from_sample_keeps_shift_jis_trail_backslash():
    # 表 is 0x95 0x5c in Shift-JIS: its trail byte is a backslash, which must stay
    sample = encoding._sample("表\\section{x}".encode("cp932"))
    assert sample.decode("cp932") == "表  x "


def test_iso2022_jp():
    source = tex(JA)
    assert decode(source.encode("iso2022_jp")) == (source, "iso2022_jp")


# --- the project's declaration --------------------------------------------------------


def test_project_hint_decodes_an_undeclared_chapter():
    chapter = "Глава. Лемма верна."  # too short for the detector to be sure
    assert decode(chapter.encode("cp1251"), hint="cp1251") == (chapter, "cp1251")


def test_project_hint_none_when_files_disagree_or_declare_utf8():
    a, b = b"\\usepackage[cp1251]{inputenc}", b"\\usepackage[koi8-r]{inputenc}"
    assert project_hint([a, b"x"]) == "cp1251"
    assert project_hint([a, b]) is None
    assert project_hint([b"\\usepackage[utf8]{inputenc}"]) is None


def test_extract_uses_main_files_codec_for_its_chapters():
    main = doc("\\input{ch1}", "\\usepackage[cp1251]{inputenc}").encode("cp1251")
    chapter = "Глава. Лемма верна."
    r = extract_paper(["main.tex", "ch1.tex"], [main, chapter.encode("cp1251")], make_params())
    assert isinstance(r, ExtractResult) and r.text == chapter and r.encoding == "cp1251"


# --- bytes that fit no encoding -------------------------------------------------------


@pytest.mark.parametrize("low", [0, 0x80])
def test_random_bytes_undecodable(low):
    rng = random.Random(13)
    with pytest.raises(Undecodable):
        decode(bytes(rng.randrange(low, 256) for _ in range(4000)))


def test_control_bytes_undecodable_even_when_latin1_is_declared():
    with pytest.raises(Undecodable, match="control bytes"):
        decode(b"\\usepackage[latin1]{inputenc}\n" + b"\x00\x01\x02 PK\x03\x04" * 20)


def test_binary_main_file_is_a_bad_encoding_drop():
    rng = random.Random(7)
    r = extract_paper(["main.tex"], [bytes(rng.randrange(256) for _ in range(3000))], make_params())
    assert isinstance(r, Drop) and r.reason == "bad_encoding"
    assert r.detail.startswith("main.tex: ")


def test_binary_side_file_is_left_out_not_fatal():
    main = doc("Body. \\input{junk}").encode()
    r = extract_paper(["main.tex", "junk.tex"], [main, b"\x00\x01\x02\x03" * 100], make_params())
    assert isinstance(r, ExtractResult) and r.text == "Body." and r.inputs_missing == 1
