"""Issue 12 (many models in one process): two models on one provider, one capped by it, the other untouched.

One process, two shared LMs (``sharedlm.get_shared_lm("openai/model-a")`` and ``("openai/model-b")``) on one
simulator (its own process and core; ``--latency`` seconds per answer, model A limited to ``--a-cap`` requests in
flight with ``--model-limit model-a:max_concurrency=32``, 429 above that in the ``--personality``'s way). It runs:

1. ``B alone``: the B workload (``--b-calls`` calls of a one-step DSPy program on model B, issued by ``--b-workers``
   workers one call after another), nothing else;
2. ``B with A``: the same B workload, started at the same moment as ``--workflows`` two-step DSPy workflows (step 1
   on model A, step 2 on model B), ``--workflow-concurrency`` of them in the air at once (200, ``sharedlm run``'s
   default). Model A's backlog (``workflows / a_cap x latency`` seconds at best) outlasts the B workload, so B is
   measured over a period in which A runs, its first 429 storm included;
3. ``B alone`` again, to show the run-to-run spread.

The B workload is the same in all three (same calls, same workers, same settings), so the ratio of its throughput
(B calls / seconds from its first call's start to its last call's end) with A to without A shows only what A's
limit does to B. Targets (issue 12): the distinct connections the server saw in ``B with A`` at most the cap
(``--cap``, the default model's ``max_parallel_requests``); B's throughput with A at least 0.9 of the better of
the two ``B alone`` runs (the lower ratio, never rounded up).

    python benchmarks/bench_many_models.py                   # 2,000 workflows, 2,000 B calls, 0.5 s latency
    python benchmarks/bench_many_models.py --quick           # 400 workflows, 400 B calls
    python benchmarks/bench_many_models.py --json results.json

Exit code 0 when both targets are met, 1 when one is missed, 2 for bad options.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MODEL_A = "openai/model-a"
MODEL_B = "openai/model-b"
TARGET_RATIO = 0.9
PERSONALITIES = ("default", "openai", "anthropic", "gemini")
QUICK = {"workflows": 400, "b_calls": 400}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds > 0, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The benchmark's options."""
    parser = argparse.ArgumentParser(prog="bench_many_models.py", description=(__doc__ or "").splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="Runs 'B alone', 'B with A' (two-step workflows A -> B) and 'B alone'.")
    parser.add_argument("--workflows", type=_positive_int, default=2000,
                        help="two-step workflows (A then B) running alongside B in 'B with A' (default 2000)")
    parser.add_argument("--workflow-concurrency", type=_positive_int, default=200,
                        help="workflows in the air at once, as `sharedlm run --concurrency` (default 200, its "
                             "default)")
    parser.add_argument("--b-calls", type=_positive_int, default=2000,
                        help="calls of the B workload, the same in every phase (default 2000)")
    parser.add_argument("--b-workers", type=_positive_int, default=64,
                        help="workers issuing the B workload's calls one after another (default 64)")
    parser.add_argument("--latency", type=_positive_seconds, default=0.5, help="seconds per answer (default 0.5)")
    parser.add_argument("--a-cap", type=_positive_int, default=32,
                        help="model A's in-flight limit at the simulator; 429 above it (default 32)")
    parser.add_argument("--cap", type=_positive_int, default=256,
                        help="max_parallel_requests of the default shared LM: the process's connection cap "
                             "(default 256)")
    parser.add_argument("--personality", choices=PERSONALITIES, default="openai",
                        help="how the simulator says 429 (default openai: no Retry-After)")
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK['workflows']} workflows and {QUICK['b_calls']} B calls, unless given")
    parser.add_argument("--json", metavar="FILE", help="also write the results here")
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parsed and checked options; ``--quick`` lowers the counts that were not given.

    Args:
        argv: The options without the program name; ``sys.argv[1:]`` when None.
    """
    parser = build_parser()
    given = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(given)
    if args.quick:
        for name, value in QUICK.items():
            if f"--{name.replace('_', '-')}" not in given:
                setattr(args, name, value)
    if args.b_workers > args.b_calls:
        parser.error(f"argument --b-workers: must be at most --b-calls ({args.b_calls}), got {args.b_workers}")
    if args.a_cap >= args.cap:
        parser.error(f"argument --a-cap: must be below --cap ({args.cap}) so that model B has room, got {args.a_cap}")
    args.argv = given
    return args


def command_line(args: argparse.Namespace) -> str:
    """The exact command that reproduces this run."""
    return shlex.join(["python", "benchmarks/bench_many_models.py", *args.argv])


@dataclass
class CallLog:
    """When each call of one kind started and ended (perf_counter seconds), and how many failed."""

    spans: list[tuple[float, float]] = field(default_factory=list)
    failed: int = 0

    @property
    def first_start(self) -> float:
        return min(start for start, _ in self.spans)

    @property
    def last_end(self) -> float:
        return max(end for _, end in self.spans)

    def throughput(self) -> float:
        """Calls per second from the first call's start to the last call's end."""
        return len(self.spans) / (self.last_end - self.first_start)

    def summary(self) -> dict[str, Any]:
        durations = sorted(end - start for start, end in self.spans)
        return {"calls": len(self.spans), "failed": self.failed,
                "wall_s": round(self.last_end - self.first_start, 3),
                "calls_per_s": self.throughput(),  # unrounded: the verdict's ratio is computed from it
                "p50_s": round(durations[len(durations) // 2], 3),
                "p99_s": round(durations[min(len(durations) - 1, len(durations) * 99 // 100)], 3)}


async def _timed(log: CallLog, call: Any) -> Any:
    start = time.perf_counter()
    try:
        result = await call
    except Exception:
        log.failed += 1
        raise
    log.spans.append((start, time.perf_counter()))
    return result


def _programs() -> tuple[Any, Any]:
    """The B workload's one-step program and the two-step workflow (A drafts, B refines), on the shared LMs."""
    import dspy

    import sharedlm

    lm_a = sharedlm.get_shared_lm(MODEL_A)
    lm_b = sharedlm.get_shared_lm(MODEL_B)

    class TwoStep(dspy.Module):
        """A cheap-then-strong pipeline: model A drafts, model B refines."""

        def __init__(self) -> None:
            super().__init__()
            self.draft = dspy.Predict("question -> draft")
            self.draft.set_lm(lm_a)
            self.refine = dspy.Predict("question, draft -> answer")
            self.refine.set_lm(lm_b)

    one_step = dspy.Predict("question -> answer")
    one_step.set_lm(lm_b)
    return one_step, TwoStep()


async def _b_workload(one_step: Any, calls: int, workers: int, tag: str, log: CallLog) -> None:
    numbers = iter(range(calls))

    async def worker() -> None:
        for n in numbers:  # the workers share one iterator: each call is made once
            await _timed(log, one_step.acall(question=f"{tag} question {n}"))

    await asyncio.gather(*(worker() for _ in range(workers)))


async def _workflows(two_step: Any, count: int, concurrency: int, log_a: CallLog, log_b: CallLog) -> int:
    """Run ``count`` two-step workflows, ``concurrency`` at a time, as the runner does; returns how many failed."""
    numbers = iter(range(count))
    lost = 0

    async def worker() -> None:
        nonlocal lost
        for n in numbers:
            try:
                draft = await _timed(log_a, two_step.draft.acall(question=f"workflow question {n}"))
                await _timed(log_b, two_step.refine.acall(question=f"workflow question {n}", draft=draft.draft))
            except Exception:
                lost += 1

    await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    return lost


def _model_stats(stats: Any, name: str) -> dict[str, int]:
    m = stats.model(name)
    return {"served": m.served, "rate_limited": m.rate_limited, "peak_in_flight": m.peak_in_flight}


async def _phase(sim: Any, args: argparse.Namespace, with_a: bool, tag: str) -> dict[str, Any]:
    one_step, two_step = _programs()
    sim.reset()
    probe, a_calls, b_steps = CallLog(), CallLog(), CallLog()
    cpu = time.process_time()
    jobs: list[Any] = []
    if with_a:
        # Launched first, in the same loop iteration as the B workload: A's first call starts a moment before B's.
        jobs.append(_workflows(two_step, args.workflows, args.workflow_concurrency, a_calls, b_steps))
    jobs.append(_b_workload(one_step, args.b_calls, args.b_workers, tag, probe))
    outcomes = await asyncio.gather(*jobs, return_exceptions=True)
    cpu = time.process_time() - cpu
    served = sim.stats()
    result: dict[str, Any] = {
        "b_workload": probe.summary(),
        "client_cpu_s": round(cpu, 2),
        "server": {"distinct_connections": served.distinct_connections, "peak_in_flight": served.peak_in_flight,
                   "rate_limited": served.rate_limited,
                   "model-a": _model_stats(served, "model-a"), "model-b": _model_stats(served, "model-b")},
        "errors": [repr(o) for o in outcomes if isinstance(o, BaseException)],
    }
    if with_a:
        result["workflows"] = {"count": args.workflows, "lost": outcomes[0] if isinstance(outcomes[0], int) else None,
                               "a_steps": a_calls.summary(), "b_steps": b_steps.summary(),
                               "floor_s": round(args.workflows / args.a_cap * args.latency + args.latency, 2)}
        # The B workload is measured "with A" only if A had calls in flight from its first call to its last.
        result["b_inside_a"] = a_calls.first_start <= probe.first_start and a_calls.last_end >= probe.last_end
    return result


async def _run(args: argparse.Namespace, base_url: str, sim: Any) -> dict[str, Any]:
    import sharedlm

    sharedlm.configure(model=MODEL_A, api_key="sim-key", api_base=base_url, cache=False,
                       max_parallel_requests=args.cap)
    phases = {"b_alone_1": await _phase(sim, args, False, "alone-1"),
              "b_with_a": await _phase(sim, args, True, "with-a"),
              "b_alone_2": await _phase(sim, args, False, "alone-2")}
    engine = sharedlm.stats()
    return {"phases": phases, "engine": {"cap": engine.cap, "open_connections": engine.open_connections,
                                         "connections_opened": engine.connections_opened,
                                         "models": {name: {"calls": m.calls, "rate_limited": m.rate_limited,
                                                           "peak_limit": m.peak_limit, "limit": m.limit}
                                                    for name, m in engine.models.items()}}}


def judge(results: dict[str, Any], cap: int) -> dict[str, Any]:
    """The two targets, from the phases' figures."""
    phases = results["phases"]
    alone = max(phases["b_alone_1"]["b_workload"]["calls_per_s"], phases["b_alone_2"]["b_workload"]["calls_per_s"])
    with_a = phases["b_with_a"]["b_workload"]["calls_per_s"]
    connections = phases["b_with_a"]["server"]["distinct_connections"]
    ratio = with_a / alone
    return {"connections": connections, "cap": cap, "connections_within_cap": connections <= cap,
            "b_alone_calls_per_s": alone, "b_with_a_calls_per_s": with_a, "ratio": ratio,
            "ratio_target": TARGET_RATIO, "measured_while_a_ran": phases["b_with_a"]["b_inside_a"],
            "throughput_within_target": ratio >= TARGET_RATIO and phases["b_with_a"]["b_inside_a"]}


def _floor3(value: float) -> str:
    # Rounded down, so that a ratio is never shown better than measured.
    return f"{math.floor(value * 1000) / 1000:.3f}"


def report(args: argparse.Namespace, results: dict[str, Any], verdict: dict[str, Any]) -> str:
    """A markdown table of the phases and the verdict."""
    lines = [f"`{command_line(args)}`", "",
             f"simulator: {args.latency:g} s per answer, model-a limited to {args.a_cap} in flight "
             f"({args.personality} 429s); client: cap {args.cap}, B workload {args.b_calls} calls by "
             f"{args.b_workers} workers; {args.workflows} two-step workflows (A -> B), "
             f"{args.workflow_concurrency} at a time, in 'B with A'", "",
             "| phase | B calls/s | B p50 s | B p99 s | B wall s | client CPU s | connections | A 429s | B 429s "
             "| A peak in flight |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, phase in results["phases"].items():
        b, server = phase["b_workload"], phase["server"]
        lines.append(f"| {name} | {b['calls_per_s']:.2f} | {b['p50_s']:.3f} | {b['p99_s']:.3f} | {b['wall_s']:.2f} "
                     f"| {phase['client_cpu_s']:.2f} | {server['distinct_connections']} "
                     f"| {server['model-a']['rate_limited']} | {server['model-b']['rate_limited']} "
                     f"| {server['model-a']['peak_in_flight']} |")
    workflows = results["phases"]["b_with_a"]["workflows"]
    lines += ["", f"workflows: {workflows['count']} in {workflows['a_steps']['wall_s']:.2f} s of A steps "
                  f"(floor {workflows['floor_s']:.2f} s), lost {workflows['lost']}",
              f"connections in 'B with A': {verdict['connections']} (cap {verdict['cap']}): "
              f"{'ok' if verdict['connections_within_cap'] else 'MISSED'}",
              f"B throughput with A / best B alone: {verdict['b_with_a_calls_per_s']:.2f} / "
              f"{verdict['b_alone_calls_per_s']:.2f} = {_floor3(verdict['ratio'])} (target >= {TARGET_RATIO}; measured "
              f"while A ran: {verdict['measured_while_a_ran']}): "
              f"{'ok' if verdict['throughput_within_target'] else 'MISSED'}"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    from sharedlm.simulator import ModelLimits, SimulatorProcess, SimulatorSettings

    settings = SimulatorSettings(latency=args.latency, personality=args.personality,
                                 model_limits=(ModelLimits(model=MODEL_A.split("/", 1)[1],
                                                           max_concurrency=args.a_cap),))
    with SimulatorProcess(settings) as sim:
        results = asyncio.run(_run(args, sim.base_url, sim))
    verdict = judge(results, args.cap)
    print(report(args, results, verdict), flush=True)
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"command": command_line(args), "machine": {"cpus": os.cpu_count(),
                                                                  "python": platform.python_version()},
                       "options": {k: v for k, v in vars(args).items() if k != "argv"}, "verdict": verdict,
                       **results}, file, indent=2)
    return 0 if verdict["connections_within_cap"] and verdict["throughput_within_target"] else 1


if __name__ == "__main__":
    sys.exit(main())
