"""``sharedlm simulate``: serve the simulated provider until interrupted.

It prints its base URL on stdout (one line, flushed) once it accepts connections, reports on stderr, and exits 0
on SIGINT or SIGTERM. Bad option values are usage errors (exit 2) that name the option.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sharedlm._cli_types import real_number, whole_number
from sharedlm._errors import ConfigurationError, UsageError
from sharedlm.simulator._settings import DEFAULT_HOST, DEFAULT_PORT, SimulatorSettings

EXIT_OK = 0
EXIT_FAILED = 1
# How often a server started with --parent-pid checks that its parent is still alive.
PARENT_CHECK_S = 1.0


_seconds = real_number("a number of seconds", low=0)
_limit = whole_number(low=1)
_rate = real_number("a probability", low=0, high=1)
_port = whole_number(low=0, high=65535)
_seed = whole_number()


def register(subparsers: Any) -> None:
    """Add the ``simulate`` subcommand.

    Args:
        subparsers: The top-level parser's subparsers action.
    """
    parser = subparsers.add_parser(
        "simulate",
        help="serve a local stand-in for an LLM provider (OpenAI, Gemini and Anthropic APIs)",
        description="Serve a simulated LLM provider that answers like one and fails like one: latency, "
                    "concurrency caps, request and token budgets (429 with Retry-After), 5xx, connection resets "
                    "and hangs. Prints its base URL on stdout; runs until interrupted. Statistics: GET /sim/stats.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port to bind; 0 picks a free one (default 0)")
    parser.add_argument("--latency", type=_seconds, default=0.0, metavar="S", help="mean answer delay in seconds")
    parser.add_argument("--jitter", type=_seconds, default=0.0, metavar="S",
                        help="delays are uniform in [latency-jitter, latency+jitter], clamped at 0")
    parser.add_argument("--max-concurrency", type=_limit, metavar="N", help="429 above N requests in flight")
    parser.add_argument("--rpm", type=_limit, metavar="N", help="requests per sliding minute")
    parser.add_argument("--tpm", type=_limit, metavar="N", help="tokens (prompt + answer) per sliding minute")
    parser.add_argument("--error-rate", type=_rate, default=0.0, metavar="P", help="chance of a 500 or 503 answer")
    parser.add_argument("--reset-rate", type=_rate, default=0.0, metavar="P", help="chance of a connection reset")
    parser.add_argument("--hang-rate", type=_rate, default=0.0, metavar="P", help="chance of never answering")
    parser.add_argument("--seed", type=_seed, default=0, metavar="N", help="seed of faults, jitter and answers")
    # SimulatorProcess passes its own pid, so that a crashed benchmark does not leave servers behind.
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def settings_from_args(args: argparse.Namespace) -> SimulatorSettings:
    """Settings from parsed options; a bad combination is a :class:`UsageError` naming the options.

    Args:
        args: The parsed ``simulate`` options.
    """
    try:
        return SimulatorSettings(
            host=args.host, port=args.port, latency=args.latency, jitter=args.jitter,
            max_concurrency=args.max_concurrency, rpm=args.rpm, tpm=args.tpm, error_rate=args.error_rate,
            reset_rate=args.reset_rate, hang_rate=args.hang_rate, seed=args.seed,
        )
    except ConfigurationError as exc:
        message = str(exc)
        for name in ("max_concurrency", "error_rate", "reset_rate", "hang_rate", "latency", "jitter", "rpm", "tpm",
                     "seed", "host", "port"):
            message = message.replace(name, "--" + name.replace("_", "-"))
        raise UsageError(message) from None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM.

    Args:
        args: The parsed ``simulate`` options.
    """
    import asyncio

    settings = settings_from_args(args)
    try:
        return asyncio.run(_serve(settings, getattr(args, "parent_pid", None)))
    except OSError as exc:
        print(f"sharedlm simulate: cannot serve on {settings.host}:{settings.port}: {exc}", file=sys.stderr)
        return EXIT_FAILED


async def _watch_parent(parent_pid: int, stop: Any) -> None:
    import asyncio
    import os

    while not stop.is_set():
        if os.getppid() != parent_pid:
            print(f"sharedlm simulate: parent process {parent_pid} is gone; stopping", file=sys.stderr, flush=True)
            stop.set()
            return
        await asyncio.sleep(PARENT_CHECK_S)


async def _serve(settings: SimulatorSettings, parent_pid: int | None = None) -> int:
    import asyncio
    import signal

    from sharedlm.simulator._server import Simulator

    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Simulator(settings) as simulator:
        print(simulator.base_url, flush=True)
        print(f"sharedlm simulate: serving at {simulator.root_url} with {settings!r}; stop with Ctrl-C",
              file=sys.stderr, flush=True)
        watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid is not None else None
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
        stats = simulator.stats()
    print(f"sharedlm simulate: stopped after {stats.requests} requests", file=sys.stderr, flush=True)
    return EXIT_OK


__all__ = ["register", "run", "settings_from_args"]
