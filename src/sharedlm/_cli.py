"""The ``sharedlm`` command: argument parsing and dispatch to one module per subcommand.

Each subcommand lives in its own ``_command`` module exposing ``register(subparsers)``; that function adds
its parser and sets ``handler`` (a callable taking the parsed namespace and returning an exit code).
Command modules import heavy dependencies (DSPy, aiohttp) inside their handlers so ``--help`` stays fast.

Exit codes: 0 success, 1 work failed, 2 usage or configuration error, 3 the spend cap (``--max-cost``) stopped
the run, 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from sharedlm._errors import ConfigurationError, UsageError

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_SPEND_CAP = 3
EXIT_INTERRUPTED = 130

# Subcommand modules, in the order `sharedlm --help` lists them.
COMMAND_MODULES = (
    "sharedlm.runner._command",
    "sharedlm.simulator._command",
    "sharedlm.bench._command",
    "sharedlm.lint._command",
)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every available subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="sharedlm",
        description="Run many concurrent DSPy workflows through one shared, pooled, flow-controlled LM.",
    )
    from sharedlm._version import __version__

    parser.add_argument("--version", action="version", version=f"sharedlm {__version__}")
    subparsers = parser.add_subparsers(title="commands", metavar="COMMAND")
    for name in COMMAND_MODULES:
        # A subcommand that fails to import is a broken install, never a silently missing command.
        module = importlib.import_module(name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sharedlm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(handler(args))
    except (UsageError, ConfigurationError) as exc:
        print(f"sharedlm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("sharedlm: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
