"""Benchmark of batch mode: the demo data through the two-step demo pipeline via the simulator's batch APIs.

What it measures, side by side in one process against one in-process simulator whose batches take ``turnaround``
seconds (2 s by default):

1. Wall time of the batch run against its floor, steps x turnaround (the pipeline makes two calls per row in
   sequence, so two rounds of batches).
2. Exactly one batch line per call, and no online completion request during the batch run.
3. Cost: the tokens of the batch run priced at the model's batch rates, beside the tokens of the same rows run
   online priced at its online rates (prices from the bundled model metadata for ``--price-model``).

Usage::

    python benchmarks/bench_batch.py                 # 1,200 demo rows, 2 s turnaround
    python benchmarks/bench_batch.py --rows 300 --turnaround 1 --json out.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1200, help="demo rows (default: all 1,200)")
    parser.add_argument("--turnaround", type=float, default=2.0, help="seconds a simulated batch takes")
    parser.add_argument("--price-model", default="openai/gpt-4o-mini", help="whose prices to apply")
    parser.add_argument("--json", dest="json_path", help="also write the figures to this file")
    args = parser.parse_args(argv)

    import sharedlm
    from sharedlm._batch import BatchOptions
    from sharedlm._pricing import model_price
    from sharedlm.examples.extraction_pipeline import ExtractionPipeline
    from sharedlm.runner._demo import demo_rows
    from sharedlm.simulator import BackgroundSimulator, SimulatorSettings
    from sharedlm.simulator._batch_store import BatchSettings

    rows_iter, total = demo_rows(args.rows)
    rows = [row.fields for row in rows_iter]
    steps = 2
    price = model_price(args.price_model)
    figures: dict[str, Any] = {"rows": total, "steps": steps, "turnaround_s": args.turnaround,
                               "price_model": args.price_model}
    with BackgroundSimulator(SimulatorSettings(batch=BatchSettings(turnaround=args.turnaround))) as sim:
        sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=sim.base_url, cache=False)
        program = ExtractionPipeline(sharedlm.get_shared_lm())

        def tokens() -> tuple[int, int]:
            stats = sharedlm.stats()
            return stats.prompt_tokens, stats.completion_tokens

        # Batch run: every row in flight so that each step is one round; polls every 0.1-0.25 s.
        options = BatchOptions(linger=0.2, poll_initial=0.1, poll_max=0.25)
        online_before, (p0, c0) = sim.stats().requests, tokens()
        started = time.perf_counter()
        results = sharedlm.run_many(program, rows, concurrency=total, batch=True, batch_options=options)
        batch_wall = time.perf_counter() - started
        (p1, c1), batch_stats = tokens(), sim.batch_stats()
        figures["batch"] = {
            "wall_s": round(batch_wall, 3), "floor_s": steps * args.turnaround,
            "wall_over_floor": round(batch_wall / (steps * args.turnaround), 3),
            "rows_ok": sum(r.ok for r in results), "batches": batch_stats["batches_created"],
            "batch_lines": batch_stats["lines_submitted"], "calls": total * steps,
            "online_requests": sim.stats().requests - online_before,
            "prompt_tokens": p1 - p0, "completion_tokens": c1 - c0,
        }

        # The same rows online (zero-latency simulator), for the token counts and the cost comparison.
        started = time.perf_counter()
        online_results = sharedlm.run_many(program, rows, concurrency=200)
        online_wall = time.perf_counter() - started
        p2, c2 = tokens()
        figures["online"] = {"wall_s": round(online_wall, 3), "rows_ok": sum(r.ok for r in online_results),
                             "prompt_tokens": p2 - p1, "completion_tokens": c2 - c1}
    if price is not None:
        batch_cost = price.cost(figures["batch"]["prompt_tokens"], figures["batch"]["completion_tokens"], batch=True)
        online_cost = price.cost(figures["online"]["prompt_tokens"], figures["online"]["completion_tokens"])
        figures["cost"] = {"batch_usd": round(batch_cost, 6), "online_usd": round(online_cost, 6),
                           "batch_over_online": round(batch_cost / online_cost, 4) if online_cost else None,
                           "batch_rates_known": price.batch_prompt is not None}
    print(json.dumps(figures, indent=2))
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)
    ok = (figures["batch"]["rows_ok"] == total and figures["batch"]["batch_lines"] == total * steps
          and figures["batch"]["online_requests"] == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
