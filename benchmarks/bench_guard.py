"""The runtime guard's cost on the hot path (issue 7: under 2% in the zero-latency benchmark).

One process runs the same zero-latency workload, a ``SharedLMModule`` program calling one predictor, in
alternating rounds with ``SHAREDLM_GUARD=warn`` and ``SHAREDLM_GUARD=off``; the simulator runs in its own
process. Alternating rounds in one process cancel most of the drift of a shared 2-core machine; the figure is
the ratio of the median throughputs.

Usage:
    python benchmarks/bench_guard.py [--calls N] [--rounds R] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

import dspy

import sharedlm
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

TARGET_MAX_COST = 0.02


class Ask(sharedlm.SharedLMModule):
    def __init__(self, shared_lm):
        super().__init__(shared_lm)
        self.answer = dspy.Predict("question -> answer")

    async def aforward(self, question):
        return await self.answer.acall(question=question)


async def _round(program: Ask, calls: int, tag: str) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(program.acall(question=f"{tag}-{i}") for i in range(calls)))
    return calls / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="calls per round (default 2000)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per mode (default 5)")
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)
    with SimulatorProcess(SimulatorSettings()) as sim:
        sharedlm.configure(model="openai/bench-model", api_key="bench-key", api_base=sim.base_url, cache=False,
                           max_parallel_requests=500)
        program = Ask(sharedlm.get_shared_lm())
        rates: dict[str, list[float]] = {"warn": [], "off": []}

        async def run() -> None:
            await _round(program, args.calls // 4, "warm-up")
            for index in range(args.rounds):
                for mode in ("warn", "off") if index % 2 == 0 else ("off", "warn"):
                    os.environ["SHAREDLM_GUARD"] = mode
                    rates[mode].append(await _round(program, args.calls, f"{mode}{index}"))

        asyncio.run(run())
    on, off = statistics.median(rates["warn"]), statistics.median(rates["off"])
    cost = 1 - on / off
    verdict = "PASS" if cost <= TARGET_MAX_COST else "FAIL"
    print(f"guard warn: median {on:,.1f} calls/s  runs {', '.join(f'{r:,.1f}' for r in rates['warn'])}")
    print(f"guard off:  median {off:,.1f} calls/s  runs {', '.join(f'{r:,.1f}' for r in rates['off'])}")
    print(f"guard cost: {cost:.2%} of throughput (target <= {TARGET_MAX_COST:.0%}): {verdict}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump({"command": " ".join(sys.argv), "warn": rates["warn"], "off": rates["off"], "cost": cost}, out)
    return 0 if verdict == "PASS" else 1


if __name__ == "__main__":
    sys.exit(main())
