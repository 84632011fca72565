"""siunitx numbers, units and quantities as readable text."""

import pytest

from arxiv2lm.latex.siunitx import PREFIXES, UNITS, collect, number, unit
from arxiv2lm.latex.totext import to_text

from .conftest import doc


def text(body: str, preamble: str = "") -> str:
    return to_text(doc(body, preamble))


@pytest.mark.parametrize(
    "src,out",
    [("\\SI{9.8}{\\metre\\per\\second\\squared}", "9.8 m s^-2"),
     ("\\qty{3}{\\kilo\\gram}", "3 kg"), ("\\si{\\kilo\\metre\\per\\hour}", "km h^-1"),
     ("\\unit{\\per\\square\\centi\\metre}", "cm^-2"), ("\\si{m/s^{2}}", "m/s^2"),
     ("\\si{kg.m}", "kg m"), ("\\SI{5}{\\micro\\second}", "5 µs"),
     ("\\SI{20}{\\degreeCelsius}", "20 °C"),
     ("\\SI{30}{\\degree}", "30°"), ("\\SI{5}{\\percent}", "5 %"),
     ("\\SI[mode=text]{1}{\\ohm}", "1 Ω"),
     ("\\SI{2}{\\metre\\tothe{3}}", "2 m^3"), ("\\SI{2}{\\raiseto{4}\\metre}", "2 m^4"),
     ("\\SI{1}{\\cubic\\metre}", "1 m^3"), ("\\SI{1}{\\metre\\cubed}", "1 m^3"),
     ("\\SI{1}{\\kg\\of{water}}", "1 kg_water"), ("\\SI{10}{\\GHz}", "10 GHz"),
     ("\\SI{10}[\\$]{}", "\\$10"), ("\\si{\\mu m}", "µm"),
     ("\\num{1.2e-3}", "1.2 × 10^-3"), ("\\num{3 +- 0.1}", "3 ± 0.1"), ("\\num{2x3}", "2 × 3"),
     ("\\num{e5}", "10^5"), ("\\num{12\\,345}", "12345"), ("\\num{3 \\pm 1}", "3 ± 1"),
     ("\\num{2 \\times 3}", "2 × 3"),
     ("\\SIrange{1}{2}{\\metre}", "1 m to 2 m"), ("\\qtyrange{1}{2}{\\metre}", "1 m to 2 m"),
     ("\\numrange{1}{2}", "1 to 2"), ("\\numlist{1;2;3}", "1, 2 and 3"),
     ("\\SIlist{1;2}{\\metre}", "1 m and 2 m"), ("\\qtylist{4}{\\metre}", "4 m"),
     ("\\numproduct{2 x 3}", "2 × 3"), ("\\qtyproduct{2 x 3}{\\metre}", "2 m × 3 m"),
     ("\\ang{1;2;3}", "1°2′3″"), ("\\ang{30}", "30°"), ("\\tablenum{4.5}", "4.5")],
)  # fmt: skip
def test_each_command(src: str, out: str) -> None:
    assert text(f"a {src} b") == f"a {out} b"


def test_physics_qty_is_not_a_quantity() -> None:
    assert text("a \\qty(x) b") == "a \\qty(x) b"


def test_declared_unit_is_used() -> None:
    pre = "\\DeclareSIUnit\\bpcu{bpcu}\\DeclareSIUnit{\\dBm}{dBm}"
    assert text("\\SI{2}{\\bpcu\\per\\second}, \\SI{-3}{\\dBm}", pre) == "2 bpcu s^-1, -3 dBm"
    assert collect(pre)["bpcu"] == "bpcu"


def test_sisetup_leaves_nothing() -> None:
    assert text("a \\sisetup{per-mode=symbol} b").split() == ["a", "b"]


def test_tables_cover_si_units_and_prefixes() -> None:
    assert {"metre", "kilogram", "second", "ampere", "kelvin", "mole", "candela"} <= UNITS.keys()
    assert {PREFIXES[p] for p in ("nano", "micro", "milli", "kilo", "mega", "giga")} == {
        "n", "µ", "m", "k", "M", "G",
    }  # fmt: skip


def test_number_and_unit_cores() -> None:
    assert number("6.02e23", str) == "6.02 × 10^23"
    assert unit("\\newton\\metre", UNITS, str) == "N m"
    assert unit("\\joule\\per\\mole\\per\\kelvin", UNITS, str) == "J mol^-1 K^-1"
