"""Issue 5's rate-limited scenario at the engine level, without DSPy's per-call work.

3,000 requests submitted at once through the shared engine to a simulator capped at 64 in flight with 0.2 s
latency: wall time against the ideal (3,000 / 64 x 0.2 s = 9.375 s) and the 429s the server answered. Set
beside ``sharedlm bench --scenario rate-limited`` (the same load through ``dspy.Predict``), the two show how
much of the gap to the ideal is the engine's pacing and how much is DSPy's per-call CPU.

Usage:
    python benchmarks/bench_engine_rate_limited.py [--calls N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

from dspy.lm15 import Message, Request

import sharedlm
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

CAPACITY, LATENCY_S = 64, 0.2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000, help="requests submitted at once (default 3000)")
    args = parser.parse_args(argv)
    ideal = args.calls / CAPACITY * LATENCY_S
    with SimulatorProcess(SimulatorSettings(latency=LATENCY_S, max_concurrency=CAPACITY)) as sim:
        sharedlm.configure(model="openai/bench-model", api_key="bench-key", api_base=sim.base_url, cache=False,
                           max_retries=50)
        engine = sharedlm.get_shared_lm().engine.engine

        async def run() -> float:
            requests = [Request(model="openai/bench-model", messages=(Message.user(f"q{i}"),))
                        for i in range(args.calls)]
            started = time.perf_counter()
            await asyncio.gather(*(engine.complete(request) for request in requests))
            return time.perf_counter() - started

        wall = asyncio.run(run())
        server = sim.stats()
    rejected, ok = server.responses_by_status.get(429, 0), server.responses_by_status.get(200, 0)
    print(f"engine only: {args.calls:,} calls in {wall:.3f} s = {wall / ideal:.3f}x ideal ({ideal:.3f} s); "
          f"server 429s {rejected:,} = {rejected / max(ok, 1):.2%} of {ok:,} successes; failed calls "
          f"{sharedlm.stats().calls_failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
