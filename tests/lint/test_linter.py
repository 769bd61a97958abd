"""The linter end to end over fixture files, the seed pattern, and this project's own code."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from sharedlm._errors import UsageError
from sharedlm.lint import RULES, Finding, Rule, lint_paths, lint_source
from sharedlm.lint._rules import STRICT

from .conftest import FIXTURES, Expected

REPO = Path(__file__).resolve().parents[2]
ExpectFn = Callable[..., Expected]
FoundFn = Callable[[Iterable[Finding]], Expected]

SINGLE_FILE_FIXTURES = sorted(path.name for path in FIXTURES.glob("*.py"))
PACKAGE_FIXTURES = ["cross_file", "seed_complete", "submodule_cross_file"]


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("name", SINGLE_FILE_FIXTURES)
def test_fixture_file_gets_exactly_the_findings_it_expects(name: str, strict: bool, expectations: ExpectFn,
                                                          found: FoundFn) -> None:
    path = FIXTURES / name
    assert found(lint_paths([path], strict=strict)) == expectations([path], strict=strict)


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("name", PACKAGE_FIXTURES)
def test_fixture_package_gets_exactly_the_findings_it_expects(name: str, strict: bool, expectations: ExpectFn,
                                                             found: FoundFn) -> None:
    directory = FIXTURES / name
    assert found(lint_paths([directory], strict=strict)) == expectations(sorted(directory.glob("*.py")),
                                                                         strict=strict)


def test_every_rule_has_a_fixture_that_triggers_it(expectations: ExpectFn) -> None:
    announced = {code for _, _, code in expectations(sorted(FIXTURES.rglob("*.py")), strict=True)}
    assert announced >= {code for code in RULES if not code.startswith("SLM9")}


def test_every_rule_of_the_default_set_has_a_fixture_that_triggers_it(expectations: ExpectFn) -> None:
    announced = {code for _, _, code in expectations(sorted(FIXTURES.rglob("*.py")))}
    assert announced == {code for code, rule in RULES.items() if rule.rule_set != STRICT and code[:4] != "SLM9"}


def test_strict_reports_everything_the_default_set_reports() -> None:
    default = set(lint_paths([FIXTURES]))
    assert default
    assert default <= set(lint_paths([FIXTURES], strict=True))


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_seed_anti_pattern_lm_per_module_is_flagged(strict: bool, found: FoundFn) -> None:
    codes = {code for _, _, code in found(lint_paths([FIXTURES / "seed_anti_lm_per_module.py"], strict=strict))}
    assert codes == {"SLM002", "SLM003"}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_seed_anti_pattern_lm_in_forward_is_flagged(strict: bool, found: FoundFn) -> None:
    codes = {code for _, _, code in found(lint_paths([FIXTURES / "seed_anti_lm_in_forward.py"], strict=strict))}
    assert codes == {"SLM001"}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_seed_complete_example_is_flagged_only_for_its_two_knobs(strict: bool) -> None:
    findings = lint_paths([FIXTURES / "seed_complete"], strict=strict)
    assert [(Path(f.file).name, f.code) for f in findings] == [("utils.py", "SLM007"), ("utils.py", "SLM006")]


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_seed_complete_example_passes_once_the_knobs_are_removed(tmp_path: Path, strict: bool) -> None:
    for source in (FIXTURES / "seed_complete").glob("*.py"):
        text = source.read_text(encoding="utf-8")
        text = text.replace("dspy.settings.configure(async_max_workers=2000)", "")
        text = text.replace("max_parallel_requests=2000,", "")
        (tmp_path / source.name).write_text(text, encoding="utf-8")
    assert lint_paths([tmp_path], strict=strict) == []


def test_classes_from_another_checked_file_are_recognised_as_modules() -> None:
    findings = lint_paths([FIXTURES / "cross_file"], strict=True)
    assert ("SLM003", 10) in {(f.code, f.line) for f in findings if f.file.endswith("child.py")}


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_a_base_class_in_an_unchecked_file_is_unknown_and_not_flagged(strict: bool) -> None:
    # Alone, child.py's BasePipeline and LMSubclass could be anything: nothing is flagged rather than guessed.
    assert lint_paths([FIXTURES / "cross_file" / "child.py"], strict=strict) == []


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("relative", ["src", "examples", "benchmarks"])
def test_project_code_is_clean(relative: str, strict: bool) -> None:
    path = REPO / relative
    if not path.exists():
        pytest.skip(f"{relative} does not exist in this tree")
    assert lint_paths([path], strict=strict) == []


def test_lint_paths_returns_findings_sorted_by_file_line_column_code(tmp_path: Path) -> None:
    (tmp_path / "b.py").write_text("import dspy\nx = dspy.LM('m', max_parallel_requests=2)\n", encoding="utf-8")
    (tmp_path / "a.py").write_text("import dspy\n\n\ny = dspy.LM('m')\n", encoding="utf-8")
    findings = lint_paths([tmp_path], strict=True)
    assert findings == sorted(findings)
    assert [(Path(f.file).name, f.line, f.code) for f in findings] == [
        ("a.py", 4, "SLM005"), ("b.py", 2, "SLM005"), ("b.py", 2, "SLM006"),
    ]


def test_lint_paths_reports_a_file_given_twice_once(tmp_path: Path) -> None:
    path = tmp_path / "a.py"
    path.write_text("import dspy\nlm = dspy.LM('m')\n", encoding="utf-8")
    assert len(lint_paths([path, tmp_path, path], strict=True)) == 1


def test_select_keeps_only_the_selected_codes() -> None:
    findings = lint_paths([FIXTURES / "seed_complete"], select=["SLM006"])
    assert {f.code for f in findings} == {"SLM006"}


def test_select_accepts_a_comma_separated_string() -> None:
    findings = lint_paths([FIXTURES / "slm006_slm007_knobs.py"], select="SLM006, SLM007")
    assert {f.code for f in findings} == {"SLM006", "SLM007"}


def test_ignore_drops_the_ignored_codes() -> None:
    findings = lint_paths([FIXTURES / "seed_complete"], ignore=["SLM007"])
    assert {f.code for f in findings} == {"SLM006"}


def test_a_code_prefix_selects_every_code_it_starts() -> None:
    findings = lint_paths([FIXTURES / "alias_import_as.py"], select=["SLM00"], strict=True)
    assert {f.code for f in findings} == {"SLM001", "SLM003", "SLM004", "SLM006", "SLM007"}


def test_unknown_code_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="SLM999"):
        lint_paths([FIXTURES / "seed_complete"], select=["SLM999"])


def test_missing_path_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.py"
    with pytest.raises(UsageError, match=r"nope\.py"):
        lint_paths([missing])


def test_exclude_matches_a_directory_by_its_trailing_path() -> None:
    assert lint_paths([REPO / "tests" / "lint"], exclude=["lint/fixtures", "lint/corpus"], strict=True) == []


def test_exclude_matches_files_by_name_pattern() -> None:
    findings = lint_paths([FIXTURES], exclude=["slm*.py", "alias_*", "seed_*", "noqa_*", "*cross_file", "submodule_*"],
                          strict=True)
    assert findings == []


def test_lint_source_names_findings_after_the_filename() -> None:
    findings = lint_source("import dspy\nlm = dspy.LM('m')\n", filename="pipeline.py", strict=True)
    assert [(f.file, f.line, f.column, f.code) for f in findings] == [("pipeline.py", 2, 6, "SLM005")]


def test_lint_source_reports_a_syntax_error_as_slm900() -> None:
    findings = lint_source("def broken(:\n", filename="broken.py")
    assert [(f.code, f.line) for f in findings] == [("SLM900", 1)]


def test_lint_source_applies_select() -> None:
    source = "import dspy\nlm = dspy.LM('m', max_parallel_requests=3)\n"
    assert [f.code for f in lint_source(source, select=["SLM006"])] == ["SLM006"]


def test_finding_is_frozen_and_converts_to_a_dict_with_the_six_fields() -> None:
    finding = lint_source("import dspy\nlm = dspy.LM('m')\n", strict=True)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        finding.line = 3  # type: ignore[misc]
    assert finding.as_dict() == {
        "file": "<string>", "line": 2, "column": 6, "code": "SLM005",
        "message": finding.message, "fix": finding.fix,
    }
    assert finding.fix
    assert finding.message


def test_rules_map_each_code_to_its_rule() -> None:
    assert all(isinstance(rule, Rule) and rule.code == code for code, rule in RULES.items())
    assert all(rule.summary and rule.fix and rule.name for rule in RULES.values())


def test_columns_count_characters_not_bytes() -> None:
    findings = lint_source("import dspy\nnom_é = dspy.LM('m')\n", strict=True)
    assert findings[0].column == len("nom_é = ") + 1
