"""Tables for `totext`: what each text-mode command becomes, and the final text pass.

>>> finish("``A'' -- B~C {x}")
'“A” – B C x'
"""

from __future__ import annotations

import re


def _words(spaced: str) -> frozenset[str]:
    return frozenset(spaced.split())


# accent command -> combining character (Unicode NFC composes them later)
ACCENTS: dict[str, str] = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
    "c": "\u0327", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331",
    "t": "\u0361",
}  # fmt: skip
DOTLESS = {"ı": "i", "ȷ": "j"}  # \"{\i} is ï
LBRACE, RBRACE = "\ue002", "\ue003"  # literal \{ \} survive the brace-stripping pass
TILDE = "\ue004"  # a literal ~ (not a tie)
SYMBOLS: dict[str, str] = {
    "\\": "\n", ",": " ", ";": " ", ":": " ", " ": " ", "\n": " ", "!": "", "/": "",
    "-": "", "@": "", "%": "%", "&": "&", "#": "#", "_": "_", "{": LBRACE,
    "}": RBRACE, "$": "\\$", "|": "‖", "*": "",
}  # fmt: skip
WORDS: dict[str, str] = {
    "ss": "ß", "o": "ø", "O": "Ø", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ",
    "aa": "å", "AA": "Å", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "dag": "†",
    "ddag": "‡", "S": "§", "P": "¶", "copyright": "©", "pounds": "£", "ldots": "…",
    "dots": "…", "textellipsis": "…", "textendash": "–", "textemdash": "—",
    "textbackslash": "\\", "textasciitilde": TILDE, "textasciicircum": "^",
    "textquoteleft": "‘", "textquoteright": "’", "textquotedblleft": "“",
    "textquotedblright": "”", "textregistered": "®", "texttrademark": "™",
    "textdegree": "°", "textbullet": "•", "textperiodcentered": "·", "textbar": "|",
    "textless": "<", "textgreater": ">", "textunderscore": "_", "LaTeX": "LaTeX",
    "TeX": "TeX", "LaTeXe": "LaTeX2e", "newline": "\n", "par": "\n\n", "euro": "€",
    "textmu": "µ", "textdollar": "\\$", "slash": "/", "quad": " ", "qquad": " ",
    "enspace": " ", "thinspace": " ", "space": " ", "textsection": "§",
    **{
        # special letters (T1 encoding) and textcomp symbols, as printed
        "dh": "ð", "DH": "Ð", "th": "þ", "TH": "Þ", "dj": "đ", "DJ": "Đ", "ij": "ĳ", "IJ": "Ĳ",
        "ng": "ŋ", "NG": "Ŋ", "textcopyright": "©", "texttimes": "×", "textdiv": "÷",
        "textpm": "±", "textminus": "−", "textlnot": "¬", "textsterling": "£", "textcent": "¢",
        "textyen": "¥", "texteuro": "€", "textcurrency": "¤", "textflorin": "ƒ",
        "textonehalf": "½", "textonequarter": "¼", "textthreequarters": "¾",
        "textonesuperior": "¹", "texttwosuperior": "²", "textthreesuperior": "³",
        "textperthousand": "‰", "textpertenthousand": "‱", "textordfeminine": "ª",
        "textordmasculine": "º", "textparagraph": "¶", "textdagger": "†", "textdaggerdbl": "‡",
        "textexclamdown": "¡", "textquestiondown": "¿", "textbrokenbar": "¦",
        "textnumero": "№", "textcelsius": "℃", "textohm": "Ω", "textmho": "℧",
        "textasteriskcentered": "∗", "textleftarrow": "←", "textrightarrow": "→",
        "textuparrow": "↑", "textdownarrow": "↓", "textquotesingle": "'", "textquotedbl": '"',
        "quotedblbase": "„", "quotesinglbase": "‚", "guillemotleft": "«", "guillemotright": "»",
        "guillemetleft": "«", "guillemetright": "»", "guilsinglleft": "‹",
        "guilsinglright": "›", "textvisiblespace": "␣", "textopenbullet": "◦",
        "textservicemark": "℠", "textinterrobang": "‽", "textreferencemark": "※",
        "textbraceleft": LBRACE, "textbraceright": RBRACE, "textcircledP": "℗",
        "textfractionsolidus": "⁄", "textsurd": "√", "textestimated": "℮",
        "textmusicalnote": "♪", "textbigcircle": "◯", "checkmark": "✓", "textcompwordmark": "",
    },
}  # fmt: skip
DROP_WORDS = _words(
    """maketitle centering raggedright raggedleft noindent indent newpage clearpage
    cleardoublepage tableofcontents listoffigures listoftables bf it em sc tt rm sl sf
    bfseries itshape mdseries upshape slshape scshape ttfamily rmfamily sffamily normalfont
    tiny scriptsize footnotesize small normalsize large Large LARGE huge Huge smallskip
    medskip bigskip hfill vfill hfil vfil null protect relax
    sloppy fussy frenchspacing selectfont appendix footnotemark today onecolumn twocolumn
    hline toprule midrule bottomrule endhead endfirsthead endfoot endlastfoot
    printbibliography makeatletter makeatother nobreak allowbreak strut boldmath
    unboldmath balance flushbottom raggedbottom tightlist acknowledgments
    acknowledgements noalign xspace nobreakdash reversemarginpar break
    itemsep parskip baselineskip phantomsection printindex makeindex printnomenclature
    makenomenclature smallbreak medbreak bigbreak AP"""
)
# break commands: their `[n]` urgency goes too; a break keeps the words on either side apart
BREAKS: dict[str, str] = {
    "linebreak": "\n", "pagebreak": "\n", "nolinebreak": "", "nopagebreak": "",
}  # fmt: skip
# command -> number of brace arguments to drop (optional [..] arguments are always skipped)
DROP_ARGS: dict[str, int] = {
    "vspace": 1, "hspace": 1, "includegraphics": 1, "bibliographystyle": 1, "label": 1,
    "nocite": 1, "setlength": 2, "addtolength": 2, "setcounter": 2, "addtocounter": 2,
    "pagestyle": 1, "thispagestyle": 1, "author": 1, "affiliation": 1, "address": 1,
    "email": 1, "thanks": 1, "institute": 1, "date": 1, "affil": 1, "color": 1,
    "pagenumbering": 1, "usepackage": 1, "documentclass": 1, "bibliography": 1,
    "graphicspath": 1, "hypersetup": 1, "definecolor": 3, "markboth": 2, "markright": 1,
    "captionsetup": 1, "numberwithin": 2, "declaretheorem": 1, "theoremstyle": 1, "newtheorem": 2,
    "newcounter": 1, "titlerunning": 1, "authorrunning": 1, "orcid": 1,
    "correspondingauthor": 1, "altaffiliation": 1, "received": 1, "accepted": 1,
    "published": 1, "shorttitle": 1, "shortauthors": 1, "runningtitle": 1, "pacs": 1,
    "cline": 1, "input": 1, "include": 1, "title": 1, "linewidth": 0, "vskip": 0,
    "resizebox": 2, "scalebox": 1, "rule": 2, "addcontentsline": 3, "bibitem": 1,
    "affiliations": 1, "icmlaffiliation": 2, "icmlauthor": 2, "icmlcorrespondingauthor": 2,
    "icmlsetsymbol": 2, "icmltitlerunning": 1, "icmltitle": 1, "setcitestyle": 1,
    "DeclareGraphicsExtensions": 1, "urlstyle": 1, "keywords": 0, "subjclass": 1,
    "fancyhead": 1, "fancyfoot": 1, "stepcounter": 1, "refstepcounter": 1, "tnoteref": 1,
    "fnref": 1, "corref": 1, "ead": 1, "cortext": 1, "fntext": 1,
    # index and glossary entries, margin notes (asides and editing notes, not running text:
    # dropped), cross-reference setup, knowledge and siunitx declarations
    "index": 1, "glossary": 1, "nomenclature": 2, "marginpar": 1, "marginnote": 1, "todo": 1,
    "enlargethispage": 1, "crefname": 3, "Crefname": 3, "crefformat": 2, "Crefformat": 2,
    "phantomintro": 1, "knowledge": 1, "sisetup": 1, "DeclareSIUnit": 2, "addbibresource": 1,
}  # fmt: skip
# command -> (index of the kept brace argument, number of brace arguments)
UNWRAP: dict[str, tuple[int, int]] = {
    **{c: (0, 1) for c in _words("""textbf textit emph textsc texttt textrm textsf textup textsl
        textmd textnormal underline uline sout mbox hbox text fbox makebox framebox
        textsuperscript textsubscript MakeUppercase MakeLowercase uppercase lowercase
        url nolinkurl path mathrm ensuremath emphasize mbox centerline keyword
        hl nth dashuline ul textcircled kl intro reintro""")},
    "textcolor": (1, 2), "colorbox": (1, 2), "href": (1, 2), "hyperref": (0, 1),
    "texorpdfstring": (0, 2), "multicolumn": (2, 3), "multirow": (2, 3), "raisebox": (1, 2),
    "parbox": (1, 2), "foreignlanguage": (1, 2), "ifthenelse": (1, 3), "hyperlink": (1, 2),
    "hypertarget": (1, 2),
}  # fmt: skip
HEADINGS: dict[str, str] = {
    "part": "#", "chapter": "#", "section": "##", "subsection": "###",
    "subsubsection": "####", "paragraph": "#####", "subparagraph": "#####",
}  # fmt: skip
FLOATS: dict[str, str] = {
    "figure": "Figure", "wrapfigure": "Figure", "sidewaysfigure": "Figure",
    "SCfigure": "Figure", "subfigure": "Figure", "table": "Table", "wraptable": "Table",
    "sidewaystable": "Table", "deluxetable": "Table", "algorithm": "Algorithm",
    "listing": "Listing",
}  # fmt: skip
# `acronym`: the acronym package's list of abbreviations, dropped like `\\printglossaries`
DROP_ENVS = _words("tikzpicture pspicture picture comment filecontents axis acronym")
LIST_ENVS = _words(
    "itemize enumerate description compactitem compactenum inparaenum asparaenum list"
)
# environment -> number of brace arguments after \begin{name} to skip
UNWRAP_ENVS: dict[str, int] = {
    "minipage": 1, "multicols": 1, "spacing": 1, "adjustbox": 1, "tcolorbox": 0,
    "center": 0, "flushleft": 0, "flushright": 0, "quote": 0, "quotation": 0,
}  # fmt: skip
THEOREM_DEFAULTS: dict[str, tuple[str, bool]] = {
    "theorem": ("Theorem", True), "lemma": ("Lemma", True), "proposition": ("Proposition", True),
    "corollary": ("Corollary", True), "definition": ("Definition", True),
    "remark": ("Remark", True), "example": ("Example", True), "conjecture": ("Conjecture", True),
    "claim": ("Claim", True),
}  # fmt: skip

# (TeX, text) replaced in this order, which is the order the old one-regex alternation
# `---|--|``|''|`|~|[{}]` tried at each position: its chars are disjoint, so chained
# `str.replace` (in C, 10x faster than a regex with a callback per match) gives its text.
LIGATURES: list[tuple[str, str]] = [
    ("---", "—"),
    ("--", "–"),
    ("``", "“"),
    ("''", "”"),
    ("`", "‘"),
    ("~", " "),
    ("{", ""),
    ("}", ""),
]
_BLANKS = re.compile(r"\n\s*\n\s*\n+")
_INDENT = re.compile(r"\n[ \t]+")


def finish(text: str) -> str:
    """Ligatures, ties and bare braces of converted text (math is still a placeholder)."""
    # blanks before a newline go first, from the text as it came: the space a `~` becomes
    # below, or blanks a brace stood between, stay
    lines = text.split("\n")
    text = "\n".join([*(line.rstrip(" \t") for line in lines[:-1]), lines[-1]])
    for tex, out in LIGATURES:
        text = text.replace(tex, out)
    text = text.replace(LBRACE, "{").replace(RBRACE, "}").replace(TILDE, "~")
    text = _INDENT.sub("\n", text.lstrip(" \t"))  # each line's leading blanks (2x a split)
    return _BLANKS.sub("\n\n", text)
