"""``python -m sharedlm.simulator [options]``: the same as ``sharedlm simulate [options]``.

:class:`~sharedlm.simulator.SimulatorProcess` starts the server this way, so that it imports only the simulator
and does not depend on the other subcommands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sharedlm._errors import ConfigurationError, UsageError
from sharedlm.simulator._command import register

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``simulate`` options and serve.

    Args:
        argv: The options, without the program name; ``sys.argv[1:]`` when None.
    """
    parser = argparse.ArgumentParser(prog="sharedlm")
    register(parser.add_subparsers())
    args = parser.parse_args(["simulate", *(sys.argv[1:] if argv is None else argv)])
    try:
        return int(args.handler(args))
    except (UsageError, ConfigurationError) as exc:
        print(f"sharedlm: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
