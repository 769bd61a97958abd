"""Issue 15: providers DSPy reaches only through LiteLLM, through sharedlm's pool against a plain ``dspy.LM``.

Measurements against the simulator in its own process, pointed at by ``api_base``. ``together_ai/`` is a prefix lm15
refuses, so plain DSPy sends it through ``litellm.acompletion``; LiteLLM reads its answers as OpenAI's, so sharedlm
sends it on its own pool's wire with the body, URL and headers LiteLLM's provider config shapes
(``sharedlm._litellm_wire``). ``mistral/`` is one whose answers LiteLLM reads its own way: sharedlm sends it through
``litellm.acompletion`` over its pool's HTTP session.

1. ``workflows``: 1,000 typed two-step workflows (2,000 calls) at 1 s latency, all started at once, through one
   shared plain ``dspy.LM("together_ai/...")`` (DSPy's defaults) and through ``sharedlm.get_shared_lm()``, one
   after the other, each in a fresh worker process against a fresh simulator; with Python's default garbage
   collector and under ``sharedlm.relaxed_gc()`` (what ``sharedlm run`` does), plain and sharedlm always with the same
   setting (``--gc``). The provider admits ``--provider-concurrency`` requests at once (429 with ``Retry-After``
   above it; 0 = unlimited, the default). Reported: wall times, the like-for-like ratios, failed workflows, server
   429s, and the peak of open file descriptors of each worker against sharedlm's cap plus its descriptor reserve.
   (1b), information: the same pair through ``mistral/`` (the ``litellm.acompletion`` route), both relaxed.
   (1d), information: the same workflows through an engine with no transport at all (``no-transport``: it waits the
   latency and gives back the answer the simulator gave the warm-up), with each collector setting: the most any
   engine can gain over plain in this process, and what sharedlm's transport and flow control cost beside it.
2. ``calls``: 3,000 single calls at once through sharedlm against a provider capped at 64 in flight
   (0.2 s latency): every call must succeed (none lost), and the server's peak in flight is reported.
3. ``overhead`` (information, no target): 1,000 single calls at zero latency, calls/s of one process, for plain and
   sharedlm on both LiteLLM-path providers and for sharedlm on the native route (``openai/``).

    python benchmarks/bench_litellm.py [--workflows 1000] [--latency 1.0] [--provider-concurrency 0] [--gc both]
        [--acompletion 1] [--calls 3000] [--calls-cap 64] [--overhead 1000] [--json FILE]

Exit code 0 when sharedlm is at least 3x faster in (1) in every like-for-like pair with no failed workflow, its
descriptors stay within the cap plus the reserve, and (2) loses no call; 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import multiprocessing
import os
import resource
import sys
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")

MODEL = "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"
# A provider whose answers LiteLLM reads its own way: sharedlm sends it through litellm.acompletion over its pool.
ACOMPLETION_MODEL = "mistral/mistral-small-latest"
KEY = "bench-key-not-secret"
NATIVE_MODEL = "openai/sim-model"
TARGET_RATIO = 3.0


def _down(ratio: float) -> str:
    """A speed-up with two decimals, rounded down: never in sharedlm's favour."""
    return f"{math.floor(ratio * 100) / 100:.2f}"


def _open_fds() -> int:
    # The size of /proc/self/fd is the count on Linux >= 6.2: no list of a thousand names built on the loop every
    # 20 ms while it is being measured. Older kernels report 0: list the directory then.
    size = os.stat("/proc/self/fd").st_size
    return size if size > 0 else len(os.listdir("/proc/self/fd")) - 1  # the listing's own descriptor left out


async def _sample_fds(peak: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        peak[0] = max(peak[0], _open_fds())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.02)


class _NoTransport:
    """A DSPy engine with no transport at all: it waits the provider's latency and gives back a recorded answer.

    The floor of any engine in this process: no socket, no HTTP, no JSON, no LiteLLM shaping, no flow control; only
    DSPy's own work around each call and the event loop's. Answers are keyed by the step (its signature's output).
    """

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.answers: dict[bool, Any] = {}

    def __repr__(self) -> str:
        return f"_NoTransport(latency={self.latency}, answers={len(self.answers)})"

    @staticmethod
    def _step(request: Any) -> bool:
        return "summary" in str(request.messages)

    async def record(self, engine: Any, workflow: Any) -> None:
        """Run one workflow through ``engine`` (sharedlm's), keeping each step's answer."""
        complete = engine.complete

        async def recording(request: Any) -> Any:
            response = await complete(request)
            self.answers[self._step(request)] = response
            return response

        engine.complete = recording
        try:
            await workflow(-2)
        finally:
            del engine.complete

    async def complete(self, request: Any) -> Any:
        await asyncio.sleep(self.latency)
        return self.answers[self._step(request)]


class _NoSyncTransport:
    """The sync half DSPy requires beside :class:`_NoTransport`; these workflows are async only."""

    def complete(self, request: Any) -> Any:
        raise NotImplementedError("the no-transport engine answers async calls only")


def _worker(variant: str, model: str, base_url: str, count: int, kind: str, queue: Any, relaxed: bool = False,
            state_dir: str | None = None, latency: float = 1.0) -> None:
    """Run ``count`` workflows (or single calls) in this process, then report through ``queue``.

    With ``relaxed``, the run goes under ``sharedlm.relaxed_gc()`` (what ``sharedlm run`` and ``run_many`` do and
    what the README tells library users to do), whichever the variant. ``state_dir`` is where sharedlm remembers
    what it learned of the provider; a new empty one (a first run) when None.
    """
    import atexit
    import shutil
    import tempfile

    if state_dir is None:
        # Nothing learned by an earlier run (a simulator that listened on the same port) may start this one.
        state_dir = tempfile.mkdtemp(prefix="sharedlm-bench-state-")
        atexit.register(shutil.rmtree, state_dir, True)
    os.environ["SHAREDLM_STATE_DIR"] = state_dir
    import dspy

    import sharedlm
    from sharedlm._fdlimit import plan_connection_cap
    from sharedlm._registry import REGISTRY

    class Count(dspy.Signature):
        """Count the items of a topic."""

        topic: str = dspy.InputField()
        count: int = dspy.OutputField()

    class Describe(dspy.Signature):
        """Describe a number of items."""

        topic: str = dspy.InputField()
        count: int = dspy.InputField()
        summary: str = dspy.OutputField()

    if variant == "plain":
        lm = dspy.LM(model, api_key=KEY, api_base=base_url, cache=False)  # noqa: SLM005 - the baseline
    else:
        sharedlm.configure(model=model, api_key=KEY, api_base=base_url, cache=False, max_retries=50)
        lm = sharedlm.get_shared_lm()
    count_step, describe_step = dspy.Predict(Count), dspy.Predict(Describe)
    count_step.set_lm(lm)
    describe_step.set_lm(lm)
    no_transport = _NoTransport(latency) if variant == "no-transport" else None

    async def workflow(i: int) -> None:
        counted = await count_step.acall(topic=f"topic {i}")
        await describe_step.acall(topic=f"topic {i}", count=counted.count)

    async def call(i: int) -> None:
        await count_step.acall(topic=f"topic {i}")

    async def run() -> dict[str, Any]:
        unit = workflow if kind == "workflows" else call
        await unit(-1)  # warm-up: imports, LiteLLM's first-call set-up, the pool's first connection
        if no_transport is not None:
            # The warm-up's two answers, taken from the simulator through sharedlm, are what the engine gives back.
            await no_transport.record(REGISTRY.entry(model).engine, workflow)
            free = dspy.LM(model, engine=_NoSyncTransport(), async_engine=no_transport, cache=False,  # noqa: SLM005
                           num_retries=0)
            count_step.set_lm(free)
            describe_step.set_lm(free)
            await unit(-1)
        baseline = _open_fds()
        peak, stop = [baseline], asyncio.Event()
        sampler = asyncio.create_task(_sample_fds(peak, stop))
        started, cpu_started = time.perf_counter(), time.process_time()
        outcomes = await asyncio.gather(*(unit(i) for i in range(count)), return_exceptions=True)
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        stop.set()
        await sampler
        failures = [o for o in outcomes if isinstance(o, BaseException)]
        return {"wall": wall, "cpu": cpu, "failed": len(failures), "peak_fds": peak[0], "baseline_fds": baseline,
                "first_error": repr(failures[0])[:300] if failures else None}

    with sharedlm.relaxed_gc() if relaxed else contextlib.nullcontext():
        result = asyncio.run(run())
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # this worker's peak (Linux: KiB)
    if variant == "sharedlm":
        settings = sharedlm.get_settings()
        plan = plan_connection_cap(settings.max_parallel_requests, reserve=settings.fd_reserve)
        stats = sharedlm.stats()
        result.update(cap=plan.cap, reserve=settings.fd_reserve, calls_succeeded=stats.calls_succeeded,
                      retries=stats.retries, rate_limited=stats.rate_limited, peak_in_flight=stats.peak_in_flight,
                      connections_opened=stats.connections_opened)
    queue.put(result)


def _run_worker(variant: str, model: str, base_url: str, count: int, kind: str,
                relaxed: bool = False, state_dir: str | None = None, latency: float = 1.0) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_worker,
                              args=(variant, model, base_url, count, kind, queue, relaxed, state_dir, latency))
    process.start()
    result: dict[str, Any] = queue.get(timeout=3600)
    process.join(60)
    return result


def _simulated(latency: float, concurrency: int) -> Any:
    from sharedlm.simulator import SimulatorProcess, SimulatorSettings

    return SimulatorProcess(SimulatorSettings(latency=latency, jitter=0.0,
                                              max_concurrency=concurrency or None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000, help="two-step workflows in (1), default 1000")
    parser.add_argument("--latency", type=float, default=1.0, help="provider latency in (1), seconds, default 1.0")
    parser.add_argument("--provider-concurrency", type=int, default=0,
                        help="requests the provider admits at once in (1), 0 = unlimited (default)")
    parser.add_argument("--calls", type=int, default=3000, help="single calls in (2), default 3000")
    parser.add_argument("--calls-cap", type=int, default=64, help="the provider's in-flight cap in (2), default 64")
    parser.add_argument("--model", default=MODEL, help=f"model string, default {MODEL} (LiteLLM path)")
    parser.add_argument("--variants", default="plain,sharedlm,no-transport",
                        help="which of plain,sharedlm,no-transport to run in (1), default all three; no-transport is "
                             "an engine that only waits the latency and gives back a recorded answer (the floor of "
                             "any engine in one process)")
    parser.add_argument("--overhead", type=int, default=1000,
                        help="single calls at zero latency for the CPU comparison (3), 0 to skip, default 1000")
    parser.add_argument("--gc", choices=("default", "relaxed", "both"), default="both",
                        help="run (1) with Python's default collector, under sharedlm.relaxed_gc(), or both (default); "
                             "plain and sharedlm always get the same setting")
    parser.add_argument("--acompletion", type=int, default=1, help=f"also run (1b) through {ACOMPLETION_MODEL}, "
                        "a provider on the litellm.acompletion route (1, default) or not (0)")
    parser.add_argument("--second-run", type=int, default=1,
                        help="also run (1c): sharedlm twice against one provider with one state directory, the second "
                             "run starting from what the first learned (1, default) or not (0)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"args": vars(args)}

    gc_modes = {"default": (False,), "relaxed": (True,), "both": (False, True)}[args.gc]
    rows: dict[str, dict[str, Any]] = {}
    for relaxed in gc_modes:
        for variant in args.variants.split(","):
            name = f"{variant}{' relaxed-gc' if relaxed else ''}"
            with _simulated(args.latency, args.provider_concurrency) as sim:
                rows[name] = _run_worker(variant, args.model, sim.base_url, args.workflows, "workflows", relaxed,
                                         latency=args.latency)
                server = sim.stats()
                rows[name].update(server_requests=server.requests, server_429=server.responses_by_status.get(429, 0),
                                  server_peak_in_flight=server.peak_in_flight)
    # Like with like: each sharedlm row against the plain row run with the same collector settings.
    ratios = {name: rows[twin]["wall"] / row["wall"] for name, row in rows.items()
              if name.startswith("sharedlm") and (twin := name.replace("sharedlm", "plain")) in rows}
    shared_rows = [row for name, row in rows.items() if name.startswith("sharedlm")]
    fd_bound = shared_rows[0]["cap"] + shared_rows[0]["reserve"]
    report["workflows"] = {**rows, "ratios": ratios, "fd_bound": fd_bound}
    print(f"(1) {args.workflows:,} two-step workflows via {args.model} at {args.latency:g} s latency, provider admits "
          f"{args.provider_concurrency or 'unlimited'} at once")
    for name, row in rows.items():
        print(f"    {name:23s} wall {row['wall']:8.2f} s  failed {row['failed']:5d}  server requests "
              f"{row['server_requests']:6d} (429: {row['server_429']:5d}, peak in flight "
              f"{row['server_peak_in_flight']:4d})  peak fds {row['peak_fds']:5d} (baseline {row['baseline_fds']})")
        if row["first_error"]:
            print(f"              first error: {row['first_error']}")
    for name, ratio in ratios.items():
        twin = name.replace("sharedlm", "plain")
        print(f"    {name} is {_down(ratio)}x faster than {twin} (target >= {TARGET_RATIO:g}x)")
    # The most any engine can gain over plain in this process: one with no transport at all, same collector setting.
    floors = {name: rows[twin]["wall"] / row["wall"] for name, row in rows.items()
              if name.startswith("no-transport") and (twin := name.replace("no-transport", "plain")) in rows}
    report["workflows"]["no_transport_ratios"] = floors
    for name, ratio in floors.items():
        twin = name.replace("no-transport", "plain")
        shared = rows.get(name.replace("no-transport", "sharedlm"))
        share = f"; sharedlm takes {shared['wall'] - rows[name]['wall']:+.2f} s more" if shared else ""
        print(f"    {name} (no socket, HTTP, JSON, shaping or flow control) is {_down(ratio)}x faster than {twin}"
              f"{share}")
    peak_fds = max(row["peak_fds"] for row in shared_rows)
    print(f"    sharedlm's peak fds {peak_fds} vs cap {shared_rows[0]['cap']} + reserve {shared_rows[0]['reserve']} "
          f"= {fd_bound}")

    if args.second_run and "plain relaxed-gc" in rows:
        # (1c) what a user's second run gets: the first run's learned state kept (both relaxed-gc).
        import tempfile

        with tempfile.TemporaryDirectory(prefix="sharedlm-bench-state-") as state, \
                _simulated(args.latency, args.provider_concurrency) as sim:
            first = _run_worker("sharedlm", args.model, sim.base_url, args.workflows, "workflows", True, state)
            second = _run_worker("sharedlm", args.model, sim.base_url, args.workflows, "workflows", True, state)
        plain_wall = rows["plain relaxed-gc"]["wall"]
        report["second_run"] = {"first": first, "second": second, "ratio": plain_wall / second["wall"]}
        print(f"(1c) sharedlm relaxed-gc, a second run against the same provider and state directory: first run "
              f"{first['wall']:.2f} s, second {second['wall']:.2f} s (failed {second['failed']}): "
              f"{_down(plain_wall / second['wall'])}x plain relaxed-gc (information: the target is for a first run)")

    if args.acompletion:
        # (1b) the same workflows through a provider sharedlm sends through litellm.acompletion (both relaxed-gc).
        pair: dict[str, dict[str, Any]] = {}
        for variant in ("plain", "sharedlm"):
            with _simulated(args.latency, args.provider_concurrency) as sim:
                pair[variant] = _run_worker(variant, ACOMPLETION_MODEL, sim.base_url, args.workflows, "workflows",
                                            True)
        report["acompletion"] = {**pair, "ratio": pair["plain"]["wall"] / pair["sharedlm"]["wall"]}
        print(f"(1b) the same through {ACOMPLETION_MODEL} (litellm.acompletion route), both under relaxed_gc(): plain "
              f"{pair['plain']['wall']:.2f} s (failed {pair['plain']['failed']}), sharedlm "
              f"{pair['sharedlm']['wall']:.2f} s (failed {pair['sharedlm']['failed']}): "
              f"{_down(report['acompletion']['ratio'])}x (information, no target)")

    with _simulated(0.2, args.calls_cap) as sim:
        calls = _run_worker("sharedlm", args.model, sim.base_url, args.calls, "calls")
        server = sim.stats()
        calls.update(server_requests=server.requests, server_ok=server.responses_by_status.get(200, 0),
                     server_429=server.responses_by_status.get(429, 0), server_peak_in_flight=server.peak_in_flight)
    report["calls"] = calls
    lost = args.calls - (calls["calls_succeeded"] - 1)  # minus the warm-up call
    print(f"(2) {args.calls:,} calls via {args.model} against a {args.calls_cap}-in-flight provider: wall "
          f"{calls['wall']:.2f} s, failed {calls['failed']}, lost {lost}, server 200s {calls['server_ok']:,} "
          f"(incl. 1 warm-up), 429s {calls['server_429']:,}, server peak in flight "
          f"{calls['server_peak_in_flight']}, engine retries {calls['retries']:,}")
    if args.overhead:
        overhead: dict[str, float] = {}
        for variant, model in (("plain", args.model), ("sharedlm", args.model), ("plain", ACOMPLETION_MODEL),
                               ("sharedlm", ACOMPLETION_MODEL), ("sharedlm", NATIVE_MODEL)):
            with _simulated(0.0, 0) as sim:
                row = _run_worker(variant, model, sim.base_url, args.overhead, "calls")
            overhead[f"{variant} {model}"] = args.overhead / row["wall"]
        report["overhead"] = overhead
        print(f"(3) {args.overhead:,} single calls at zero latency, calls/s (one process's CPU):")
        for name, rate in overhead.items():
            print(f"    {name:70s} {rate:8.0f}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    met = (bool(ratios) and min(ratios.values()) >= TARGET_RATIO and all(row["failed"] == 0 for row in shared_rows)
           and peak_fds <= fd_bound and calls["failed"] == 0 and lost == 0)
    print("all targets met" if met else "a target was missed")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
