"""Finding files to check, and files that cannot be read, decoded or parsed (SLM900, SLM901, SLM902)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sharedlm._errors import UsageError
from sharedlm.lint import lint_paths
from sharedlm.lint._files import discover

BAD_LM = "import dspy\nlm = dspy.LM('m')\n"


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_directories_are_searched_recursively_for_py_files(tmp_path: Path) -> None:
    _write(tmp_path / "pkg" / "sub" / "deep.py", "")
    _write(tmp_path / "top.py", "")
    _write(tmp_path / "notes.txt", "")
    found = {Path(p).relative_to(tmp_path).as_posix() for p in discover([tmp_path])}
    assert found == {"pkg/sub/deep.py", "top.py"}


@pytest.mark.parametrize("directory", [".hidden", "__pycache__", ".venv", "venv", "build", "dist", "node_modules"])
def test_recursion_skips_tool_and_hidden_directories(tmp_path: Path, directory: str) -> None:
    _write(tmp_path / directory / "skipped.py", BAD_LM)
    assert discover([tmp_path]) == []


def test_a_file_given_by_name_is_checked_whatever_its_suffix(tmp_path: Path) -> None:
    script = _write(tmp_path / "run_pipeline", BAD_LM)
    assert [f.code for f in lint_paths([script], strict=True)] == ["SLM005"]


def test_a_directory_given_by_name_is_searched_even_if_recursion_would_skip_it(tmp_path: Path) -> None:
    _write(tmp_path / "build" / "gen.py", BAD_LM)
    assert [f.code for f in lint_paths([tmp_path / "build"], strict=True)] == ["SLM005"]


def test_paths_found_under_a_relative_directory_are_shown_relative(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path / "src" / "app.py", BAD_LM)
    monkeypatch.chdir(tmp_path)
    assert [f.file for f in lint_paths(["src"], strict=True)] == [os.path.join("src", "app.py")]


def test_no_paths_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="at least one"):
        discover([])


def test_every_missing_path_is_named_in_one_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"a\.py.*b\.py"):
        discover([tmp_path / "a.py", tmp_path, tmp_path / "b.py"])


def test_syntax_error_is_slm900_at_its_position_and_the_run_goes_on(tmp_path: Path) -> None:
    _write(tmp_path / "a_broken.py", "import dspy\n\ndef f(:\n    pass\n")
    _write(tmp_path / "b_fine.py", BAD_LM)
    findings = lint_paths([tmp_path], strict=True)
    assert [(Path(f.file).name, f.code, f.line) for f in findings] == [
        ("a_broken.py", "SLM900", 3), ("b_fine.py", "SLM005", 2),
    ]
    assert "syntax error" in findings[0].message


def test_file_that_is_not_utf8_is_slm901_at_the_bad_byte_and_the_run_goes_on(tmp_path: Path) -> None:
    _write(tmp_path / "a_latin1.py", b"import dspy\n# caf\xe9\nlm = dspy.LM('m')\n")
    _write(tmp_path / "b_fine.py", BAD_LM)
    findings = lint_paths([tmp_path], strict=True)
    assert [(Path(f.file).name, f.code, f.line, f.column) for f in findings] == [
        ("a_latin1.py", "SLM901", 2, 6), ("b_fine.py", "SLM005", 2, 6),
    ]
    assert "0xe9" in findings[0].message


def test_file_declaring_its_encoding_is_decoded_with_it(tmp_path: Path) -> None:
    path = _write(tmp_path / "declared.py", b"# -*- coding: latin-1 -*-\nimport dspy\n# caf\xe9\nlm = dspy.LM('m')\n")
    assert [(f.code, f.line) for f in lint_paths([path], strict=True)] == [("SLM005", 4)]


def test_coding_comment_naming_an_unknown_encoding_is_slm901(tmp_path: Path) -> None:
    path = _write(tmp_path / "odd.py", b"# -*- coding: no-such-codec -*-\nx = 1\n")
    assert [f.code for f in lint_paths([path], strict=True)] == ["SLM901"]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.py", b"\xef\xbb\xbf" + BAD_LM.encode())
    assert [f.code for f in lint_paths([path], strict=True)] == ["SLM005"]


def test_nul_byte_is_slm900(tmp_path: Path) -> None:
    path = _write(tmp_path / "nul.py", b"x = 1\x00\n")
    assert [f.code for f in lint_paths([path], strict=True)] == ["SLM900"]


def test_unreadable_file_found_in_a_directory_is_slm902(tmp_path: Path) -> None:
    (tmp_path / "dangling.py").symlink_to(tmp_path / "gone.py")
    findings = lint_paths([tmp_path], strict=True)
    assert [(Path(f.file).name, f.code) for f in findings] == [("dangling.py", "SLM902")]


def test_file_problems_are_reported_even_when_select_names_other_codes(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.py", "def f(:\n")
    assert [f.code for f in lint_paths([path], select=["SLM001"], strict=True)] == ["SLM900"]


def test_file_problems_can_be_ignored(tmp_path: Path) -> None:
    path = _write(tmp_path / "broken.py", "def f(:\n")
    assert lint_paths([path], ignore=["SLM900"], strict=True) == []


def test_invalid_escape_sequences_do_not_print_warnings(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "escapes.py", 'pattern = "\\d+"\n')
    assert lint_paths([path], strict=True) == []
    assert capfd.readouterr().err == ""
