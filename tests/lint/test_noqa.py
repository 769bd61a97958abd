"""`# noqa` comments: which codes each line suppresses."""

from __future__ import annotations

from sharedlm.lint import lint_source
from sharedlm.lint._noqa import noqa_lines

TWO_FINDINGS = "import dspy\nlm = dspy.LM('m', max_parallel_requests=2)"


def test_bare_noqa_suppresses_everything_on_its_line() -> None:
    assert noqa_lines("x = 1  # noqa\n") == {1: None}
    assert lint_source(TWO_FINDINGS + "  # noqa\n", strict=True) == []


def test_noqa_with_a_code_suppresses_only_that_code() -> None:
    assert [f.code for f in lint_source(TWO_FINDINGS + "  # noqa: SLM006\n", strict=True)] == ["SLM005"]


def test_noqa_with_several_codes_suppresses_each_of_them() -> None:
    assert noqa_lines("x = 1  # noqa: SLM005,SLM006\n") == {1: frozenset({"SLM005", "SLM006"})}
    assert noqa_lines("x = 1  # noqa: SLM005, SLM006\n") == {1: frozenset({"SLM005", "SLM006"})}
    assert lint_source(TWO_FINDINGS + "  # noqa: SLM005,SLM006\n", strict=True) == []


def test_noqa_codes_are_case_insensitive_and_need_no_space() -> None:
    assert noqa_lines("x = 1  # NOQA:slm005\n") == {1: frozenset({"SLM005"})}


def test_noqa_code_prefix_covers_the_codes_it_starts() -> None:
    assert lint_source(TWO_FINDINGS + "  # noqa: SLM00\n", strict=True) == []


def test_noqa_reason_after_the_codes_is_ignored() -> None:
    assert noqa_lines("x = 1  # noqa: SLM005 -- one LM for this script\n") == {1: frozenset({"SLM005"})}


def test_noqa_for_another_code_does_not_suppress() -> None:
    assert [f.code for f in lint_source("import dspy\nlm = dspy.LM('m')  # noqa: SLM001\n", strict=True)] == ["SLM005"]


def test_noqa_inside_a_string_is_not_a_comment() -> None:
    assert noqa_lines("x = '# noqa'\n") == {}


def test_noqa_on_another_line_of_a_multiline_call_does_not_suppress() -> None:
    source = "import dspy\nlm = dspy.LM(\n    'm',\n)  # noqa: SLM005\n"
    assert [(f.code, f.line) for f in lint_source(source, strict=True)] == [("SLM005", 2)]
