"""``sharedlm bench``: DSPy usage patterns measured side by side, each in its own process (issue 6).

It also measures the speed claims of issue 2 (the core) and issue 5 (flow control); ``benchmarks/*.py`` are
thin scripts over :func:`sharedlm.bench._script.script_main`.

How a run works: for each scenario the suite starts the simulator (``sharedlm.simulator.SimulatorProcess``)
with that scenario's knobs, then runs every row as a job in a fresh worker process
(``python -P -m sharedlm.bench._worker``, spec on stdin, one result line on stdout) with a hard timeout,
resetting the simulator's counters before each job and reading them after. Workers talk only to the
simulator on 127.0.0.1 unless ``--api-base`` names another provider.

JSON report (``--json FILE``)::

    {
      "version": 1,
      "machine": {"cores", "usable_cores", "cpu", "memory_mb", "open_file_limit": {"soft", "hard"},
                  "load_average_at_start", "load_average_at_end",       # [1, 5, 15 min]
                  "platform", "python", "versions": {"sharedlm", "dspy", "aiohttp", "litellm", "rich"}},
      "date": "2025-01-01T00:00:00+00:00",       # UTC, when the run started
      "command": "sharedlm bench --quick ...",
      "quick": false,
      "interrupted": false,                       # true: Ctrl-C stopped the run; rows so far are kept
      "provider": "simulator" | "<--api-base URL>",
      "model": "openai/bench-model",
      "scenarios": {
        "<name>": {
          "title": str, "unit": "workflows" | "calls",
          "simulator": {SimulatorSettings knobs} | null,
          "floor_s": float | null,                # the physical floor when every row shares one
          "repeats": int,                         # runs per row (each row shows the median run)
          "skipped": str | null, "error": str | null,
          "rows": [{
            "variant": str, "workflows": int,     # units submitted at once (calls in single-call scenarios)
            "status": "ok" | "failures" | "timed out" | "crashed" | "skipped",
            "note": str | null, "fd_limit": "1024 soft" | "1024 soft+hard" | null,
            "wall_s": float | null, "floor_s": float | null,
            "vs_best": float | null,              # wall_s / best wall_s of fully successful rows, same size+limit
            "vs_floor": float | null,             # wall_s / floor_s
            "units_ok": int | null, "units_failed": int | null,
            "errors": {kind: count}, "error_example": str | null,
            "calls_per_s": float | null,          # units_ok / wall_s
            "fds_before": int | null, "peak_fds": int | null, "rss_peak_mb": float | null,
            "server": {"requests", "ok", "rate_limited", "distinct_connections", "peak_in_flight",
                       "responses_by_status"} | null,
            "engine": {sharedlm's EngineStats subset} | null,
            "completions": {"first_s", "last_s", "max_in_60s"} | null,   # budget scenario
            "samples_wall_s": [float],            # every run's wall time (repeats)
            "worker_s": float | null              # the worker's whole life, start-up included
          }]
        }
      },
      "derived": {"rss_per_1000_workflows_mb": {"<workflows>": float}},
      "claims": [{"issue", "claim", "target", "value", "unit": "x" | "%" | "MB" | "s" | "count", "measured",
                  "passed": true | false | null, "note"}]
    }
"""

from sharedlm.bench._claims import evaluate_claims
from sharedlm.bench._scenarios import SCENARIO_NAMES
from sharedlm.bench._spec import ALL_VARIANTS
from sharedlm.bench._suite import BenchOptions, run_bench

__all__ = ["ALL_VARIANTS", "SCENARIO_NAMES", "BenchOptions", "evaluate_claims", "run_bench"]
