"""One measurement in a process of its own: ``python -m sharedlm.bench._worker`` (spec on stdin, result on stdout).

Running each variant in a fresh process keeps descriptors, memory and connection pools of one variant out of
the next one's figures. The worker lowers its own open-file limit first (when asked), before anything opens a
descriptor, then imports DSPy, builds the variant, runs an untimed warm-up and the timed batch of ``count``
units submitted at once, and prints one line: :data:`~sharedlm.bench._spec.RESULT_MARKER` + JSON.

Failures of single units are counted, never raised: a variant that runs out of descriptors is a result.

Result line fields: ``variant``, ``count``, ``wall_s``, ``units_ok``, ``units_failed``, ``errors`` (error kind ->
count), ``error_example``, ``fds_before``, ``peak_fds``, ``fd_samples_failed``, ``rss_peak_kb`` (``ru_maxrss``),
``rss_before_kb``, ``fd_limit`` ([soft, hard] in effect), ``engine`` (sharedlm's counters or null),
``completions`` (budget only: ``first_s``, ``last_s``, ``max_in_60s``).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import resource
import sys
import time
from bisect import bisect_right
from typing import Any

from sharedlm._gc import relaxed_gc
from sharedlm.bench._spec import RESULT_MARKER, JobSpec

ERROR_EXAMPLE_CHARS = 300
RATE_WINDOW_S = 60.0


def apply_fd_limit(spec: JobSpec) -> None:
    """Lower this process's open-file limit as the spec asks (soft only, or soft and hard)."""
    if spec.fd_limit is None:
        return
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new_hard = spec.fd_limit if spec.fd_limit_hard else hard
    resource.setrlimit(resource.RLIMIT_NOFILE, (spec.fd_limit, new_hard))


def error_kind(exc: BaseException) -> str:
    """A short name for why a unit failed: the outer type, or errno 24 when it is behind it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, OSError) and current.errno == errno.EMFILE:
            return "OSError(24, too many open files)"
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return type(exc).__name__


def _scrub(text: str, secret: str) -> str:
    return text.replace(secret, "***") if secret else text


def _rss_now_kb() -> int:
    try:
        with open("/proc/self/statm") as statm:
            pages = int(statm.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * resource.getpagesize() // 1024


def completion_summary(offsets: list[float]) -> dict[str, Any]:
    """When units finished: first, last, and the most that finished within any 60 s window.

    Args:
        offsets: Seconds from the start of the timed batch at which each successful unit finished.
    """
    if not offsets:
        return {"first_s": None, "last_s": None, "max_in_60s": 0}
    ordered = sorted(offsets)
    most = max(bisect_right(ordered, start + RATE_WINDOW_S) - i for i, start in enumerate(ordered))
    return {"first_s": ordered[0], "last_s": ordered[-1], "max_in_60s": most}


async def measure(spec: JobSpec) -> dict[str, Any]:
    """Build the variant, warm it up, run the timed batch and collect the figures."""
    from sharedlm.bench._fdsampler import DescriptorSampler
    from sharedlm.bench._variants import build_runner

    sampler = DescriptorSampler().start()
    fds_before = sampler.sample()
    rss_before_kb = _rss_now_kb()
    runner = build_runner(spec)
    errors: dict[str, int] = {}
    example: list[str] = []
    completions: list[float] = []
    started = 0.0

    async def one(index: int, timed: bool) -> bool:
        try:
            await runner.run(index)
        except Exception as exc:
            if timed:
                kind = error_kind(exc)
                errors[kind] = errors.get(kind, 0) + 1
                if not example:
                    example.append(_scrub(f"{type(exc).__name__}: {exc}", spec.api_key)[:ERROR_EXAMPLE_CHARS])
            return False
        if timed and spec.record_completions:
            completions.append(time.perf_counter() - started)
        return True

    with relaxed_gc() if spec.relaxed_gc else contextlib.nullcontext():
        try:
            if spec.warmup:
                # Indices past the timed batch keep warm-up prompts distinct from measured ones.
                await asyncio.gather(*(one(spec.count + i, False) for i in range(spec.warmup)))
            sampler.restart_peak()
            started = time.perf_counter()
            outcomes = await asyncio.gather(*(one(i, True) for i in range(spec.count)))
            wall_s = time.perf_counter() - started
            engine = runner.engine_stats()
        finally:
            peak_fds = sampler.stop()
            await runner.aclose()
    ok = sum(outcomes)
    return {
        "variant": spec.variant,
        "count": spec.count,
        "relaxed_gc": spec.relaxed_gc,
        "wall_s": wall_s,
        "units_ok": ok,
        "units_failed": spec.count - ok,
        "errors": errors,
        "error_example": example[0] if example else None,
        "fds_before": fds_before,
        "peak_fds": peak_fds,
        "fd_samples_failed": sampler.failed_samples,
        "rss_before_kb": rss_before_kb,
        "rss_peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "fd_limit": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "engine": engine,
        "completions": completion_summary(completions) if spec.record_completions else None,
    }


def main() -> int:
    """Read the spec from stdin, measure, print the result line; exit 0 when a result was printed."""
    spec = JobSpec.from_json(sys.stdin.read())
    apply_fd_limit(spec)
    result = asyncio.run(measure(spec))
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
