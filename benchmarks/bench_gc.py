"""What ``sharedlm.relaxed_gc()`` changes: many concurrent workflows with Python's default collector and relaxed.

1,000 typed two-step workflows (2,000 calls) at 1 s latency, all started at once, through
``sharedlm.get_shared_lm()`` against the simulator in its own process, each run in a fresh worker process: once with
Python's default garbage collector and once under ``sharedlm.relaxed_gc()`` (what ``sharedlm run``, ``run_many`` and
``arun_many`` do by default), for the native route (``openai/``) and the LiteLLM-shaped wire (``together_ai/``), the
pairs interleaved. Reported: wall time, the worker's CPU time during the run and its peak resident memory, and the
relaxed/default ratios.
Information only (no target): exit code 0 unless a workflow failed.

    python benchmarks/bench_gc.py [--workflows 1000] [--latency 1.0] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_litellm import MODEL, NATIVE_MODEL, _run_worker, _simulated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workflows", type=int, default=1000, help="two-step workflows per run, default 1000")
    parser.add_argument("--latency", type=float, default=1.0, help="provider latency, seconds, default 1.0")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {"args": vars(args), "runs": {}}
    failed = 0
    print(f"{args.workflows:,} two-step workflows at {args.latency:g} s latency (floor {2 * args.latency:g} s), "
          "one fresh process per run")
    for model in (NATIVE_MODEL, MODEL):
        pair: dict[str, dict[str, Any]] = {}
        for relaxed in (False, True):
            with _simulated(args.latency, 0) as sim:
                row = _run_worker("sharedlm", model, sim.base_url, args.workflows, "workflows", relaxed)
            pair["relaxed" if relaxed else "default"] = row
            failed += row["failed"]
            print(f"    {model:55s} {'relaxed_gc()' if relaxed else 'default gc  '}  wall {row['wall']:6.2f} s "
                  f"({row['wall'] / (2 * args.latency):.2f}x floor)  cpu {row['cpu']:6.2f} s  peak RSS "
                  f"{row['peak_rss_mb']:6.0f} MiB  failed {row['failed']}")
        ratio = pair["default"]["wall"] / pair["relaxed"]["wall"]
        cpu_ratio = pair["default"]["cpu"] / pair["relaxed"]["cpu"]
        print(f"    {model}: relaxed is {ratio:.2f}x faster in wall time, {cpu_ratio:.2f}x less CPU")
        report["runs"][model] = {**pair, "wall_ratio": ratio, "cpu_ratio": cpu_ratio}
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(report, out, indent=2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
