"""Benchmark of the Ray backend (``--backend ray``) against the local runner, on the simulator in a subprocess.

Three measurements, side by side in one run:

1. Scale-out: a CPU-bound DSPy program (one ``dspy.Predict`` call plus ``--cpu-ms`` of pure-Python work per
   row) over a JSONL file on the zero-latency simulator, through the same path as ``sharedlm run`` (streaming
   reader, one output line per row). Per round, the local runner runs in a fresh child process with no Ray
   running, then one child starts a local Ray (loopback only) and runs 1, 2 and 3 workers (fresh actors each;
   their start-up is reported, not timed). Target: 2 workers reach >= 1.6x the local runner's rows/s.
   The machine has 2 cores, and the simulator, the Ray driver and Ray's own processes need CPU too.
2. Overhead: Ray's cost per row, as the extra wall time per row of 1 worker over the local runner and as the
   driver's CPU time per row (reading, admitting, sending, receiving and writing rows); and the round trip of
   one Ray actor call, which a central budget actor would add to every LM call (why budgets are split instead).
3. Budget: with 1 s of simulated latency and a job budget of ``max_parallel_requests=500``, runs with 1, 2
   and 3 workers (``--concurrency`` rows in flight per worker, more than the budget) never make the simulator
   see more than 500 requests in flight (its own peak count); the local runner is shown for reference.

Usage::

    python benchmarks/bench_ray.py            # 3 rounds x 6,000 rows; budget runs of 3,000 rows: ~5 minutes
    python benchmarks/bench_ray.py --quick    # 2 rounds x 2,000 rows; budget runs of 1,500 rows
    python benchmarks/bench_ray.py --json results.json

Children are ``python benchmarks/bench_ray.py --child {local,ray,budget} ...``; each prints one JSON line.
Workers import this file as ``PROGRAM`` (``benchmarks/bench_ray.py:CpuBoundProgram``), so it has no
import-time effects beyond defining the program.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Literal

import dspy

import sharedlm

SCALE_TARGET = 1.6
BUDGET = 500
FULL_ROWS, FULL_ROUNDS, FULL_BUDGET_ROWS = 6_000, 3, 3_000
QUICK_ROWS, QUICK_ROUNDS, QUICK_BUDGET_ROWS = 2_000, 2, 1_500
DEFAULT_CONCURRENCY = 100
DEFAULT_CPU_MS = 2.0
WORKER_COUNTS = (1, 2, 3)
BUDGET_LATENCY_S = 1.0
SIM_MODEL = "openai/sim-model"
CHILD_TIMEOUT_S = 1_800
# How the workers learn --cpu-ms: they inherit the child's environment when it starts the local Ray.
CPU_MS_VARIABLE = "BENCH_RAY_CPU_MS"


# --- the program: imported by the children and by every Ray worker ---

class ReviewSentiment(dspy.Signature):
    """Classify the sentiment of a product review."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "neutral", "negative"] = dspy.OutputField()


class CpuBoundProgram(sharedlm.SharedLMModule):
    """One LM call, then some pure-Python work on the row (holding the GIL, like DSPy's own formatting)."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.classify = dspy.Predict(ReviewSentiment)
        self.cpu_s = float(os.environ.get(CPU_MS_VARIABLE, DEFAULT_CPU_MS)) / 1000

    async def aforward(self, text: str) -> dspy.Prediction:
        prediction = await self.classify.acall(text=text)
        _burn(self.cpu_s, text)
        return prediction


def _burn(seconds: float, seed: str) -> None:
    deadline = time.thread_time() + seconds
    digest = seed.encode()
    while time.thread_time() < deadline:
        digest = hashlib.sha256(digest).digest()


PROGRAM = f"{Path(__file__).resolve()}:CpuBoundProgram"


# --- children ---

def _configure(base_url: str, **settings: Any) -> Any:
    dspy.configure(disable_history=True)
    sharedlm.configure(model=SIM_MODEL, api_key="sim-key", api_base=base_url, cache=False, **settings)
    return sharedlm.get_shared_lm()


def _sim(root: str, path: str, method: str = "GET") -> dict[str, Any]:
    request = urllib.request.Request(f"{root}{path}", method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=10) as response:
        data: dict[str, Any] = json.loads(response.read())
        return data


async def _run_file(args: argparse.Namespace, plan: Any) -> dict[str, Any]:
    from sharedlm.runner._options import RowOptions
    from sharedlm.runner._program import build_program, load_program_target, prepare_program
    from sharedlm.runner._readers import read_rows
    from sharedlm.runner._run import run_to_file

    prepared = prepare_program(build_program(load_program_target(PROGRAM), sharedlm.get_shared_lm()))
    with await asyncio.to_thread(open, os.devnull, "w") as quiet:
        cpu, wall = time.process_time(), time.perf_counter()
        report = await run_to_file(prepared, read_rows(Path(args.input), "jsonl"), output=Path(args.output),
                                   truncate=True, total=args.rows, progress="off", ray=plan, stream=quiet,
                                   options=RowOptions(concurrency=args.concurrency, limit=args.rows,
                                                      record_history=False))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    if report.failed or report.failure:
        raise SystemExit(f"{report.failed} rows failed ({report.failure}); see {args.output}")
    return {"rows": report.succeeded, "seconds": report.wall_s, "rows_per_s": report.rows_per_s,
            "driver_cpu_ms_per_row": cpu / report.succeeded * 1000, "with_start_s": wall}


def child_local(args: argparse.Namespace) -> dict[str, Any]:
    """The local runner over the file, in this process."""
    _configure(args.base_url, **_budget(args))
    result = asyncio.run(_run_file(args, None))
    if args.sim_root:
        result["sim_peak_in_flight"] = _sim(args.sim_root, "/sim/stats")["peak_in_flight"]
    return result


def _budget(args: argparse.Namespace) -> dict[str, Any]:
    return {"max_parallel_requests": args.budget} if args.budget else {}


def child_ray(args: argparse.Namespace) -> dict[str, Any]:
    """Start a local Ray, then run the file with each worker count (fresh actors each time)."""
    from sharedlm._singleton import shared_engines
    from sharedlm.runner._ray._program import ProgramRecipe
    from sharedlm.runner._ray._runner import RayPlan
    from sharedlm.runner._ray._session import start_local_ray

    counts = [int(n) for n in args.workers.split(",")]
    _configure(args.base_url, **_budget(args))
    settings = shared_engines()[1].settings
    started = time.perf_counter()
    session = start_local_ray(num_cpus=max(max(counts), os.cpu_count() or 1))
    out: dict[str, Any] = {"ray_start_s": time.perf_counter() - started, "runs": {}}
    try:
        if not args.sim_root:
            out["actor_call_ms"] = asyncio.run(_actor_round_trip(session.ray))
        for workers in counts:
            if args.sim_root:
                _sim(args.sim_root, "/sim/reset", "POST")
            plan = RayPlan(session=session, workers=workers, settings=settings,
                           recipe=ProgramRecipe.from_spec(PROGRAM, name="CpuBoundProgram"))
            result = asyncio.run(_run_file(args, plan))
            result["worker_start_s"] = result["with_start_s"] - result["seconds"]
            if args.sim_root:
                result["sim_peak_in_flight"] = _sim(args.sim_root, "/sim/stats")["peak_in_flight"]
            out["runs"][str(workers)] = result
    finally:
        session.close()
    return out


class _Echo:
    async def noop(self) -> None:
        return None


async def _actor_round_trip(ray: Any, calls: int = 300) -> float:
    actor = ray.remote(_Echo).remote()
    await actor.noop.remote()
    started = time.perf_counter()
    for _ in range(calls):
        await actor.noop.remote()
    seconds = time.perf_counter() - started
    ray.kill(actor)
    return seconds / calls * 1000


def child_main(args: argparse.Namespace) -> int:
    """Run one child and print its JSON result."""
    result = child_local(args) if args.child == "local" else child_ray(args)
    print(json.dumps(result))
    return 0


# --- the parent ---

def write_input(path: Path, rows: int) -> None:
    """Unique short reviews, one JSON object per line."""
    moods = ("Loved it", "It broke after a week", "Does the job", "Would not buy again", "Five stars")
    with path.open("w", encoding="utf-8") as file:
        for n in range(rows):
            file.write(json.dumps({"id": n, "text": f"{moods[n % len(moods)]}: review number {n} of the kettle."})
                       + "\n")


def run_child(kind: str, args: argparse.Namespace, *, base_url: str, rows: int, source: Path, output: Path,
              workers: str = "", sim_root: str = "", budget: int = 0, concurrency: int | None = None) -> Any:
    """Run ``--child kind`` in a fresh process and return its JSON result."""
    command = [sys.executable, __file__, "--child", kind, "--base-url", base_url, "--input", str(source),
               "--output", str(output), "--rows", str(rows), "--concurrency",
               str(concurrency or args.concurrency), "--workers", workers, "--sim-root", sim_root,
               "--budget", str(budget)]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "true", CPU_MS_VARIABLE: str(args.cpu_ms)}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    if done.returncode != 0:
        raise SystemExit(f"child {kind} failed with {done.returncode}:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _say(message: str) -> None:
    print(f"bench_ray: {message}", file=sys.stderr, flush=True)


def parent_main(args: argparse.Namespace) -> int:
    """Measure, print the table, and write JSON when asked."""
    from sharedlm.simulator import SimulatorProcess, SimulatorSettings

    rows = QUICK_ROWS if args.quick else args.rows
    rounds = QUICK_ROUNDS if args.quick else args.rounds
    budget_rows = QUICK_BUDGET_ROWS if args.quick else args.budget_rows
    counts = ",".join(map(str, WORKER_COUNTS))
    with tempfile.TemporaryDirectory(prefix="sharedlm-bench-ray-") as tmp:
        source, output = Path(tmp) / "rows.jsonl", Path(tmp) / "out.jsonl"
        write_input(source, max(rows, budget_rows))
        common = {"source": source, "output": output}
        _say(f"scale-out: zero-latency simulator in a subprocess, {rounds} rounds x {rows:,} rows, concurrency "
             f"{args.concurrency} (per worker on Ray), {args.cpu_ms:g} ms of extra CPU per row")
        scale: list[dict[str, Any]] = []
        with SimulatorProcess(SimulatorSettings(latency=0.0)) as sim:
            for number in range(1, rounds + 1):
                local = run_child("local", args, base_url=sim.base_url, rows=rows, **common)
                ray = run_child("ray", args, base_url=sim.base_url, rows=rows, workers=counts, **common)
                scale.append({"local": local, "ray": ray})
                rates = " ".join(f"{n}w {run['rows_per_s']:.0f}" for n, run in ray["runs"].items())
                _say(f"  round {number}: local {local['rows_per_s']:.0f} rows/s; ray {rates}")
        _say(f"budget: {BUDGET_LATENCY_S:g}s latency, max_parallel_requests={BUDGET}, {budget_rows:,} rows, "
             f"concurrency {args.budget_concurrency} per worker")
        with SimulatorProcess(SimulatorSettings(latency=BUDGET_LATENCY_S)) as sim:
            budget_common = {"base_url": sim.base_url, "rows": budget_rows, "sim_root": sim.root_url,
                             "budget": BUDGET, "concurrency": args.budget_concurrency, **common}
            sim.reset()
            budget_local = run_child("local", args, **budget_common)
            budget_ray = run_child("ray", args, workers=counts, **budget_common)
    summary = summarize(args, scale, budget_local, budget_ray, rows=rows, rounds=rounds, budget_rows=budget_rows)
    print_table(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if summary["passed"] else 1


def summarize(args: argparse.Namespace, scale: list[dict[str, Any]], budget_local: dict[str, Any],
              budget_ray: dict[str, Any], *, rows: int, rounds: int, budget_rows: int) -> dict[str, Any]:
    """Totals over rounds (rows / summed seconds) and the targets."""
    def total(runs: list[dict[str, Any]]) -> dict[str, float]:
        seconds = sum(run["seconds"] for run in runs)
        done = sum(run["rows"] for run in runs)
        cpu = sum(run["driver_cpu_ms_per_row"] * run["rows"] for run in runs) / done
        return {"rows_per_s": done / seconds, "seconds": seconds, "driver_cpu_ms_per_row": cpu}

    local = total([r["local"] for r in scale])
    ray = {n: total([r["ray"]["runs"][str(n)] for r in scale]) for n in WORKER_COUNTS}
    speedup = {n: ray[n]["rows_per_s"] / local["rows_per_s"] for n in WORKER_COUNTS}
    per_round = [r["ray"]["runs"]["2"]["rows_per_s"] / r["local"]["rows_per_s"] for r in scale]
    overhead_ms = (1 / ray[1]["rows_per_s"] - 1 / local["rows_per_s"]) * 1000
    peaks = {str(n): run["sim_peak_in_flight"] for n, run in budget_ray["runs"].items()}
    return {
        "command": " ".join(["python", "benchmarks/bench_ray.py", *sys.argv[1:]]),
        "machine_cpus": os.cpu_count(),
        "rows": rows, "rounds": rounds, "concurrency": args.concurrency, "cpu_ms": args.cpu_ms,
        "local": local, "ray": {str(n): v for n, v in ray.items()},
        "speedup": {str(n): v for n, v in speedup.items()},
        "speedup_2_workers_per_round": per_round,
        "speedup_target": SCALE_TARGET,
        "ray_overhead_ms_per_row_1_worker": overhead_ms,
        "actor_call_ms": statistics.mean(r["ray"]["actor_call_ms"] for r in scale),
        "ray_start_s": statistics.mean(r["ray"]["ray_start_s"] for r in scale),
        "worker_start_s": {str(n): statistics.mean(r["ray"]["runs"][str(n)]["worker_start_s"] for r in scale)
                           for n in WORKER_COUNTS},
        "budget": {"latency_s": BUDGET_LATENCY_S, "max_parallel_requests": BUDGET, "rows": budget_rows,
                   "concurrency_per_worker": args.budget_concurrency,
                   "local_peak": budget_local["sim_peak_in_flight"], "local_rows_per_s": budget_local["rows_per_s"],
                   "ray_peaks": peaks,
                   "ray_rows_per_s": {n: run["rows_per_s"] for n, run in budget_ray["runs"].items()}},
        "passed": speedup[2] >= SCALE_TARGET and all(peak <= BUDGET for peak in peaks.values()),
    }


def print_table(s: dict[str, Any]) -> None:
    """The results as a plain table on stdout."""
    print(f"\nbench_ray: {s['command']}  ({s['machine_cpus']} CPUs; {s['rounds']} rounds x {s['rows']:,} rows; "
          f"concurrency {s['concurrency']} per worker; {s['cpu_ms']:g} ms extra CPU per row)")
    print(f"{'measure':<58} {'value':>10} {'target':>9} {'ok':>4}")
    lines: list[tuple[str, str, str, str]] = [
        ("local runner: rows/s", f"{s['local']['rows_per_s']:.1f}", "", ""),
    ]
    for n in WORKER_COUNTS:
        run = s["ray"][str(n)]
        target = f">= {s['speedup_target']}" if n == 2 else ""
        ok = ("yes" if s["speedup"][str(n)] >= s["speedup_target"] else "NO") if n == 2 else ""
        lines.append((f"ray, {n} worker{'s' if n > 1 else ''}: rows/s", f"{run['rows_per_s']:.1f}", "", ""))
        lines.append((f"ray, {n} worker{'s' if n > 1 else ''}: speedup over local", f"{s['speedup'][str(n)]:.3f}",
                      target, ok))
    lines += [
        ("ray overhead per row, 1 worker vs local (wall ms)", f"{s['ray_overhead_ms_per_row_1_worker']:.3f}", "", ""),
        ("local: driver CPU ms per row", f"{s['local']['driver_cpu_ms_per_row']:.3f}", "", ""),
        ("ray, 2 workers: driver CPU ms per row", f"{s['ray']['2']['driver_cpu_ms_per_row']:.3f}", "", ""),
        ("one Ray actor call, round trip (ms)", f"{s['actor_call_ms']:.3f}", "", ""),
        ("local Ray start (s)", f"{s['ray_start_s']:.1f}", "", ""),
    ]
    lines += [(f"ray, {n} workers: worker start-up (s, not timed)", f"{s['worker_start_s'][str(n)]:.1f}", "", "")
              for n in WORKER_COUNTS]
    b = s["budget"]
    lines.append((f"budget {b['max_parallel_requests']}, {b['latency_s']:g}s latency: local peak in flight",
                  str(b["local_peak"]), f"<= {b['max_parallel_requests']}",
                  "yes" if b["local_peak"] <= b["max_parallel_requests"] else "NO"))
    for n, peak in b["ray_peaks"].items():
        lines.append((f"budget: ray {n} worker{'s' if n != '1' else ''} peak in flight (server)", str(peak),
                      f"<= {b['max_parallel_requests']}", "yes" if peak <= b["max_parallel_requests"] else "NO"))
    rates = ", ".join(f"{n}w {rate:.0f}" for n, rate in b["ray_rows_per_s"].items())
    for name, value, target, ok in lines:
        print(f"{name:<58} {value:>10} {target:>9} {ok:>4}")
    print(f"budget runs, rows/s: local {b['local_rows_per_s']:.0f}; ray {rates}")
    print("2-worker speedup per round: " + ", ".join(f"{x:.3f}" for x in s["speedup_2_workers_per_round"]))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the parent or a child."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: about two minutes")
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help=f"rows per scale-out run (default {FULL_ROWS:,})")
    parser.add_argument("--rounds", type=int, default=FULL_ROUNDS, help=f"scale-out rounds (default {FULL_ROUNDS})")
    parser.add_argument("--budget-rows", type=int, default=FULL_BUDGET_ROWS,
                        help=f"rows per budget run (default {FULL_BUDGET_ROWS:,})")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY,
                        help=f"rows in flight (per worker on Ray) when scaling out (default {DEFAULT_CONCURRENCY})")
    parser.add_argument("--budget-concurrency", type=int, default=BUDGET,
                        help=f"rows in flight per worker in the budget runs (default {BUDGET})")
    parser.add_argument("--cpu-ms", type=float, default=DEFAULT_CPU_MS,
                        help=f"extra pure-Python CPU per row, in ms (default {DEFAULT_CPU_MS:g})")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--child", choices=("local", "ray"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--workers", default="", help=argparse.SUPPRESS)
    parser.add_argument("--sim-root", default="", help=argparse.SUPPRESS)
    parser.add_argument("--budget", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return child_main(args) if args.child else parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
