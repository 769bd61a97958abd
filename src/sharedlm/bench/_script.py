"""The shared body of the scripts in ``benchmarks/``: a chosen set of scenarios, the issues' claims, a verdict.

``python benchmarks/bench_core.py [--quick] [--json FILE]`` and friends call :func:`script_main`; all logic
lives here and in the rest of :mod:`sharedlm.bench`, the scripts only say which scenarios and claims.
Exit codes: 0 every claim with a target passed, 1 a claim failed or a scenario could not run, 2 usage error,
130 interrupted (the partial report is still printed and saved).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence

from sharedlm._errors import ConfigurationError, UsageError
from sharedlm.bench._command import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    add_arguments,
    options_from_args,
    run_and_report,
)

EXIT_USAGE = 2


def script_main(argv: Sequence[str] | None, *, description: str, scenarios: Sequence[str], issues: Sequence[int],
                variants: Mapping[str, tuple[str, ...]] | None = None) -> int:
    """Run ``scenarios``, print their tables and the claims of ``issues``, and return the verdict.

    Args:
        argv: The script's arguments (``sys.argv[1:]`` when None).
        description: The script's ``--help`` text.
        scenarios: The scenarios to run, in order.
        issues: Whose claims to print and judge.
        variants: Per scenario, the variants to run (all when None).
    """
    parser = argparse.ArgumentParser(description=description)
    add_arguments(parser, scenarios=False)
    args = parser.parse_args(argv)
    try:
        options = options_from_args(args, scenarios=scenarios, variants=variants)
        code, report = run_and_report(options, json_path=args.json, plot_path=args.plot, claims_for=issues)
    except (UsageError, ConfigurationError) as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if code == EXIT_INTERRUPTED:
        return code
    from sharedlm.bench._claims import evaluate_claims

    failed = [c for c in evaluate_claims(report, issues) if c["passed"] is False]
    for claim in failed:
        print(f"{parser.prog}: FAIL (issue {claim['issue']}): {claim['claim']}: {claim['measured']}", file=sys.stderr)
    return EXIT_FAILED if failed or code != EXIT_OK else EXIT_OK


__all__ = ["script_main"]
