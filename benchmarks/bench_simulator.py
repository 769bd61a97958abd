"""How fast the provider simulator serves, so that it is never the bottleneck of a benchmark.

The simulator runs in a child process (its own core); this process is the client: one raw aiohttp session with a
pool of keep-alive connections and as many workers, sending a fixed number of requests. Per scenario it reports
what the client got (requests/s, wall clock) and what the server spent (CPU microseconds per request, from
/proc), whose inverse is the most one server core can serve when the client is not the limit.

Scenarios, side by side in one run:

- ``chat``: a DSPy ChatAdapter prompt (typed fields), the same every time: the answer template cache hits.
- ``chat-distinct``: every request a different signature: the template is parsed every time (cache misses).
- ``json-schema``: a JSONAdapter prompt with a ``response_format`` JSON schema, the same every time.
- ``stream``: the ``chat`` prompt with ``stream=true`` (server-sent events).
- ``aiohttp-web``: the "before": an ``aiohttp.web`` server doing only the wire work (parse the JSON body,
  serialize a chat completion), with none of the simulator's logic.

Each scenario runs ``--rounds`` times (3, or 1 with ``--quick``), interleaved, and the table shows each
scenario's median round. The machine's load average is printed before and after: other work on a 2-core
machine halves these figures, so compare ratios taken in one run.

Usage: ``python benchmarks/bench_simulator.py [--quick] [--rounds N] [--requests N] [--connections N]
[--json PATH]``. The target: at least 3,000 requests/s for ``chat`` on a 2-core machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TARGET_RPS = 3000.0
FULL_REQUESTS = 20_000
QUICK_REQUESTS = 3_000
DEFAULT_CONNECTIONS = 100
WARMUP_REQUESTS = 1_000
FULL_ROUNDS = 3
START_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Result:
    scenario: str
    requests: int
    errors: int
    wall_s: float
    client_rps: float
    server_cpu_us_per_request: float
    server_capacity_rps: float
    client_cpu_share: float  # this process's CPU time / wall time: near 1.0 means the client is the limit


# --- request bodies ------------------------------------------------------------------------------------------------


def _dspy_messages(signature: Any, adapter: Any) -> list[dict[str, Any]]:
    return adapter.format(signature, demos=[], inputs={"question": "What is the capital of France?"})


def _chat_bodies(n: int, *, distinct: bool, stream: bool = False) -> list[bytes]:
    import dspy

    adapter = dspy.ChatAdapter()
    spec = "question -> answer: str, confidence: float, tags: list[str], ok: bool"
    if not distinct:
        body = {"model": "sim-model", "messages": _dspy_messages(dspy.Signature(spec), adapter), "stream": stream}
        return [json.dumps(body).encode()]
    bodies = []
    for i in range(n):
        signature = dspy.Signature(spec, instructions=f"Answer question number {i}.")
        bodies.append(json.dumps({"model": "sim-model", "messages": _dspy_messages(signature, adapter)}).encode())
    return bodies


def _json_schema_bodies() -> list[bytes]:
    import dspy
    import pydantic

    signature = dspy.Signature("question -> answer: str, confidence: float, tags: list[str], ok: bool")
    outputs = pydantic.create_model("Outputs", **{n: (f.annotation, ...) for n, f in signature.output_fields.items()})
    body = {"model": "sim-model", "messages": _dspy_messages(signature, dspy.JSONAdapter()),
            "response_format": {"type": "json_schema",
                                "json_schema": {"name": "Outputs", "schema": outputs.model_json_schema()}}}
    return [json.dumps(body).encode()]


# --- servers -------------------------------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _simulator() -> Iterator[tuple[str, int]]:
    from sharedlm.simulator import SimulatorProcess

    with SimulatorProcess() as sim:
        yield sim.base_url, sim.pid


@contextmanager
def _aiohttp_baseline() -> Iterator[tuple[str, int]]:
    process = subprocess.Popen([sys.executable, __file__, "--serve-aiohttp-baseline"], stdout=subprocess.PIPE,
                               text=True)
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("the aiohttp.web baseline server did not start")
        yield url, process.pid
    finally:
        process.terminate()
        process.wait(10)


def serve_aiohttp_baseline() -> None:
    """The "before" server: aiohttp.web doing the wire work of a chat completion and nothing else."""
    import signal

    import orjson
    from aiohttp import web

    async def complete(request: web.Request) -> web.Response:
        data = orjson.loads(await request.read())
        answer = {"id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()), "model": data["model"],
                  "choices": [{"index": 0, "message": {"role": "assistant", "content": "[[ ## answer ## ]]\nParis\n\n"
                                                       "[[ ## completed ## ]]"}, "finish_reason": "stop"}],
                  "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110}}
        return web.Response(body=orjson.dumps(answer), content_type="application/json")

    async def main() -> None:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", complete)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
        await site.start()
        port = runner.addresses[0][1]
        print(f"http://127.0.0.1:{port}/v1", flush=True)
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        await stop.wait()
        await runner.cleanup()

    asyncio.run(main())


# --- client --------------------------------------------------------------------------------------------------------


async def _drive(url: str, bodies: Sequence[bytes], requests: int, connections: int) -> tuple[int, float]:
    import aiohttp

    errors = 0
    sent = 0
    headers = {"content-type": "application/json", "authorization": "Bearer test-key"}
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker() -> None:
            nonlocal errors, sent
            while sent < requests:
                body = bodies[sent % len(bodies)]
                sent += 1
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                    if response.status != 200:
                        errors += 1

        started = time.perf_counter()
        await asyncio.gather(*[worker() for _ in range(connections)])
        return errors, time.perf_counter() - started


def _measure(name: str, server: Callable[[], Any], bodies: Sequence[bytes], requests: int,
             connections: int) -> Result:
    with server() as (base_url, pid):
        url = f"{base_url}/chat/completions"
        asyncio.run(_drive(url, bodies, min(WARMUP_REQUESTS, requests), connections))
        cpu_before, client_before = _cpu_seconds(pid), time.process_time()
        errors, wall = asyncio.run(_drive(url, bodies, requests, connections))
        server_cpu, client_cpu = _cpu_seconds(pid) - cpu_before, time.process_time() - client_before
    per_request_us = server_cpu / requests * 1e6
    return Result(name, requests, errors, wall, requests / wall, per_request_us,
                  1e6 / per_request_us if per_request_us else float("inf"), client_cpu / wall)


def run(requests: int, connections: int, rounds: int) -> list[list[Result]]:
    """Measure every scenario ``rounds`` times, interleaved, with the same client settings.

    Args:
        requests: Requests per scenario and round (after a warm-up).
        connections: Keep-alive connections (and concurrent workers) of the client.
        rounds: How often to measure each scenario.
    """
    print(f"preparing request bodies ({requests:,} distinct prompts for chat-distinct)...", file=sys.stderr)
    scenarios: list[tuple[str, Callable[[], Any], Sequence[bytes]]] = [
        ("chat", _simulator, _chat_bodies(1, distinct=False)),
        ("chat-distinct", _simulator, _chat_bodies(requests, distinct=True)),
        ("json-schema", _simulator, _json_schema_bodies()),
        ("stream", _simulator, _chat_bodies(1, distinct=False, stream=True)),
        ("aiohttp-web", _aiohttp_baseline, _chat_bodies(1, distinct=False)),
    ]
    results: list[list[Result]] = [[] for _ in scenarios]
    for round_number in range(1, rounds + 1):
        for runs, (name, server, bodies) in zip(results, scenarios, strict=True):
            print(f"round {round_number}/{rounds}: {name}...", file=sys.stderr)
            runs.append(_measure(name, server, bodies, requests, connections))
    return results


def median_round(runs: Sequence[Result]) -> Result:
    """The round with the median client throughput (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r.client_rps)
    return ordered[(len(ordered) - 1) // 2]


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _table(results: Sequence[Result]) -> str:
    head = (f"{'scenario':<14} {'requests':>9} {'errors':>6} {'client req/s':>13} {'server us/req':>14} "
            f"{'server cap req/s':>17} {'client CPU':>10}")
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(f"{r.scenario:<14} {r.requests:>9,} {r.errors:>6} {r.client_rps:>13,.0f} "
                     f"{r.server_cpu_us_per_request:>14.1f} {r.server_capacity_rps:>17,.0f} "
                     f"{r.client_cpu_share:>10.0%}")
    baseline = next((r for r in results if r.scenario == "aiohttp-web"), None)
    chat = next((r for r in results if r.scenario == "chat"), None)
    if baseline and chat:
        lines.append("")
        lines.append(f"server CPU per request, aiohttp-web / simulator chat: "
                     f"{baseline.server_cpu_us_per_request / chat.server_cpu_us_per_request:.2f}x")
        verdict = "meets" if chat.client_rps >= TARGET_RPS else "MISSES"
        lines.append(f"simulator chat served {chat.client_rps:,.0f} req/s to one aiohttp client process: {verdict} "
                     f"the {TARGET_RPS:,.0f} req/s target")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table; exit 1 when the target is missed or a request failed.

    Args:
        argv: Command-line arguments; ``sys.argv[1:]`` when None.
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_REQUESTS:,} requests per scenario")
    parser.add_argument("--requests", type=int, help=f"requests per scenario (default {FULL_REQUESTS:,})")
    parser.add_argument("--rounds", type=int, help=f"rounds per scenario (default {FULL_ROUNDS}, 1 with --quick)")
    parser.add_argument("--connections", type=int, default=DEFAULT_CONNECTIONS, help="client connections")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--serve-aiohttp-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_aiohttp_baseline:
        serve_aiohttp_baseline()
        return 0
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    requests = args.requests or (QUICK_REQUESTS if args.quick else FULL_REQUESTS)
    rounds = args.rounds or (1 if args.quick else FULL_ROUNDS)
    load_before = _load()
    runs = run(requests, args.connections, rounds)
    load_after = _load()
    results = [median_round(r) for r in runs]
    print(f"{requests:,} requests per scenario and round, {args.connections} connections, median of {rounds} "
          f"round(s); load average before: {load_before}, after: {load_after}")
    print(_table(results))
    if args.json:
        args.json.write_text(json.dumps({
            "benchmark": "bench_simulator", "python": platform.python_version(), "cpus": os.cpu_count(),
            "connections": args.connections, "requests": requests, "rounds": rounds, "target_rps": TARGET_RPS,
            "load_before": load_before, "load_after": load_after, "results": [asdict(r) for r in results],
            "rounds_detail": [[asdict(r) for r in scenario] for scenario in runs],
        }, indent=2) + "\n")
    chat = next(r for r in results if r.scenario == "chat")
    failed = any(r.errors for scenario in runs for r in scenario)
    return 0 if chat.client_rps >= TARGET_RPS and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
