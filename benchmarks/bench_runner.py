"""Benchmark of the bulk runner against the zero-latency simulator (in a subprocess of its own).

Two targets, measured side by side in one run:

1. Throughput: streaming rows from a JSONL file through a one-predictor DSPy program with the runner (the
   ``sharedlm run`` path: streaming reader, per-row usage tracking, one output line written per row)
   reaches at least 90% of the rows/s of gathering the same program calls directly on the shared LM
   (all rows in memory, bounded by the same concurrency with a semaphore). Both sides run in one child
   process in alternating rounds (100,000 rows per side in 5 rounds), so load from other processes on a
   shared machine hits both alike; client CPU time per row is reported too.
2. Memory: the runner's peak RSS (``ru_maxrss``) for 100,000 rows in one streaming run stays within 1.5x of
   that for 10,000 rows, at concurrency 1,000; each size runs in a fresh child process.

Usage::

    python benchmarks/bench_runner.py            # full sizes: several minutes
    python benchmarks/bench_runner.py --quick    # 3 rounds x 2,000 rows per side; RSS of 1,000 vs 10,000 rows
    python benchmarks/bench_runner.py --json results.json

Children are ``python benchmarks/bench_runner.py --child {pairs,runner} ...``; each prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Literal

THROUGHPUT_TARGET = 0.90
RSS_TARGET = 1.5
FULL_ROWS = 100_000
FULL_ROUNDS = 5
QUICK_ROUND_ROWS = 2_000
QUICK_ROUNDS = 3
QUICK_RSS_ROWS = 10_000
DEFAULT_CONCURRENCY = 1_000
CHILD_TIMEOUT_S = 3_600
SIM_MODEL = "openai/sim-model"


# --- the program both sides run (importable by the children: this module has no import-time effects) ---

def _program_class() -> type:
    import dspy

    import sharedlm

    class ReviewSentiment(dspy.Signature):
        """Classify the sentiment of a product review."""

        text: str = dspy.InputField()
        sentiment: Literal["positive", "neutral", "negative"] = dspy.OutputField()

    class SentimentProgram(sharedlm.SharedLMModule):
        def __init__(self, shared_lm: Any) -> None:
            super().__init__(shared_lm)
            self.classify = dspy.Predict(ReviewSentiment)

        async def aforward(self, text: str) -> dspy.Prediction:
            return await self.classify.acall(text=text)

    return SentimentProgram


def _configure(base_url: str) -> Any:
    import dspy

    import sharedlm

    # Both sides alike: no cache (every call reaches the server), no DSPy call history (10,000 entries of
    # prompts held in memory; the runner's command-line path turns it off too).
    dspy.configure(disable_history=True)
    sharedlm.configure(model=SIM_MODEL, api_key="sim-key", api_base=base_url, cache=False)
    return _program_class()(shared_lm=sharedlm.get_shared_lm())


def _max_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


async def _direct(program: Any, path: Path, rows: int, concurrency: int) -> float:
    import asyncio

    with path.open(encoding="utf-8") as file:
        data = [json.loads(line) for _, line in zip(range(rows), file, strict=False)]
    semaphore = asyncio.Semaphore(concurrency)

    async def one(row: dict[str, Any]) -> Any:
        async with semaphore:
            return await program.acall(text=row["text"])

    started = time.perf_counter()
    results = await asyncio.gather(*(one(row) for row in data), return_exceptions=True)
    seconds = time.perf_counter() - started
    failures = [r for r in results if isinstance(r, BaseException)]
    if failures:
        raise SystemExit(f"direct: {len(failures)} calls failed, first: {failures[0]!r}")
    return seconds


async def _runner(program: Any, path: Path, output: Path, rows: int, concurrency: int) -> tuple[float, int]:
    from sharedlm.runner._options import RowOptions
    from sharedlm.runner._program import prepare_program
    from sharedlm.runner._readers import read_rows
    from sharedlm.runner._run import run_to_file

    started = time.perf_counter()
    report = await run_to_file(prepare_program(program), read_rows(path, "jsonl"), output=output, truncate=True,
                               total=rows, progress="off",
                               options=RowOptions(concurrency=concurrency, limit=rows, record_history=False))
    seconds = time.perf_counter() - started
    if report.failed:
        raise SystemExit(f"runner: {report.failed} rows failed; see {output}")
    return seconds, report.succeeded


def child_main(args: argparse.Namespace) -> int:
    """Run one measurement in this (fresh) process and print it as one JSON line.

    ``pairs`` alternates direct and runner rounds in one process, so both sides see the same machine load
    (other processes on a shared machine swing single runs by tens of percent); ``runner`` is one run, for
    its peak RSS.
    """
    import asyncio

    program = _configure(args.base_url)
    path, output = Path(args.input), Path(args.output)
    if args.child == "runner":
        seconds, done = asyncio.run(_runner(program, path, output, args.rows, args.concurrency))
        print(json.dumps({"mode": "runner", "rows": done, "seconds": seconds, "rows_per_s": done / seconds,
                          "max_rss_mb": _max_rss_mb()}))
        return 0
    totals = {"direct": [0.0, 0.0], "runner": [0.0, 0.0]}  # wall seconds, CPU seconds
    per_round = []
    for _ in range(args.rounds):
        rates = []
        for mode in ("direct", "runner"):
            cpu = time.process_time()
            if mode == "direct":
                seconds = asyncio.run(_direct(program, path, args.rows, args.concurrency))
            else:
                seconds, _ = asyncio.run(_runner(program, path, output, args.rows, args.concurrency))
            totals[mode][0] += seconds
            totals[mode][1] += time.process_time() - cpu
            rates.append(args.rows / seconds)
        per_round.append(rates)
    rows = args.rows * args.rounds
    sides = {mode: {"rows": rows, "seconds": wall, "rows_per_s": rows / wall, "cpu_ms_per_row": cpu / rows * 1000}
             for mode, (wall, cpu) in totals.items()}
    print(json.dumps({"mode": "pairs", "round_rows": args.rows, "rounds": args.rounds, **sides,
                      "ratio": sides["runner"]["rows_per_s"] / sides["direct"]["rows_per_s"],
                      "per_round": per_round}))
    return 0


# --- the parent: input file, simulator, children, table ---

def write_input(path: Path, rows: int) -> None:
    """Unique short reviews, one JSON object per line."""
    moods = ("Loved it", "It broke after a week", "Does the job", "Would not buy again", "Five stars")
    with path.open("w", encoding="utf-8") as file:
        for n in range(rows):
            file.write(json.dumps({"id": n, "text": f"{moods[n % len(moods)]}: review number {n} of the kettle."})
                       + "\n")


def run_child(mode: str, *, base_url: str, source: Path, output: Path, rows: int, concurrency: int,
              rounds: int = 1) -> dict[str, Any]:
    """Run ``--child mode`` in a fresh process and return its JSON result."""
    command = [sys.executable, __file__, "--child", mode, "--base-url", base_url, "--input", str(source),
               "--output", str(output), "--rows", str(rows), "--concurrency", str(concurrency),
               "--rounds", str(rounds)]
    env = {**os.environ, "LITELLM_LOCAL_MODEL_COST_MAP": "true"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    if done.returncode != 0:
        raise SystemExit(f"child {mode} ({rows} rows) failed with {done.returncode}:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def parent_main(args: argparse.Namespace) -> int:
    """Measure both targets side by side and print the table."""
    from sharedlm.simulator import SimulatorProcess, SimulatorSettings

    round_rows = QUICK_ROUND_ROWS if args.quick else args.rows // args.rounds
    rounds = QUICK_ROUNDS if args.quick else args.rounds
    rss_big = QUICK_RSS_ROWS if args.quick else args.rows
    rss_small = rss_big // 10
    concurrency = args.concurrency
    with tempfile.TemporaryDirectory(prefix="sharedlm-bench-runner-") as tmp:
        source = Path(tmp) / "rows.jsonl"
        output = Path(tmp) / "out.jsonl"
        write_input(source, max(round_rows, rss_big))
        print(f"bench_runner: zero-latency simulator in a subprocess, concurrency {concurrency:,}; "
              f"throughput: {rounds} alternating rounds of {round_rows:,} rows per side", file=sys.stderr, flush=True)
        with SimulatorProcess(SimulatorSettings(latency=0.0)) as sim:
            common: dict[str, Any] = {"base_url": sim.base_url, "source": source, "output": output,
                                      "concurrency": concurrency}
            throughput = run_child("pairs", rows=round_rows, rounds=rounds, **common)
            print(f"  throughput done: runner/direct {throughput['ratio']:.3f}", file=sys.stderr, flush=True)
            big = run_child("runner", rows=rss_big, **common)
            small = run_child("runner", rows=rss_small, **common)
    rss_ratio = big["max_rss_mb"] / small["max_rss_mb"]
    summary = {
        "command": " ".join(["python", "benchmarks/bench_runner.py", *sys.argv[1:]]),
        "concurrency": concurrency,
        "throughput": throughput,
        "throughput_target": THROUGHPUT_TARGET,
        "rss": {"small": small, "big": big, "ratio": rss_ratio},
        "rss_target": RSS_TARGET,
        "passed": throughput["ratio"] >= THROUGHPUT_TARGET and rss_ratio <= RSS_TARGET,
    }
    print_table(summary)
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return 0 if summary["passed"] else 1


def print_table(summary: dict[str, Any]) -> None:
    """The results as a plain table on stdout."""
    t = summary["throughput"]
    rss = summary["rss"]
    rows = [
        ("direct gather: rows/s", f"{t['direct']['rows_per_s']:.1f}", "", ""),
        ("runner (streaming file -> file): rows/s", f"{t['runner']['rows_per_s']:.1f}", "", ""),
        ("direct gather: client CPU ms per row", f"{t['direct']['cpu_ms_per_row']:.3f}", "", ""),
        ("runner: client CPU ms per row", f"{t['runner']['cpu_ms_per_row']:.3f}", "", ""),
        ("throughput ratio runner / direct", f"{t['ratio']:.3f}", f">= {THROUGHPUT_TARGET}",
         "yes" if t["ratio"] >= THROUGHPUT_TARGET else "NO"),
        (f"runner peak RSS, {rss['small']['rows']:,} rows (MB)", f"{rss['small']['max_rss_mb']:.1f}", "", ""),
        (f"runner peak RSS, {rss['big']['rows']:,} rows (MB)", f"{rss['big']['max_rss_mb']:.1f}", "", ""),
        ("peak RSS ratio", f"{rss['ratio']:.3f}", f"<= {RSS_TARGET}", "yes" if rss["ratio"] <= RSS_TARGET else "NO"),
    ]
    print(f"\nbench_runner: {summary['command']}  (concurrency {summary['concurrency']:,}, "
          f"{t['rounds']} rounds x {t['round_rows']:,} rows per side)")
    print(f"{'measure':<46} {'value':>10} {'target':>9} {'ok':>4}")
    for name, value, target, ok in rows:
        print(f"{name:<46} {value:>10} {target:>9} {ok:>4}")
    print("per round (rows/s): " + ", ".join(f"direct {d:.0f} / runner {r:.0f}" for d, r in t["per_round"]))


def main(argv: list[str] | None = None) -> int:
    """Parse arguments and run the parent or a child."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes: a minute or two")
    parser.add_argument("--rows", type=int, default=FULL_ROWS, help=f"rows of the big runs (default {FULL_ROWS:,})")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    parser.add_argument("--rounds", type=int, default=FULL_ROUNDS,
                        help=f"alternating direct/runner rounds sharing --rows per side (default {FULL_ROUNDS})")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    parser.add_argument("--child", choices=("pairs", "runner"), help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return child_main(args) if args.child else parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
