"""The linter on real DSPy code: the Python of DSPy's own documentation and tutorials (tests/lint/corpus/).

The default rule set must report nothing there but real hazards, each listed here; the number of `--strict`
findings is recorded exactly, so that a rule change that moves it is noticed (and the documented counts in
docs/lint.md and the corpus README are updated with it). The corpus is data: it is linted, never imported or run.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from sharedlm.lint import lint_paths

CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(CORPUS.rglob("*.py"))
README = CORPUS / "README.md"
# The corpus's only real hazard: HaikuEnsemble.forward builds `dspy.LM("openai/gpt-5.4")` on every call.
REAL_HAZARDS = {("dspy_docs/getting_started_composing_modules.py", 58, "SLM001")}
STRICT_FINDINGS = {"SLM001": 1, "SLM003": 53, "SLM005": 93}


def _found(paths: list[Path], *, strict: bool) -> list[tuple[str, int, str]]:
    findings = lint_paths(paths, strict=strict)
    return [(Path(f.file).resolve().relative_to(CORPUS.resolve()).as_posix(), f.line, f.code) for f in findings]


def test_corpus_holds_the_dspy_docs_pages() -> None:
    assert len(CORPUS_FILES) == 65


def test_corpus_default_rules_report_only_the_real_hazards() -> None:
    assert set(_found([CORPUS], strict=False)) == REAL_HAZARDS


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_corpus_file_linted_on_its_own_gets_no_default_finding_but_a_real_hazard(path: Path) -> None:
    assert set(_found([path], strict=False)) <= REAL_HAZARDS


def test_corpus_strict_finding_count_is_recorded() -> None:
    assert Counter(code for _, _, code in _found([CORPUS], strict=True)) == STRICT_FINDINGS


def test_corpus_strict_reports_every_real_hazard_too() -> None:
    assert set(_found([CORPUS], strict=True)) >= REAL_HAZARDS


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda path: path.name)
def test_corpus_file_names_its_source_commit_and_licence(path: Path) -> None:
    header = path.read_text(encoding="utf-8")[:600]
    match = re.search(r"# Source: github\.com/stanfordnlp/dspy, (\S+) at commit ([0-9a-f]{40})", header)
    assert match is not None
    assert "Licence: MIT" in header
    readme = README.read_text(encoding="utf-8")
    assert f"`{path.relative_to(CORPUS).as_posix()}` | `{match.group(1)}`" in readme
    assert match.group(2) in readme


def test_corpus_keeps_the_dspy_licence_text() -> None:
    licence = (CORPUS / "dspy_docs" / "LICENSE-dspy").read_text(encoding="utf-8")
    assert licence.startswith("MIT License")
    assert "Stanford Future Data Systems" in licence


def test_corpus_counts_in_the_readme_match_the_recorded_ones() -> None:
    readme = README.read_text(encoding="utf-8")
    total = sum(STRICT_FINDINGS.values())
    assert f"`--strict`: {total} findings" in readme
    assert f"Default rule set: {len(REAL_HAZARDS)} finding" in readme
