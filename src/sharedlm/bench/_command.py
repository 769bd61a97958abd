"""The ``sharedlm bench`` subcommand: parse, check the outputs can be written, run, print, save.

Output files are checked before the run starts, so a long run is never lost to a bad path at the end. The
heavy work (DSPy, the simulator) happens in worker and simulator processes; at import time this module needs
only the standard library and the scenario names, so ``sharedlm --help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sharedlm._errors import UsageError
from sharedlm.bench._scenarios import SCENARIO_NAMES as _SCENARIOS
from sharedlm.bench._spec import ALL_VARIANTS as _VARIANTS

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130

DESCRIPTION = """\
Benchmark DSPy usage patterns side by side, each variant in its own process, against a local simulated
provider (or --api-base). Variants: lm-per-module, lm-per-call, seed-as-written, plain-shared, sharedlm
(plus raw-aiohttp, instant-engine and sharedlm-flow-off in the overhead scenario, and sleeping-engine, the same
program with no network on an engine that sleeps the latency, in personalities and long-latency). Scenarios:
connections, latency, rate-limited, budget, overhead, and the provider personalities of issue 14 (openai,
anthropic, gemini, vllm, personalities, long-latency). Prints a table per scenario and the claims; --json
writes the report for machines, --plot a PNG (needs matplotlib). Every worker has a hard timeout.
"""


def _positive(text: str) -> int:
    try:
        value = int(text.replace(",", "").replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} must be at least 1")
    return value


def add_arguments(parser: argparse.ArgumentParser, *, scenarios: bool = True) -> None:
    """The options shared by ``sharedlm bench`` and the scripts in ``benchmarks/``.

    Args:
        parser: The parser to extend.
        scenarios: Whether ``--scenario`` and ``--variant`` are offered.
    """
    if scenarios:
        parser.add_argument("--scenario", nargs="+", choices=_SCENARIOS, metavar="NAME",
                            help=f"scenarios to run, in order (default: all): {', '.join(_SCENARIOS)}")
        parser.add_argument("--variant", nargs="+", choices=_VARIANTS, metavar="NAME",
                            help=f"run only these variants where a scenario has them: {', '.join(_VARIANTS)}")
    parser.add_argument("--workflows", nargs="+", type=_positive, metavar="N",
                        help="units per job (workflows, or calls in the single-call scenarios), replacing each "
                             "scenario's default sizes")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, one repeat, slowest variants skipped at big sizes (about a minute)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="write the report as JSON")
    parser.add_argument("--plot", type=Path, metavar="FILE.png",
                        help="draw wall time and descriptors against workflows (needs matplotlib)")
    parser.add_argument("--api-base", metavar="URL",
                        help="benchmark this OpenAI-compatible provider instead of the simulator (key from "
                             "SHAREDLM_API_KEY or OPENAI_API_KEY); scenarios needing the simulator are skipped")
    parser.add_argument("--relaxed-gc", action="store_true",
                        help="run every job's batch under sharedlm.relaxed_gc(), as `sharedlm run` does (every "
                             "variant alike, plain ones too); the default is Python's own collector")
    parser.add_argument("--model", default="openai/bench-model",
                        help="DSPy model string the variants use (default: %(default)s)")


def register(subparsers: Any) -> None:
    """Add ``sharedlm bench`` to the CLI."""
    parser = subparsers.add_parser("bench", help="benchmark DSPy usage patterns against a simulated provider",
                                   description=DESCRIPTION)
    add_arguments(parser)
    parser.set_defaults(handler=handle)


def command_line() -> str:
    """How this process was started, for the report."""
    argv = list(sys.argv)
    if argv and argv[0].endswith("__main__.py"):
        head = ["python", "-m", Path(argv[0]).parent.name]
    else:
        head = [("python " if argv and argv[0].endswith(".py") else "") + (argv[0] if argv else "sharedlm")]
    return " ".join([*head, *(shlex.quote(a) for a in argv[1:])])


def _check_output(path: Path | None, what: str) -> None:
    if path is None:
        return
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise UsageError(f"{what} {path}: directory {parent} does not exist; create it or choose another path")
    if path.exists() and path.is_dir():
        raise UsageError(f"{what} {path} is a directory; give a file name")
    # Checked now, not after a run that may take many minutes.
    if not os.access(parent, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise UsageError(f"{what} {path} cannot be written (permission denied); choose another path")


def _plot_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def options_from_args(args: argparse.Namespace, *, scenarios: Sequence[str] | None = None,
                      variants: Mapping[str, tuple[str, ...]] | None = None) -> Any:
    """Build :class:`~sharedlm.bench.BenchOptions` from parsed arguments.

    Args:
        args: The parsed namespace.
        scenarios: Scenarios to run when the namespace does not name them.
        variants: Per-scenario variant filter when the namespace does not give one.

    Raises:
        UsageError: For an unusable ``--api-base`` or output path.
    """
    from sharedlm._env import find_api_key
    from sharedlm.bench._suite import BenchOptions

    _check_output(args.json, "--json")
    _check_output(args.plot, "--plot")
    if args.model is not None:
        from sharedlm._errors import ConfigurationError
        from sharedlm._providers import choose_route

        try:
            choose_route(args.model)  # before any job starts: each would crash on it
        except ConfigurationError as exc:
            raise UsageError(f"--model: {exc}") from None
    api_key = None
    if args.api_base:
        if not args.api_base.startswith(("http://", "https://")):
            raise UsageError(f"--api-base {args.api_base!r} must start with http:// or https://")
        api_key = find_api_key(args.model)
    chosen = getattr(args, "scenario", None) or scenarios or _SCENARIOS
    picked = getattr(args, "variant", None)
    if picked:
        variants = dict.fromkeys(chosen, tuple(picked))
    try:
        return BenchOptions(scenarios=tuple(dict.fromkeys(chosen)), sizes=tuple(args.workflows) if args.workflows
                            else None, quick=args.quick, api_base=args.api_base, model=args.model, api_key=api_key,
                            variants=variants, command=command_line(), relaxed_gc=args.relaxed_gc)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def run_and_report(options: Any, *, json_path: Path | None, plot_path: Path | None,
                   claims_for: Sequence[int] | None = None) -> tuple[int, dict[str, Any]]:
    """Run the suite, print its tables and claims, write the JSON and the plot.

    Args:
        options: What to run.
        json_path: Where to write the JSON report, or None.
        plot_path: Where to draw the plot, or None.
        claims_for: Show only these issues' claims; all when None.

    Returns:
        The exit code (1 when a scenario could not run or a job crashed or timed out, 130 when interrupted: the
        partial report is still printed and saved) and the report.
    """
    from sharedlm.bench._claims import evaluate_claims
    from sharedlm.bench._plot import PlotUnavailableError, write_plot
    from sharedlm.bench._report import make_console, print_report, write_json
    from sharedlm.bench._suite import run_bench

    if plot_path is not None and not _plot_available():
        print("sharedlm bench: --plot needs matplotlib (pip install 'sharedlm[plot]'); the run goes on without "
              "the plot", file=sys.stderr)
        plot_path = None
    report = run_bench(options)
    claims = evaluate_claims(report, claims_for) if claims_for is not None else None
    print_report(report, console=make_console(), claims=claims)
    if json_path is not None:
        write_json(report, json_path)
        print(f"sharedlm bench: wrote {json_path}", file=sys.stderr)
    if plot_path is not None:
        try:
            write_plot(report, plot_path)
            print(f"sharedlm bench: wrote {plot_path}", file=sys.stderr)
        except PlotUnavailableError as exc:
            print(f"sharedlm bench: {exc}", file=sys.stderr)
    broken = broken_jobs(report)
    if broken:
        print(f"sharedlm bench: {broken} job{'s' if broken != 1 else ''} crashed or timed out; their rows have no "
              "figures", file=sys.stderr)
    return exit_code(report), report


def broken_jobs(report: Mapping[str, Any]) -> int:
    """How many of the report's jobs crashed or timed out (rows without figures)."""
    from sharedlm.bench._launch import STATUS_CRASHED, STATUS_TIMED_OUT

    return sum(row.get("status") in (STATUS_CRASHED, STATUS_TIMED_OUT)
               for scenario in report["scenarios"].values() for row in scenario.get("rows", ()))


def exit_code(report: Mapping[str, Any]) -> int:
    """130 when the run was interrupted, 1 when a scenario could not run or a job crashed or timed out, else 0."""
    if report.get("interrupted"):
        return EXIT_INTERRUPTED
    stopped = any(scenario.get("error") for scenario in report["scenarios"].values())
    return EXIT_FAILED if stopped or broken_jobs(report) else EXIT_OK


def handle(args: argparse.Namespace) -> int:
    """Handler of ``sharedlm bench``."""
    options = options_from_args(args)
    code, _ = run_and_report(options, json_path=args.json, plot_path=args.plot)
    return code


__all__ = ["add_arguments", "broken_jobs", "command_line", "exit_code", "handle", "options_from_args", "register",
           "run_and_report"]
