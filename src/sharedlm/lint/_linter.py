"""Running every rule over a set of files: parse them all, index their classes, then check each file, keeping
the default rule set's findings (real hazards) or, with ``strict``, every finding."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sharedlm.lint._files import discover, load, parse
from sharedlm.lint._finding import Finding, Reported
from sharedlm.lint._index import ProjectIndex
from sharedlm.lint._lm_rules import check_lm_rules, uses_asyncify
from sharedlm.lint._module_rules import ModuleRules
from sharedlm.lint._noqa import drop_suppressed, noqa_lines
from sharedlm.lint._reach import compute_reach
from sharedlm.lint._rules import active_codes
from sharedlm.lint._source import ParsedFile

Codes = str | Iterable[str] | None


@dataclass(frozen=True, kw_only=True)
class LintReport:
    """The outcome of one run.

    Args:
        findings: What was found, sorted by file, line, column and code.
        files_checked: How many files were read (including those that could not be parsed).
    """

    findings: list[Finding]
    files_checked: int

    @property
    def files_with_findings(self) -> int:
        """How many files have at least one finding."""
        return len({finding.file for finding in self.findings})


def run_lint(paths: Sequence[str | os.PathLike[str]], *, select: Codes = None, ignore: Codes = None,
             exclude: Iterable[str] = (), strict: bool = False) -> LintReport:
    """Check files and directories, with the number of files checked (for the command's summary).

    Args:
        paths: Files and directories to check; directories are searched for ``*.py``.
        select: Rule codes or prefixes to report (all when None).
        ignore: Rule codes or prefixes never to report.
        exclude: fnmatch patterns of files and directories to leave out.
        strict: Report the seed pattern's whole checklist, not only the default rule set's real hazards.

    Raises:
        UsageError: A path does not exist, or a code is unknown.
    """
    codes = active_codes(select, ignore)
    files = discover(paths, exclude)
    parsed: list[ParsedFile] = []
    findings: list[Finding] = []
    for path in files:
        loaded = load(path)
        if isinstance(loaded, Finding):
            findings.append(loaded)
        else:
            parsed.append(loaded)
    findings.extend(_check(parsed, strict=strict))
    return LintReport(findings=_finish(findings, codes), files_checked=len(files))


def lint_paths(paths: Sequence[str | os.PathLike[str]], *, select: Codes = None, ignore: Codes = None,
               exclude: Iterable[str] = (), strict: bool = False) -> list[Finding]:
    """Check Python files and directories against the shared-LM pattern, without importing them.

    Classes are indexed across all the files first, so a module deriving from a module class defined in
    another of the files is recognised.

    Args:
        paths: Files and directories to check; directories are searched for ``*.py``, skipping hidden,
            ``__pycache__``, ``.venv``/``venv``, ``build``, ``dist`` and ``node_modules`` directories.
        select: Rule codes or prefixes to report, as a list or a comma-separated string (all when None).
        ignore: Rule codes or prefixes never to report.
        exclude: fnmatch patterns of files and directories to leave out.
        strict: Report the seed pattern's whole checklist (``sharedlm lint --strict``), not only the default
            rule set's real hazards.

    Returns:
        The findings not suppressed by ``# noqa``, sorted by file, line, column and code.

    Raises:
        UsageError: A path does not exist, or a code is unknown.
    """
    return run_lint(paths, select=select, ignore=ignore, exclude=exclude, strict=strict).findings


def lint_source(source: str, filename: str = "<string>", *, select: Codes = None,
                ignore: Codes = None, strict: bool = False) -> list[Finding]:
    """Check one module's source text on its own.

    Args:
        source: Python source.
        filename: The name findings carry.
        select: Rule codes or prefixes to report (all when None).
        ignore: Rule codes or prefixes never to report.
        strict: Report the whole checklist, not only the default rule set's real hazards.

    Returns:
        The findings not suppressed by ``# noqa``, sorted by line, column and code.

    Raises:
        UsageError: A code is unknown.
    """
    codes = active_codes(select, ignore)
    parsed = parse(filename, source)
    findings = [parsed] if isinstance(parsed, Finding) else _check([parsed], strict=strict)
    return _finish(findings, codes)


def _check(files: list[ParsedFile], *, strict: bool) -> list[Finding]:
    index = ProjectIndex(files)
    reach = compute_reach(index)
    module_rules = ModuleRules(index)
    asyncify_used = uses_asyncify(files)
    findings: list[Finding] = []
    for file in files:
        reported: list[Reported] = [*check_lm_rules(file, index, reach, asyncify_used=asyncify_used),
                                    *module_rules.check(file)]
        found = [item.finding for item in reported if strict or item.default]
        findings.extend(drop_suppressed(found, noqa_lines(file.source)))
    return findings


def _finish(findings: list[Finding], codes: frozenset[str]) -> list[Finding]:
    return sorted({finding for finding in findings if finding.code in codes})


__all__ = ["LintReport", "lint_paths", "lint_source", "run_lint"]
