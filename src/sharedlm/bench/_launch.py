"""Running one worker process with a hard timeout, and reading its one result line.

The worker runs in a session of its own so that a timeout kills it and everything it started (by its
process-group id, never by name). Its environment is the parent's minus every sharedlm and provider setting
(the job spec is the whole configuration), plus ``LITELLM_LOCAL_MODEL_COST_MAP=true`` so DSPy and LiteLLM never
reach for the network, ``NO_PROXY`` for the loopback addresses the benchmark talks to, and a ``SHAREDLM_STATE_DIR``
of its own, empty, so that every job starts with nothing learned.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, BinaryIO

from sharedlm._env import PROVIDER_KEY_VARIABLES
from sharedlm.bench._spec import RESULT_MARKER, JobSpec

WORKER_MODULE = "sharedlm.bench._worker"
STDERR_TAIL_CHARS = 1500
_LOOPBACK = "127.0.0.1,localhost,::1"
_DROPPED_PREFIXES = ("SHAREDLM_",)
_DROPPED_NAMES = frozenset({"MODEL_NAME", *(name for names in PROVIDER_KEY_VARIABLES.values() for name in names)})

STATUS_OK = "ok"
STATUS_TIMED_OUT = "timed out"
STATUS_CRASHED = "crashed"


@dataclass(frozen=True, kw_only=True)
class WorkerOutcome:
    """What came back from one worker.

    Args:
        status: ``"ok"`` (a result line arrived), ``"timed out"`` (killed) or ``"crashed"`` (no result line).
        result: The decoded result line, or None.
        elapsed_s: Seconds from start to exit, process start-up included.
        exit_code: The worker's exit code (negative: killed by that signal).
        stderr_tail: The end of its standard error, for a crash report.
    """

    status: str
    result: Mapping[str, Any] | None
    elapsed_s: float
    exit_code: int | None
    stderr_tail: str = ""


def worker_environment(base: Mapping[str, str]) -> dict[str, str]:
    """The environment of a worker: ``base`` without sharedlm or provider settings, with offline DSPy.

    Args:
        base: The parent's environment.
    """
    env = {k: v for k, v in base.items() if not k.startswith(_DROPPED_PREFIXES) and k not in _DROPPED_NAMES}
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "true"
    for name in ("NO_PROXY", "no_proxy"):
        env[name] = f"{env[name]},{_LOOPBACK}" if env.get(name) else _LOOPBACK
    env["PYTHONUNBUFFERED"] = "1"
    return env


def worker_command(python: str | None = None) -> list[str]:
    """The command line of a worker (``-P``: the current directory never shadows a module)."""
    return [python or sys.executable, "-P", "-m", WORKER_MODULE]


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The result line in a worker's standard output, or None.

    Args:
        stdout: Everything the worker printed.
    """
    for line in reversed(stdout.splitlines()):
        if line.startswith(RESULT_MARKER):
            try:
                decoded = json.loads(line[len(RESULT_MARKER):])
            except json.JSONDecodeError:
                return None
            return decoded if isinstance(decoded, dict) else None
    return None


def run_worker(spec: JobSpec, *, timeout_s: float, python: str | None = None) -> WorkerOutcome:
    """Run one job in a fresh worker process; kill it after ``timeout_s``.

    Args:
        spec: The job; sent on the worker's standard input.
        timeout_s: The hard limit on the worker's whole life, start-up included.
        python: The interpreter; the current one when None.
    """
    env = worker_environment(os.environ)
    started = time.monotonic()
    # A state directory of its own: what an earlier job learned about a simulator that happened to listen on the
    # same port must not start this one (each job measures a first run, as a new user's).
    with tempfile.TemporaryDirectory(prefix="sharedlm-bench-state-") as state, tempfile.TemporaryFile() as stderr:
        env["SHAREDLM_STATE_DIR"] = state
        process = subprocess.Popen(worker_command(python), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   stderr=stderr, env=env, start_new_session=True, text=True)
        try:
            stdout, _ = process.communicate(spec.to_json(), timeout=timeout_s)
            status = None
        except subprocess.TimeoutExpired:
            _kill_group(process)
            stdout, _ = process.communicate()
            status = STATUS_TIMED_OUT
        except BaseException:  # KeyboardInterrupt: never leave a worker behind
            _kill_group(process)
            process.wait()
            raise
        elapsed = time.monotonic() - started
        tail = redacted_tail(stderr, spec.api_key, STDERR_TAIL_CHARS)
    result = parse_result(stdout or "")
    if status is None:
        status = STATUS_OK if result is not None else STATUS_CRASHED
    return WorkerOutcome(status=status, result=result, elapsed_s=elapsed, exit_code=process.returncode,
                         stderr_tail=tail)


def redacted_tail(stream: BinaryIO, secret: str | None, chars: int) -> str:
    """The last ``chars`` characters of ``stream``, with ``secret`` replaced by ``***`` before the cut.

    Redacting first matters: a key that straddles the cut would otherwise survive in part. Only the end of the
    stream is read, with room for one whole key before the tail, so a huge stderr costs no memory.

    Args:
        stream: A seekable binary file, such as the worker's captured standard error.
        secret: The API key, or None.
        chars: How many characters to keep.
    """
    key_chars = len(secret) if secret else 0
    stream.seek(0, os.SEEK_END)
    start = max(0, stream.tell() - 4 * (chars + 2 * key_chars + 1))  # 4: the most bytes one UTF-8 character takes
    stream.seek(start)
    text = stream.read().decode(errors="replace")
    if start and key_chars:
        # The window may begin inside a key (or a character): drop what could be a part of one.
        text = text[key_chars + 1:]
    if secret:
        text = text.replace(secret, "***")
    return text[-chars:]


def _kill_group(process: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


__all__ = [
    "STATUS_CRASHED",
    "STATUS_OK",
    "STATUS_TIMED_OUT",
    "WorkerOutcome",
    "parse_result",
    "redacted_tail",
    "run_worker",
    "worker_command",
    "worker_environment",
]
