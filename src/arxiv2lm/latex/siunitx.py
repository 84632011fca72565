"""siunitx numbers and units as plain text.

Units print as siunitx's default (`per-mode=power`) does, with `^` for powers: `\\metre\\per
\\second\\squared` -> `m s^-2`; literal units keep their `/` (`m/s^2` -> `m/s^2`, `kg.m` ->
`kg m`). A quantity is `number unit` (`9.8 m s^-2`; no space before a lone °, ′ or ″); an
exponent is `× 10^n` (`1.2e-3` -> `1.2 × 10^-3`), `+-` is `±`, `x` between numbers is `×`;
ranges are `1 m to 2 m`, lists `1, 2 and 3`, angles `1°2′3″`. Digits are not grouped; options
(`[..]`, `\\sisetup`) are ignored. Units a document declares with `\\DeclareSIUnit` count too.

>>> command("SI", "\\\\SI{9.8}{\\\\metre\\\\per\\\\second\\\\squared}", 3, UNITS, str)[0]
'9.8 m s^-2'
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

from arxiv2lm.latex.scan import read_group, read_optional

Convert = Callable[[str], str]

PREFIXES: dict[str, str] = {
    "quecto": "q", "ronto": "r", "yocto": "y", "zepto": "z", "atto": "a", "femto": "f",
    "pico": "p", "nano": "n", "micro": "µ", "milli": "m", "centi": "c", "deci": "d",
    "deca": "da", "deka": "da", "hecto": "h", "kilo": "k", "mega": "M", "giga": "G",
    "tera": "T", "peta": "P", "exa": "E", "zetta": "Z", "yotta": "Y", "ronna": "R",
    "quetta": "Q", "kibi": "Ki", "mebi": "Mi", "gibi": "Gi", "tebi": "Ti",
}  # fmt: skip
UNITS: dict[str, str] = {
    # SI base and derived units, units accepted for use with SI, and a few common others
    "metre": "m", "meter": "m", "gram": "g", "kilogram": "kg", "second": "s", "ampere": "A",
    "kelvin": "K", "mole": "mol", "candela": "cd", "hertz": "Hz", "newton": "N",
    "pascal": "Pa", "joule": "J", "watt": "W", "coulomb": "C", "volt": "V", "farad": "F",
    "ohm": "Ω", "siemens": "S", "weber": "Wb", "tesla": "T", "henry": "H",
    "degreeCelsius": "°C", "celsius": "°C", "lumen": "lm", "lux": "lx", "becquerel": "Bq",
    "gray": "Gy", "sievert": "Sv", "katal": "kat", "radian": "rad", "steradian": "sr",
    "minute": "min", "hour": "h", "day": "d", "degree": "°", "arcminute": "′",
    "arcsecond": "″", "hectare": "ha", "litre": "L", "liter": "L", "tonne": "t",
    "electronvolt": "eV", "dalton": "Da", "atomicmassunit": "u", "astronomicalunit": "au",
    "bel": "B", "decibel": "dB", "neper": "Np", "bar": "bar", "angstrom": "Å", "barn": "b",
    "knot": "kn", "mmHg": "mmHg", "percent": "%", "bit": "bit", "byte": "B", "clight": "c",
    "planckbar": "ℏ", "electronmass": "m_e", "elementarycharge": "e", "bohr": "a_0",
    "hartree": "E_h", "nauticalmile": "M",
    # siunitx abbreviations
    **{p + u: ps + us for p, ps in (("", ""), ("k", "k"), ("m", "m"), ("M", "M"), ("G", "G"),
                                    ("n", "n"), ("u", "µ"), ("p", "p"), ("T", "T"), ("f", "f"))
       for u, us in (("s", "s"), ("Hz", "Hz"), ("J", "J"), ("eV", "eV"), ("W", "W"), ("V", "V"),
                     ("A", "A"), ("m", "m"), ("g", "g"), ("N", "N"), ("Pa", "Pa"), ("K", "K"),
                     ("mol", "mol"), ("L", "L"), ("l", "L"), ("ohm", "Ω"), ("F", "F"),
                     ("C", "C"), ("bar", "bar"), ("dB", "dB"), ("T", "T"))},
    "cm": "cm", "dm": "dm", "mL": "mL", "ml": "mL", "kohm": "kΩ", "Mohm": "MΩ",
    "mmol": "mmol", "dBm": "dBm",
}  # fmt: skip
POWERS = {"square": 2, "cubic": 3, "squared": 2, "cubed": 3}
# math symbols that literal units are written with (siunitx sets units in math mode)
LITERAL: dict[str, str] = {"mu": "µ", "Omega": "Ω", "circ": "°", "cdot": " ", "times": "×"}
_LITERAL_SYMBOL = re.compile(r"\\(" + "|".join(LITERAL) + r")(?![A-Za-z])\s*")
_TOKEN = re.compile(r"\\([A-Za-z]+)|([^\\]+)|(\\.)", re.S)
# number syntax -> text; each alternative is a `_NUMBER` group, replaced by `_number_part`
_NUMBER = re.compile(
    "|".join(
        [
            r"(?P<pm>\+-|\\pm(?![A-Za-z]))",
            r"(?P<times>(?<=[\d.)])x(?=[\d.+-])|\\times(?![A-Za-z]))",
            r"(?P<exp>(?:(?<=[\d.)])|^)[eEdD](?=[+-]?\d))",
        ]
    )
)
_LITERAL_PRODUCT = re.compile(r"(?<=[A-Za-z)])[.~](?=[A-Za-z(\\])")
_LITERAL_SCRIPT = re.compile(r"([\^_])\{([^{}]*)\}")
_ANGLE_MARKS = ("°", "′", "″")


def number(raw: str, conv: Convert) -> str:
    """`1.2e-3` -> `1.2 × 10^-3`; `3 +- 0.1` -> `3 ± 0.1`; spaces and `\\,` are ignored."""
    text = re.sub(r"\s+|\\[,;: ]|~|\{\}", "", raw)

    def part(m: re.Match[str]) -> str:
        if m.group("pm"):
            return " ± "
        if m.group("times"):
            return " × "
        return " × 10^" if m.start() else "10^"

    return conv(_NUMBER.sub(part, text).strip())


def _power(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else str(float(value))


def unit(raw: str, units: dict[str, str], conv: Convert) -> str:
    """`\\kilo\\metre\\per\\hour` -> `km h^-1`; literal `kg.m/s^{2}` -> `kg m/s^2`."""
    names = set(re.findall(r"\\([A-Za-z]+)", raw))
    if not names & (units.keys() | PREFIXES.keys() | POWERS.keys() | {"per"}):
        text = _LITERAL_SCRIPT.sub(r"\1\2", _LITERAL_PRODUCT.sub(" ", raw.strip()))
        return conv(_LITERAL_SYMBOL.sub(lambda m: LITERAL[m.group(1)], text))
    parts: list[list[str | Fraction]] = []  # [symbol, power]; a power of 0 marks plain text
    prefix, pending, per, i = "", Fraction(1), False, 0
    while (m := _TOKEN.match(raw, i)) is not None:
        word, i = m.group(1), m.end()
        if word in PREFIXES:
            prefix += PREFIXES[word]
        elif word in units:
            parts.append([prefix + conv(units[word]), pending * (-1 if per else 1)])
            prefix, pending, per = "", Fraction(1), False
        elif word == "per":
            per = True
        elif word in ("square", "cubic"):
            pending = Fraction(POWERS[word])
        elif word in ("squared", "cubed", "tothe", "raiseto", "of", "highlight", "cancel"):
            g = read_group(raw, i) if word in ("tothe", "raiseto", "of", "highlight") else None
            i = g[1] if g else i
            arg = g[0].strip() if g else ""
            power = POWERS.get(word) or (_fraction(arg) if word in ("tothe", "raiseto") else 0)
            if word == "raiseto":
                pending = Fraction(power)
            elif parts and power:
                parts[-1][1] = Fraction(parts[-1][1]) * power
            elif parts and word == "of":
                parts[-1][0] = f"{parts[-1][0]}_{arg}"
        else:
            text = conv(m.group(0)).strip()
            if text:
                parts.append([text, Fraction(0)])
    return " ".join(
        str(sym) if power in (0, 1) else f"{sym}^{_power(Fraction(power))}" for sym, power in parts
    )


def _fraction(text: str) -> Fraction:
    try:
        return Fraction(text)
    except (ValueError, ZeroDivisionError):
        return Fraction(0)


def quantity(num: str, unit_text: str) -> str:
    if not unit_text:
        return num
    return num + ("" if unit_text in _ANGLE_MARKS else " ") + unit_text


def _joined(items: list[str]) -> str:
    return items[0] if len(items) < 2 else ", ".join(items[:-1]) + " and " + items[-1]


# command -> its brace arguments: n number, l number list (`;`), u unit, p product (`x`)
COMMANDS: dict[str, str] = {
    "num": "n", "tablenum": "n", "si": "u", "unit": "u", "SI": "nu", "qty": "nu",
    "SIrange": "nnu", "qtyrange": "nnu", "numrange": "nn", "SIlist": "lu", "qtylist": "lu",
    "numlist": "l", "numproduct": "p", "qtyproduct": "pu", "ang": "a",
}  # fmt: skip


def command(
    word: str, s: str, i: int, units: dict[str, str], conv: Convert
) -> tuple[str, int] | None:
    """(text, position after) of the siunitx command `\\word` ending at `s[i]`, or None when
    its arguments are missing (physics' `\\qty(x)` is no quantity)."""
    spec = COMMANDS[word]
    o = read_optional(s, i)
    i = o[1] if o else i
    args: list[str] = []
    pre = ""
    for kind in spec:
        if kind == "u" and word == "SI" and (p := read_optional(s, i)) is not None:
            pre, i = conv(p[0]).strip(), p[1]  # `\SI{10}[\$]{}`: a unit before the number
        g = read_group(s, i)
        if g is None:
            return None
        args.append(g[0])
        i = g[1]
    u = unit(args[-1], units, conv) if spec.endswith("u") else ""
    nums = args[:-1] if spec.endswith("u") else args
    if spec in ("nu", "n"):
        return quantity(pre + number(nums[0], conv), u), i
    if spec in ("nnu", "nn"):
        return " to ".join(quantity(number(a, conv), u) for a in nums), i
    if spec in ("lu", "l"):
        return _joined([quantity(number(a, conv), u) for a in nums[0].split(";")]), i
    if spec in ("pu", "p"):
        items = re.split(r"\s*(?:\bx\b|\\times(?![A-Za-z]))\s*", nums[0])
        return " × ".join(quantity(number(a, conv), u) for a in items), i
    if spec == "u":
        return u, i
    degrees = args[0].split(";")[:3]  # degrees;minutes;seconds
    marks = [number(a, conv) + m for a, m in zip(degrees, _ANGLE_MARKS, strict=False) if a.strip()]
    return "".join(marks), i


_DECLARE = re.compile(r"\\DeclareSIUnit(?![A-Za-z@])")


def collect(doc: str) -> dict[str, str]:
    """The unit table with the units `doc` declares (`\\DeclareSIUnit{\\bpcu}{bpcu}`)."""
    units = dict(UNITS)
    for m in _DECLARE.finditer(doc):
        i = m.end()
        o = read_optional(doc, i)
        name = read_group(doc, o[1] if o else i)
        if name is None:
            w = re.compile(r"\s*\\([A-Za-z]+)").match(doc, o[1] if o else i)
            name = (w.group(0).strip(), w.end()) if w else None
        if name is None:
            continue
        sym = read_group(doc, name[1])
        if sym is not None and name[0].strip().startswith("\\"):
            units[name[0].strip()[1:]] = sym[0].strip()
    return units
