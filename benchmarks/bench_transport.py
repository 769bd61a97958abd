"""CPU per request of sharedlm's HTTP path against aiohttp, side by side in one process.

Three clients send the same OpenAI chat request to a zero-latency simulator in its own process, 8 at a time:

- ``aiohttp``: one ``aiohttp.ClientSession`` POSTing the body and decoding the JSON answer (what the shared
  transport used for every request before it had its own HTTP/1.1 client);
- ``sharedlm-http11``: the same bytes through sharedlm's HTTP/1.1 pool (``PooledTransport.stream``);
- ``engine``: ``SharedEngine.complete`` on a ``dspy.lm15.Request``: lm15 building the body and parsing the
  answer, pacing, retries and the HTTP/1.1 pool, all that the shared LM adds to DSPy's own work per call.

The garbage collector is off while a client is timed (it is collected before), so the figures are the code's
own CPU. Clients alternate over the repeats so drift of a noisy machine does not favour one of them.

Usage:
    python benchmarks/bench_transport.py [--requests N] [--repeats N] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

import aiohttp
from dspy.lm15 import Message, Request

import sharedlm
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

CONCURRENCY = 8
PROMPT = "Answer the question in a few words. " * 40
WARMUP = 200


async def _measure(send: Callable[[], Awaitable[Any]], count: int) -> tuple[float, float]:
    """CPU and wall microseconds per request for ``count`` requests, ``CONCURRENCY`` at a time."""
    for _ in range(WARMUP):
        await send()
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            await send()

    gc.collect()
    gc.disable()
    try:
        cpu, wall = time.process_time(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(count)))
        return (time.process_time() - cpu) / count * 1e6, (time.perf_counter() - wall) / count * 1e6
    finally:
        gc.enable()


async def _run(base_url: str, count: int, repeats: int) -> dict[str, list[tuple[float, float]]]:
    sharedlm.configure(model="openai/bench-model", api_key="bench-key", api_base=base_url, cache=False)
    engine = sharedlm.get_shared_lm().engine.engine
    transport = engine.transport
    url = base_url.rstrip("/") + "/chat/completions"
    body = json.dumps({"model": "bench-model", "messages": [{"role": "user", "content": PROMPT}]}).encode()
    headers = [("Authorization", "Bearer bench-key"), ("Content-Type", "application/json")]
    request = Request(model="openai/bench-model", messages=(Message.user(PROMPT),))

    class _Wire:
        """A transport request as lm15 builds it."""

        def __init__(self) -> None:
            self.method, self.url, self.headers, self.body = "POST", url, headers, body

    wire = _Wire()

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as session:
        async def with_aiohttp() -> None:
            async with session.post(url, data=body, headers=dict(headers)) as response:
                json.loads(await response.read())

        async def with_http11() -> None:
            async with transport.stream(wire) as response:
                json.loads(await response.read())

        async def with_engine() -> None:
            await engine.complete(request)

        clients = {"aiohttp": with_aiohttp, "sharedlm-http11": with_http11, "engine": with_engine}
        results: dict[str, list[tuple[float, float]]] = {name: [] for name in clients}
        names = list(clients)
        for repeat in range(repeats):
            for name in names[repeat % len(names):] + names[:repeat % len(names)]:
                results[name].append(await _measure(clients[name], count))
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000, help="requests per client and repeat (default 5000)")
    parser.add_argument("--repeats", type=int, default=3, help="repeats per client (default 3)")
    parser.add_argument("--json", metavar="FILE", help="write the figures as JSON")
    args = parser.parse_args(argv)
    with SimulatorProcess(SimulatorSettings(latency=0.0)) as sim:
        results = asyncio.run(_run(sim.base_url, args.requests, args.repeats))
    medians = {name: statistics.median(cpu for cpu, _ in runs) for name, runs in results.items()}
    print(f"{args.requests:,} requests x {args.repeats} repeats per client, {CONCURRENCY} at a time, GC off, zero "
          "latency (median CPU per request)")
    print(f"{'client':<16} {'CPU us/request':>15} {'wall us/request':>16}   runs (CPU us)")
    for name, runs in results.items():
        wall = statistics.median(w for _, w in runs)
        print(f"{name:<16} {medians[name]:>15.1f} {wall:>16.1f}   {', '.join(f'{cpu:.1f}' for cpu, _ in runs)}")
    print(f"sharedlm-http11 / aiohttp CPU per request: {medians['sharedlm-http11'] / medians['aiohttp']:.3f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump({"requests": args.requests, "repeats": args.repeats, "concurrency": CONCURRENCY,
                       "runs_us": results, "median_cpu_us": medians}, handle, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
