"""``python -m sharedlm.simulator [options]``: the same as ``sharedlm simulate [options]``.

:class:`~sharedlm.simulator.SimulatorProcess` starts the server this way, so that it imports only the simulator
and does not depend on the other subcommands.

Exit codes, as ``sharedlm simulate``: 0 stopped by SIGTERM (or its ``--parent-pid`` gone), 1 cannot serve, 2 usage
error, 130 interrupted (Ctrl-C / SIGINT, after a clean shutdown).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sharedlm._errors import ConfigurationError, UsageError
from sharedlm.simulator._command import EXIT_INTERRUPTED, register

EXIT_USAGE = 2


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
    except KeyboardInterrupt:  # Ctrl-C before the server's own handler is installed (while importing)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
