"""Benchmark: two processes sharing one in-flight budget through Redis, against static halves and no coordination.

The provider is the simulator with a hard cap of ``--cap`` requests in flight (above it, it answers 429 at once)
and ``--latency`` seconds per answer. Two child processes call it through the shared LM at once, with more
calls in the air than the cap, in three set-ups side by side:

- ``redis``: both set ``SHAREDLM_BUDGET_URL`` and ``max_parallel_requests=cap``: one budget of ``cap`` leased
  in blocks through a ``redis-server`` started here (127.0.0.1, temporary directory);
- ``static halves``: each has ``max_parallel_requests=cap/2`` and ``budget_share=0.5``, the split configured
  by hand;
- ``uncoordinated``: each believes it owns the whole cap (``max_parallel_requests=cap``).

Two demand shapes: ``even`` (both processes have the same number of calls) and ``uneven`` (the first has three
times the second's): under static halves the first process keeps its half while the second idles.

Reported per set-up: wall time until both finished, the ideal (all calls / cap x latency), the simulator's peak
in flight and its 429 answers. Needs ``redis-server`` on PATH and the ``redis`` extra.

Usage::

    python benchmarks/bench_shared_budget.py              # cap 64, 0.2 s latency, 1,280 calls per shape
    python benchmarks/bench_shared_budget.py --calls 640  # quicker
    python benchmarks/bench_shared_budget.py --json results.json

Children are ``python benchmarks/bench_shared_budget.py --child BASE_URL CALLS MAX_PARALLEL SHARE``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sharedlm.simulator import SimulatorProcess, SimulatorSettings


async def _child(base_url: str, calls: int, max_parallel: int, share: float) -> None:
    import dspy

    import sharedlm

    sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=base_url, cache=False,
                       max_parallel_requests=max_parallel, budget_share=share)
    predict = dspy.Predict("text -> sentiment")
    predict.set_lm(sharedlm.get_shared_lm())
    outcomes = await asyncio.gather(*(predict.acall(text=f"review {n}") for n in range(calls)),
                                    return_exceptions=True)
    print(json.dumps({"ok": sum(not isinstance(o, BaseException) for o in outcomes), "calls": calls}), flush=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def redis_server() -> Iterator[str]:
    """A redis-server on 127.0.0.1 in a temporary directory; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (apt-get install redis-server)")
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        server = subprocess.Popen([binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", directory,
                                   "--save", "", "--appendonly", "no", "--logfile", ""],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            assert server.stdout is not None
            for line in server.stdout:
                if "Ready to accept connections" in line:
                    break
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            server.terminate()
            server.wait(timeout=30)


def run_pair(sim: SimulatorProcess, calls: tuple[int, int], *, max_parallel: int, share: float,
             budget_url: str | None) -> dict[str, Any]:
    """Run two children at once; returns wall time, the simulator's peak in flight and 429s, calls lost."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SHAREDLM_")}
    if budget_url is not None:
        env["SHAREDLM_BUDGET_URL"] = budget_url
    sim.reset()
    started = time.perf_counter()
    children = [subprocess.Popen([sys.executable, __file__, "--child", sim.base_url, str(count), str(max_parallel),
                                  str(share)], stdout=subprocess.PIPE, text=True, env=env) for count in calls]
    outputs = [json.loads(child.communicate()[0].strip().splitlines()[-1]) for child in children]
    wall = time.perf_counter() - started
    served = sim.stats()
    return {"wall_s": round(wall, 2), "peak_in_flight": served.peak_in_flight, "rate_limited": served.rate_limited,
            "lost": sum(o["calls"] - o["ok"] for o in outputs)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("BASE_URL", "CALLS", "MAX_PARALLEL", "SHARE"))
    parser.add_argument("--cap", type=int, default=64, help="the provider's in-flight cap (default 64)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per answer (default 0.2)")
    parser.add_argument("--calls", type=int, default=1280, help="calls per demand shape, both processes together")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    args = parser.parse_args()
    if args.child:
        base_url, calls, max_parallel, share = args.child
        asyncio.run(_child(base_url, int(calls), int(max_parallel), float(share)))
        return
    shapes = {"even": (args.calls // 2, args.calls // 2), "uneven": (args.calls * 3 // 4, args.calls // 4)}
    ideal = args.calls / args.cap * args.latency
    results: dict[str, dict[str, Any]] = {}
    with redis_server() as url, SimulatorProcess(SimulatorSettings(latency=args.latency,
                                                                   max_concurrency=args.cap)) as sim:
        for shape, calls in shapes.items():
            results[shape] = {
                "ideal_s": round(ideal, 2),
                "redis": run_pair(sim, calls, max_parallel=args.cap, share=1.0, budget_url=url),
                "static halves": run_pair(sim, calls, max_parallel=args.cap // 2, share=0.5, budget_url=None),
                "uncoordinated": run_pair(sim, calls, max_parallel=args.cap, share=1.0, budget_url=None),
            }
    print(f"provider: {args.cap} in flight, {args.latency:g} s per answer; {args.calls} calls per shape "
          f"(ideal {ideal:.2f} s)")
    print(f"{'shape':8} {'set-up':15} {'wall s':>7} {'x ideal':>8} {'peak':>5} {'429s':>6} {'lost':>5}")
    for shape, row in results.items():
        for setup in ("redis", "static halves", "uncoordinated"):
            r = row[setup]
            print(f"{shape:8} {setup:15} {r['wall_s']:7.2f} {r['wall_s'] / ideal:8.2f} {r['peak_in_flight']:5} "
                  f"{r['rate_limited']:6} {r['lost']:5}")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"cap": args.cap, "latency_s": args.latency, "calls": args.calls, "results": results}, file,
                      indent=2)


if __name__ == "__main__":
    main()
