"""The ``sharedlm lint`` subcommand: argument parsing, text and JSON output, exit codes.

Exit 0 when nothing is found, 1 when there are findings, 2 on a usage error (a missing path, an unknown
rule code). Findings go to stdout; the one-line summary goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from sharedlm.lint._rules import RULES

EXIT_CLEAN = 0
EXIT_FINDINGS = 1
FORMATS = ("text", "json")

_DESCRIPTION = (
    "Check Python files against the shared-LM pattern without importing them. By default it reports real "
    "hazards only: LMs built per request, per instance or per loop iteration, several module-level LMs for one "
    "model, predictors left unbound where the code otherwise binds LMs, and knobs that do nothing on DSPy 3.4. "
    "--strict adds the rest of the checklist. Directories are searched for *.py."
)
_EPILOG = (
    "Suppress one finding with a `# noqa: SLM001` comment on its line (a bare `# noqa` suppresses all). "
    "Exit status: 0 clean, 1 findings, 2 usage error. Rules: `sharedlm lint --list-rules`."
)


def register(subparsers: Any) -> None:
    """Add the ``lint`` subcommand to the ``sharedlm`` parser.

    Args:
        subparsers: What ``ArgumentParser.add_subparsers()`` returned.
    """
    parser = subparsers.add_parser(
        "lint", help="check code against the shared-LM pattern (static, no imports)",
        description=_DESCRIPTION, epilog=_EPILOG,
    )
    parser.add_argument("paths", nargs="*", metavar="PATH", help="files and directories to check")
    parser.add_argument("--format", choices=FORMATS, default="text",
                        help="text: one `path:line:col: CODE message (fix: ...)` line per finding; "
                        "json: a list of {file, line, column, code, message, fix} objects (default: text)")
    parser.add_argument("--select", action="append", metavar="CODES",
                        help="only report these comma-separated codes or prefixes (repeatable; default: all)")
    parser.add_argument("--ignore", action="append", metavar="CODES",
                        help="never report these comma-separated codes or prefixes (repeatable)")
    parser.add_argument("--exclude", action="append", default=[], metavar="PATTERN",
                        help="leave out files and directories whose name or path matches this fnmatch pattern "
                        "(repeatable), e.g. tests/lint/fixtures")
    parser.add_argument("--strict", action="store_true",
                        help="report the seed pattern's whole checklist (every predictor explicitly bound, LMs only "
                        "from a lazy cached factory, constructors checking their LM), not only the real hazards "
                        "the default rule set reports")
    parser.add_argument("--list-rules", action="store_true", help="print the rules and exit")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Handle ``sharedlm lint``: check the paths and print the findings.

    Args:
        args: The parsed command line.

    Raises:
        UsageError: A path does not exist or a code is unknown (the CLI exits 2).
    """
    if args.list_rules:
        _print_rules(args.format)
        return EXIT_CLEAN
    from sharedlm.lint._linter import run_lint

    report = run_lint(args.paths, select=args.select, ignore=args.ignore, exclude=args.exclude, strict=args.strict)
    if args.format == "json":
        json.dump([finding.as_dict() for finding in report.findings], sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        for finding in report.findings:
            print(finding.as_text())
    print(_summary(len(report.findings), report.files_with_findings, report.files_checked), file=sys.stderr)
    return EXIT_FINDINGS if report.findings else EXIT_CLEAN


def _summary(findings: int, files_with_findings: int, files_checked: int) -> str:
    checked = f"{files_checked} file{'' if files_checked == 1 else 's'} checked"
    if files_checked == 0:
        return "sharedlm lint: no Python files found under the given paths"
    if findings == 0:
        return f"sharedlm lint: no findings ({checked})"
    return (f"sharedlm lint: {findings} finding{'' if findings == 1 else 's'} in {files_with_findings} "
            f"file{'' if files_with_findings == 1 else 's'} ({checked})")


def _print_rules(output_format: str) -> None:
    if output_format == "json":
        rules = [{"code": r.code, "name": r.name, "summary": r.summary, "fix": r.fix, "rule_set": r.rule_set}
                 for r in RULES.values()]
        json.dump(rules, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return
    for rule in RULES.values():
        print(f"{rule.code} {rule.name} ({rule.rule_set})\n    {rule.summary}\n    fix: {rule.fix}")


__all__ = ["register", "run"]
