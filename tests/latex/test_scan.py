from arxiv2lm.latex.scan import read_arg, read_group, read_optional


def test_read_group_balanced_and_escaped():
    assert read_group("{a\\}b{c}}x", 0) == ("a\\}b{c}", 9)
    assert read_group("x{a}", 0) is None
    assert read_group("{unclosed", 0) is None


def test_read_group_does_not_cross_blank_line():
    assert read_group("\n\n{a}", 0) is None


def test_read_optional_brackets_hidden_in_braces():
    assert read_optional("[a{]}b]c", 0) == ("a{]}b", 7)
    assert read_optional("{a}", 0) is None


def test_read_arg_forms():
    assert read_arg(" x", 0) == ("x", 2)
    assert read_arg("\\alpha b", 0) == ("\\alpha", 6)
    assert read_arg("{ab}", 0) == ("ab", 4)
    assert read_arg("}", 0) is None
    assert read_arg("", 0) is None
