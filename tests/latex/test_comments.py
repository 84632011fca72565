from arxiv2lm.latex.comments import strip_comments


def test_escaped_percent_survives():
    assert strip_comments("50\\% of it") == "50\\% of it"


def test_trailing_comment_keeps_text_and_joins_like_tex():
    assert strip_comments("text% comment\n  more") == "textmore"


def test_comment_only_line_removed_without_merging_paragraphs():
    assert strip_comments("a\n% note\nb\n\nc") == "a\nb\n\nc"


def test_escaped_backslash_then_percent_is_a_comment():
    assert strip_comments("a\\\\% gone\nb") == "a\\\\b"


def test_comment_environment_removed():
    assert strip_comments("a\\begin{comment}\nsecret\n\\end{comment}b") == "ab"


def test_iffalse_nesting_aware():
    src = "a \\iffalse x \\ifx\\y\\z q\\fi still hidden \\fi b"
    assert strip_comments(src) == "a b"  # TeX skips the blank after `\fi`


def test_iff_is_not_a_conditional():
    assert strip_comments("\\iffalse $a\\iff b$ \\fi kept") == "kept"


def test_iffalse_holding_a_switch_of_another_file_waits_for_the_document():
    src = "a \\iffalse x \\ifdraft q\\fi hidden \\fi b"
    assert strip_comments(src) == src  # `\ifdraft` may be a `\newif` of the main file


def test_verbatim_url_and_verb_keep_percent():
    src = "\\url{a%20b} \\verb|%x| y\n\\begin{verbatim}\n% code\n\\end{verbatim}\n"
    assert strip_comments(src) == src


def test_definition_in_comment_is_gone():
    assert "\\newcommand" not in strip_comments("% \\newcommand{\\x}{y}\nz")


def test_comment_before_blank_line_keeps_paragraph_break():
    assert strip_comments("text% note\n\nnext").split("\n\n") == ["text", "next"]
