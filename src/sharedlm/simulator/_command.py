"""``sharedlm simulate``: serve the simulated provider until interrupted.

It prints its base URL on stdout (one line, flushed) once it accepts connections and reports on stderr. SIGINT
(Ctrl-C) and SIGTERM both shut it down cleanly (connections closed, final stats printed); like every sharedlm
command it then exits 130 when interrupted (SIGINT), and 0 on SIGTERM, which is how
:class:`~sharedlm.simulator.SimulatorProcess` and service managers stop it, and when its ``--parent-pid`` is gone.
Bad option values are usage errors (exit 2) that name the option.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sharedlm._cli_types import real_number, whole_number
from sharedlm._errors import ConfigurationError, UsageError
from sharedlm.simulator._batch_store import BatchSettings
from sharedlm.simulator._settings import (
    DEFAULT_HOST,
    DEFAULT_IDLE_TIMEOUT_S,
    DEFAULT_MAX_HEAD_BYTES,
    DEFAULT_MAX_URL_BYTES,
    DEFAULT_PERSONALITY,
    DEFAULT_PORT,
    MODEL_LIMIT_FIELDS,
    PERSONALITY_NAMES,
    ModelLimits,
    SimulatorSettings,
)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INTERRUPTED = 130
# How often a server started with --parent-pid checks that its parent is still alive.
PARENT_CHECK_S = 1.0


_seconds = real_number("a number of seconds", low=0)
_limit = whole_number(low=1)
_rate = real_number("a probability", low=0, high=1)
_port = whole_number(low=0, high=65535)
_seed = whole_number()
_bytes = whole_number(low=1)
_positive_seconds = real_number("a number of seconds", low=0)


def _idle_timeout(text: str) -> float | None:
    if text.strip().lower() == "none":
        return None
    value = _positive_seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0 or 'none', got {text!r}")
    return value


def model_limit(text: str) -> ModelLimits:
    """Parse one ``--model-limit`` value, ``NAME:max_concurrency=32,rpm=600,tpm=100000``.

    The name ends at the last colon, so model ids with colons of their own (Bedrock's ``...-v1:0``) work.

    Args:
        text: The option's value.

    Raises:
        argparse.ArgumentTypeError: Naming the part that is wrong and what to write instead.
    """
    name, colon, spec = text.rpartition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"must be MODEL:LIMIT=N[,LIMIT=N...] such as "
                                         f"'gpt-4o-mini:max_concurrency=32', got {text!r}")
    values: dict[str, int] = {}
    for part in spec.split(","):
        key, equals, number = part.partition("=")
        key = key.strip().replace("-", "_")
        if not equals or key not in MODEL_LIMIT_FIELDS:
            raise argparse.ArgumentTypeError(f"{part.strip()!r} in {text!r} is not LIMIT=N with LIMIT one of "
                                             f"{', '.join(MODEL_LIMIT_FIELDS)}")
        if key in values:
            raise argparse.ArgumentTypeError(f"{key} is given twice in {text!r}")
        try:
            values[key] = _limit(number.strip())
        except argparse.ArgumentTypeError as exc:
            raise argparse.ArgumentTypeError(f"{key} in {text!r} {exc}") from None
    return ModelLimits(model=name, **values)


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
    parser.add_argument("--model-limit", type=model_limit, action="append", default=[], dest="model_limits",
                        metavar="MODEL:LIMIT=N,...",
                        help="limits of one model (the name requests carry, e.g. gpt-4o-mini), on top of the "
                             "server-wide ones: max_concurrency, rpm and/or tpm, e.g. "
                             "'gpt-4o-mini:max_concurrency=32,rpm=600'; repeat for more models")
    parser.add_argument("--error-rate", type=_rate, default=0.0, metavar="P", help="chance of a 500 or 503 answer")
    parser.add_argument("--reset-rate", type=_rate, default=0.0, metavar="P", help="chance of a connection reset")
    parser.add_argument("--hang-rate", type=_rate, default=0.0, metavar="P", help="chance of never answering")
    parser.add_argument("--seed", type=_seed, default=0, metavar="N", help="seed of faults, jitter and answers")
    parser.add_argument("--personality", choices=PERSONALITY_NAMES, default=DEFAULT_PERSONALITY,
                        help="reproduce a provider's limiting style, rate-limit headers and 429s: openai (token "
                             "buckets, x-ratelimit-* headers, no Retry-After), anthropic (token buckets, "
                             "anthropic-ratelimit-* headers, Retry-After in whole seconds), gemini (fixed windows, "
                             "RESOURCE_EXHAUSTED with RetryInfo), vllm (no 429: requests above --max-concurrency "
                             "queue); default: the simulator's own (sliding windows, exact Retry-After)")
    parser.add_argument("--max-head-bytes", type=_bytes, default=DEFAULT_MAX_HEAD_BYTES, metavar="N",
                        help=f"answer 431 to a request head over N bytes (default {DEFAULT_MAX_HEAD_BYTES})")
    parser.add_argument("--max-url-bytes", type=_bytes, default=DEFAULT_MAX_URL_BYTES, metavar="N",
                        help=f"answer 414 to a request URL over N bytes (default {DEFAULT_MAX_URL_BYTES})")
    parser.add_argument("--idle-timeout", type=_idle_timeout, default=DEFAULT_IDLE_TIMEOUT_S, metavar="S",
                        help=f"close a keep-alive connection idle for S seconds; 'none' never does "
                             f"(default {DEFAULT_IDLE_TIMEOUT_S:g})")
    parser.add_argument("--tls-cert", default=None, metavar="PEM",
                        help="serve HTTPS with this certificate (and --tls-key), as hosted providers do; clients "
                             "must trust it, e.g. SSL_CERT_FILE=PEM")
    parser.add_argument("--tls-key", default=None, metavar="PEM", help="the private key of --tls-cert")
    parser.add_argument("--batch-turnaround", type=_seconds, default=0.0, metavar="S",
                        help="seconds from a batch's creation until it is done (OpenAI, Anthropic and Gemini batch "
                             "APIs; default 0)")
    parser.add_argument("--batch-failure-rate", type=_rate, default=0.0, metavar="P",
                        help="chance that one batch line fails with a server error")
    parser.add_argument("--batch-expiry-rate", type=_rate, default=0.0, metavar="P",
                        help="chance that one batch line expires unprocessed")
    parser.add_argument("--batch-whole-failure-rate", type=_rate, default=0.0, metavar="P",
                        help="chance that a whole batch fails with no results")
    parser.add_argument("--batch-fail-first", type=whole_number(low=0), default=0, metavar="N",
                        help="fail the first N batches whole (for tests)")
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
            personality=getattr(args, "personality", DEFAULT_PERSONALITY),
            max_head_bytes=getattr(args, "max_head_bytes", DEFAULT_MAX_HEAD_BYTES),
            max_url_bytes=getattr(args, "max_url_bytes", DEFAULT_MAX_URL_BYTES),
            idle_timeout=getattr(args, "idle_timeout", DEFAULT_IDLE_TIMEOUT_S),
            batch=BatchSettings(turnaround=getattr(args, "batch_turnaround", 0.0),
                                line_failure_rate=getattr(args, "batch_failure_rate", 0.0),
                                line_expiry_rate=getattr(args, "batch_expiry_rate", 0.0),
                                batch_failure_rate=getattr(args, "batch_whole_failure_rate", 0.0),
                                fail_first_batches=getattr(args, "batch_fail_first", 0)),
            model_limits=tuple(getattr(args, "model_limits", ())),
            tls_cert=getattr(args, "tls_cert", None), tls_key=getattr(args, "tls_key", None),
        )
    except ConfigurationError as exc:
        message = str(exc)
        if message.startswith("model_limits"):
            raise UsageError("--model-limit" + message.removeprefix("model_limits")) from None
        for name in ("max_concurrency", "error_rate", "reset_rate", "hang_rate", "latency", "jitter", "rpm", "tpm",
                     "seed", "host", "port", "personality", "max_head_bytes", "max_url_bytes", "idle_timeout",
                     "tls_cert", "tls_key"):
            message = message.replace(name, "--" + name.replace("_", "-"))
        raise UsageError(message) from None


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT or SIGTERM; the exit code is 130 after SIGINT (Ctrl-C), 0 after SIGTERM.

    Args:
        args: The parsed ``simulate`` options.
    """
    import asyncio

    settings = settings_from_args(args)
    try:
        return asyncio.run(_serve(settings, getattr(args, "parent_pid", None)))
    except ConfigurationError as exc:  # a certificate or key that cannot be used
        raise UsageError(str(exc).replace("tls_cert=", "--tls-cert ").replace("tls_key=", "--tls-key ")) from None
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
    received: list[signal.Signals] = []

    def on_signal(signum: signal.Signals) -> None:
        received.append(signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    async with Simulator(settings) as simulator:
        print(simulator.base_url, flush=True)
        print(f"sharedlm simulate: serving at {simulator.root_url} with {settings!r}; stop with Ctrl-C",
              file=sys.stderr, flush=True)
        watcher = asyncio.create_task(_watch_parent(parent_pid, stop)) if parent_pid is not None else None
        await stop.wait()
        if watcher is not None:
            watcher.cancel()
        stats = simulator.stats()
    # The first signal decides: a Ctrl-C is an interruption (130, the CLI's convention), a SIGTERM a normal stop.
    interrupted = bool(received) and received[0] == signal.SIGINT
    how = "stopped by SIGINT (Ctrl-C)" if interrupted else "stopped"
    print(f"sharedlm simulate: {how} after {stats.requests} requests", file=sys.stderr, flush=True)
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


__all__ = ["EXIT_INTERRUPTED", "EXIT_OK", "register", "run", "settings_from_args"]
