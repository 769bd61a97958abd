"""The rule catalogue, code selection, and the reference page that documents each rule."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sharedlm._errors import UsageError
from sharedlm.lint import RULES, lint_source
from sharedlm.lint._rules import ALWAYS, FILE_PROBLEM_CODES, HAZARDS, STRICT, active_codes, expand_codes

DOCS = Path(__file__).resolve().parents[2] / "docs" / "lint.md"


def test_codes_are_stable_slm_numbers() -> None:
    assert all(re.fullmatch(r"SLM\d{3}", code) for code in RULES)
    assert list(RULES)[:7] == [f"SLM00{n}" for n in range(1, 8)]


def test_names_are_unique_kebab_case() -> None:
    names = [rule.name for rule in RULES.values()]
    assert len(set(names)) == len(names)
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", name) for name in names)


def test_prefix_expands_to_every_code_it_starts() -> None:
    assert expand_codes(["SLM00"], option="--select") == {f"SLM00{n}" for n in range(1, 8)}


def test_no_select_means_every_rule() -> None:
    assert active_codes(None, None) == frozenset(RULES)


def test_select_always_keeps_file_problems() -> None:
    assert active_codes(["SLM001"], None) == {"SLM001"} | FILE_PROBLEM_CODES


def test_ignore_wins_over_select() -> None:
    assert active_codes(["SLM001,SLM002"], ["SLM002"]) == {"SLM001"} | FILE_PROBLEM_CODES


@pytest.mark.parametrize("codes", [["SLM999"], ["E501"], ["SLM001,bogus"]])
def test_unknown_code_is_a_usage_error_listing_the_known_ones(codes: list[str]) -> None:
    with pytest.raises(UsageError, match="known codes are SLM001"):
        expand_codes(codes, option="--select")


def test_empty_code_list_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no rule codes"):
        expand_codes([" , "], option="--ignore")


def _section(code: str) -> str:
    return DOCS.read_text(encoding="utf-8").split(f"\n## {code} ", 1)[1].split("\n## ", 1)[0]


def _example(section: str, label: str) -> str:
    return section.split(f"{label}:\n\n```python\n", 1)[1].split("```", 1)[0]


@pytest.mark.parametrize("code", list(RULES))
def test_reference_page_has_a_section_per_rule(code: str) -> None:
    assert _section(code).startswith(RULES[code].name)


@pytest.mark.parametrize("code", sorted(set(RULES) - FILE_PROBLEM_CODES))
def test_reference_page_wrong_example_is_flagged_with_its_code_in_the_rules_set(code: str) -> None:
    # The example of a rule with default findings is a real hazard; a --strict-only rule's needs --strict.
    strict = RULES[code].rule_set == STRICT
    assert code in {finding.code for finding in lint_source(_example(_section(code), "Wrong"), strict=strict)}


@pytest.mark.parametrize("code", sorted(set(RULES) - FILE_PROBLEM_CODES))
def test_reference_page_right_example_is_clean_even_with_strict(code: str) -> None:
    assert lint_source(_example(_section(code), "Right"), strict=True) == []


def test_every_rule_names_its_rule_set() -> None:
    assert {rule.rule_set for rule in RULES.values()} <= {ALWAYS, HAZARDS, STRICT}
    assert {code for code, rule in RULES.items() if rule.rule_set == STRICT} == {"SLM004"}


@pytest.mark.parametrize("code", sorted(set(RULES) - FILE_PROBLEM_CODES))
def test_reference_page_says_which_rule_set_reports_each_rule(code: str) -> None:
    assert f"| {code} | {RULES[code].name} | {RULES[code].rule_set} |" in DOCS.read_text(encoding="utf-8")
