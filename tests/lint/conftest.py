"""Helpers for the linter tests: fixture files declare the findings they expect with `# expect: CODE` comments
(reported by the default rule set, and so by --strict too) and `# strict: CODE` comments (reported by --strict
only). The corpus of real DSPy code under corpus/ is data: never collected, imported or run."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from sharedlm.lint import Finding

FIXTURES = Path(__file__).parent / "fixtures"
_CODES = r"(?P<codes>SLM\d{3}(?:\s*,\s*SLM\d{3})*)"
_EXPECT = re.compile(r"#\s*expect:\s*" + _CODES)
_STRICT = re.compile(r"#\s*strict:\s*" + _CODES)

collect_ignore_glob = ["corpus/*"]

# (file name relative to FIXTURES, line, code)
Expected = set[tuple[str, int, str]]


def expected_in(paths: Iterable[Path], *, strict: bool = False) -> Expected:
    """Every (file, line, code) that `# expect:` comments (and with ``strict``, `# strict:` comments) announce."""
    patterns = [_EXPECT, _STRICT] if strict else [_EXPECT]
    expected: Expected = set()
    for path in paths:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            for pattern in patterns:
                match = pattern.search(line)
                if match:
                    for code in re.split(r"\s*,\s*", match.group("codes")):
                        expected.add((path.relative_to(FIXTURES).as_posix(), number, code))
    return expected


def found_in(findings: Iterable[Finding]) -> Expected:
    """The (file, line, code) of findings on fixture files."""
    return {(Path(f.file).resolve().relative_to(FIXTURES.resolve()).as_posix(), f.line, f.code) for f in findings}


@pytest.fixture
def fixtures_dir() -> Path:
    """The directory of linter fixture files."""
    return FIXTURES


@pytest.fixture
def expectations() -> Callable[..., Expected]:
    """A function returning what the `# expect:` (and with ``strict=True``, `# strict:`) comments announce."""
    return expected_in


@pytest.fixture
def found() -> Callable[[Iterable[Finding]], Expected]:
    """A function turning findings into (fixture file, line, code) triples."""
    return found_in
