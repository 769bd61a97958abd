"""`sharedlm lint` on the command line: exit codes, text and JSON output, and the pre-commit hook."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from sharedlm._cli import main

from .conftest import FIXTURES

REPO = Path(__file__).resolve().parents[2]
CLEAN = FIXTURES / "clean_sharedlm_usage.py"
FLAGGED = FIXTURES / "seed_complete"
TEXT_LINE = re.compile(
    r"^(?P<path>.+):(?P<line>\d+):(?P<col>\d+): (?P<code>SLM\d{3}) (?P<message>.+) \(fix: (?P<fix>.+)\)$"
)


def test_exit_0_and_no_output_when_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(CLEAN)]) == 0
    out, err = capsys.readouterr()
    assert out == ""
    assert "no findings (1 file checked)" in err


def test_exit_1_with_one_text_line_per_finding(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(FLAGGED)]) == 1
    out, err = capsys.readouterr()
    lines = out.splitlines()
    matches = [TEXT_LINE.match(line) for line in lines]
    assert all(matches)
    assert [(Path(m["path"]).name, m["code"]) for m in matches if m] == [("utils.py", "SLM007"), ("utils.py", "SLM006")]
    assert err.strip() == "sharedlm lint: 2 findings in 1 file (4 files checked)"


def test_json_is_a_list_of_findings_with_six_fields(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(FLAGGED)]) == 1
    findings = json.loads(capsys.readouterr().out)
    assert isinstance(findings, list)
    assert len(findings) == 2
    for finding in findings:
        assert set(finding) == {"file", "line", "column", "code", "message", "fix"}
        assert isinstance(finding["line"], int)
        assert isinstance(finding["column"], int)
        assert all(isinstance(finding[key], str) for key in ("file", "code", "message", "fix"))


def test_json_is_an_empty_list_when_clean(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", str(CLEAN)]) == 0
    assert json.loads(capsys.readouterr().out) == []


def test_select_and_ignore_filter_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "json", "--select", "SLM006,SLM007", "--ignore", "SLM007", str(FLAGGED)]) == 1
    assert [f["code"] for f in json.loads(capsys.readouterr().out)] == ["SLM006"]


def test_ignoring_every_finding_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--ignore", "SLM006", "--ignore", "SLM007", str(FLAGGED)]) == 0


def test_exit_2_on_a_missing_path(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["lint", str(tmp_path / "missing.py")]) == 2
    assert "missing.py" in capsys.readouterr().err


@pytest.mark.parametrize("option", ["--select", "--ignore"])
def test_exit_2_on_an_unknown_code(capsys: pytest.CaptureFixture[str], option: str) -> None:
    assert main(["lint", option, "SLM123", str(CLEAN)]) == 2
    assert "SLM123" in capsys.readouterr().err


def test_exit_2_without_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint"]) == 2
    assert "at least one" in capsys.readouterr().err


def test_exit_2_on_an_unknown_format(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--format", "yaml", str(CLEAN)])
    assert exc.value.code == 2


def test_bad_files_are_findings_and_the_run_goes_on(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("def f(:\n", encoding="utf-8")
    (tmp_path / "b.py").write_bytes(b"x = '\xff'\n")
    (tmp_path / "c.py").write_text("import dspy\nlm = dspy.LM('m')\n", encoding="utf-8")
    assert main(["lint", "--strict", "--format", "json", str(tmp_path)]) == 1
    assert [f["code"] for f in json.loads(capsys.readouterr().out)] == ["SLM900", "SLM901", "SLM005"]


def test_exclude_option_leaves_out_directories(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--strict", "--exclude", "fixtures", "--exclude", "corpus", str(REPO / "tests" / "lint")]) == 0


def test_list_rules_prints_every_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--list-rules"]) == 0
    out = capsys.readouterr().out
    assert all(f"SLM00{n}" in out for n in range(1, 8))


def test_list_rules_names_each_rules_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--list-rules"]) == 0
    out = capsys.readouterr().out
    assert "SLM004 unchecked-lm-argument (--strict only)" in out
    assert "SLM001 lm-per-request (default)" in out
    assert "SLM005 uncached-lm (default: hazards only)" in out


def test_list_rules_json_has_the_rule_set(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--list-rules", "--format", "json"]) == 0
    rules = {rule["code"]: rule["rule_set"] for rule in json.loads(capsys.readouterr().out)}
    assert rules["SLM004"] == "--strict only"
    assert rules["SLM006"] == "default"


def test_single_module_level_lm_is_clean_by_default_and_flagged_with_strict(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = tmp_path / "script.py"
    script.write_text("import dspy\nlm = dspy.LM('m')\ndspy.configure(lm=lm)\n", encoding="utf-8")
    assert main(["lint", str(script)]) == 0
    assert main(["lint", "--strict", "--format", "json", str(script)]) == 1
    out = capsys.readouterr().out
    assert [f["code"] for f in json.loads(out[out.index("["):])] == ["SLM005"]


def test_help_mentions_noqa_and_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["lint", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "# noqa" in out
    assert "2 usage error" in out


def test_pre_commit_hook_runs_sharedlm_lint_on_python_files() -> None:
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    [hook] = [hook for hook in hooks if hook["id"] == "sharedlm-lint"]
    assert (hook["entry"], hook["language"], hook["types"]) == ("sharedlm lint", "python", ["python"])


def test_linter_modules_import_only_the_standard_library_at_module_level() -> None:
    # `sharedlm lint` must stay fast: no DSPy (or anything importing it) when the linter modules load.
    package = REPO / "src" / "sharedlm" / "lint"
    for path in sorted(package.glob("*.py")):
        for stmt in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(stmt, ast.Import):
                modules = [alias.name for alias in stmt.names]
            elif isinstance(stmt, ast.ImportFrom):
                modules = [stmt.module or ""]
            else:
                continue
            for module in modules:
                assert not module.startswith("dspy"), f"{path.name} imports {module}"
                assert not module.startswith("sharedlm") or module.startswith("sharedlm.lint"), (
                    f"{path.name} imports {module} at module level")
