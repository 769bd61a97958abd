"""``sharedlm demo``: the example pipeline over the bundled dataset, against a local simulator.

It needs nothing but the installed package: the simulator runs in a subprocess (so it has a core of its own)
and answers like a provider after ``latency`` seconds; the shared LM is configured to talk to it with a
dummy key. The rows go through the same :func:`~sharedlm.runner._file_runner.run_to_file` as ``sharedlm run``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

from sharedlm.runner._defaults import DEFAULT_DEMO_CONCURRENCY, DEFAULT_DEMO_LATENCY_S
from sharedlm.runner._file_runner import run_to_file
from sharedlm.runner._fingerprint import fingerprint_path_for
from sharedlm.runner._lock import OutputLock
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import prepare_program
from sharedlm.runner._source import SourceRow
from sharedlm.runner._summary import print_summary
from sharedlm.runner._writer import check_output

DEMO_MODEL = "openai/sim-model"
DEMO_API_KEY = "sim-key"  # the simulator accepts any key; this one is not a secret
DEMO_DATASET = "demo_rows.jsonl"


def demo_dataset() -> list[dict[str, str]]:
    """The bundled demo rows (``{"id", "text"}``), read from the installed package."""
    text = resources.files("sharedlm").joinpath("data", DEMO_DATASET).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def demo_rows(count: int | None) -> tuple[Iterator[SourceRow], int]:
    """The first ``count`` demo rows (all when None), cycling with new ids when ``count`` exceeds the dataset.

    Args:
        count: How many rows, or None for the whole dataset.
    """
    dataset = demo_dataset()
    total = len(dataset) if count is None else count

    def rows() -> Iterator[SourceRow]:
        for number in range(1, total + 1):
            base = dataset[(number - 1) % len(dataset)]
            lap = (number - 1) // len(dataset)
            row = dict(base) if lap == 0 else {**base, "id": f"{base['id']}-{lap + 1}"}
            yield SourceRow(number=number, fields=row, where=f"demo row {number}")

    return rows(), total


def _say(message: str) -> None:
    print(f"sharedlm demo: {message}", file=sys.stderr, flush=True)


def run_demo(*, rows: int | None = None, concurrency: int = DEFAULT_DEMO_CONCURRENCY,
             latency: float = DEFAULT_DEMO_LATENCY_S, output: Path | None = None, progress: str = "auto") -> int:
    """Run the demo and return its exit code.

    Args:
        rows: How many rows to run; the whole bundled dataset when None.
        concurrency: Rows in flight at once.
        latency: Simulated provider latency per call, in seconds.
        output: The results file (replaced); a file in a new temporary directory when None.
        progress: ``auto``, ``rich``, ``plain`` or ``off``.
    """
    # The demo promises no network: DSPy must use its bundled model metadata instead of fetching it.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    out = output if output is not None else Path(tempfile.mkdtemp(prefix="sharedlm-demo-")) / "results.jsonl"
    with OutputLock(out):
        check_output(out, resume=False, overwrite=True)
        # The demo's output is not resumable: drop a fingerprint an earlier run into this path left.
        fingerprint_path_for(out).unlink(missing_ok=True)
        return _run_demo(out, rows=rows, concurrency=concurrency, latency=latency, progress=progress)


def _run_demo(out: Path, *, rows: int | None, concurrency: int, latency: float, progress: str) -> int:
    from sharedlm._singleton import configure, get_shared_lm
    from sharedlm.examples.extraction_pipeline import ExtractionPipeline
    from sharedlm.simulator import SimulatorProcess, SimulatorSettings

    source, total = demo_rows(rows)
    _say(f"starting a local LLM simulator ({latency:g}s latency per call; no key, no network)")
    with SimulatorProcess(SimulatorSettings(latency=latency)) as sim:
        # cache=False: every row really reaches the simulator, on every run of the demo.
        configure(model=DEMO_MODEL, api_key=DEMO_API_KEY, api_base=sim.base_url, cache=False)
        pipeline = ExtractionPipeline(shared_lm=get_shared_lm())
        _say(f"running ExtractionPipeline (extract, then analyze: 2 LM calls per row) over {total:,} bundled "
             f"support tickets and reviews, {concurrency} rows in flight")
        report = asyncio.run(run_to_file(prepare_program(pipeline), source, output=out, truncate=True, total=total,
                                         options=RowOptions(concurrency=concurrency, record_history=False),
                                         progress=progress, label="demo"))
        served = sim.stats()
    # The simulator's model has no price, and the demo no --price: say so, not how to fix it.
    print_summary(report, title="sharedlm demo", unknown_cost="unknown (the simulated model has no price)")
    _say(f"the simulator saw {served.requests:,} requests from {served.distinct_connections:,} connections, "
         f"at most {served.peak_in_flight:,} at once")
    _say(f"results ({report.succeeded + report.failed:,} lines, one per row) are in {out}\n"
         f"  look at one: head -n 1 {out}\n"
         f"  run your own program: sharedlm run path/to/program.py:YourClass --input rows.jsonl --output out.jsonl")
    if report.interrupted:
        _say("interrupted")
    return report.exit_code


__all__ = ["DEMO_MODEL", "demo_dataset", "demo_rows", "run_demo"]
