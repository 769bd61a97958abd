"""Batch mode for a run: while it lasts, the shared engine answers every LM call from provider batches.

:func:`batch_mode` turns it on for the rows of one ``run_many`` or ``sharedlm run`` and off again at the end; on
the way it checks that the provider has a batch API (a usage error before anything is sent) and, when asked,
reports batches submitted, in progress and done and calls waiting. Rows run as usual: each of their LM calls waits
on a batch instead of a socket (:mod:`sharedlm._batch`), and calls the DSPy cache answers never reach one.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from sharedlm._batch import BatchOptions, BatchTransport

# Seconds between two progress reports of the batches (a report is only printed when something changed).
REPORT_EVERY_S = 5.0


def journal_path_for(output: Path) -> Path:
    """Where the batch journal of a run writing ``output`` lives: beside it, ``<output>.batches.json``."""
    return output.with_name(output.name + ".batches.json")


def say(line: str) -> None:
    """Print one batch progress line on stderr."""
    print(f"sharedlm batch: {line}", file=sys.stderr, flush=True)


def check_batch_provider() -> None:
    """Refuse batch mode before anything is sent when the shared LM's provider has no batch API.

    Raises:
        UsageError: Naming the model and the providers batch mode supports.
    """
    from sharedlm._singleton import shared_engines

    shared_engines()[1].check_batch()


@contextlib.asynccontextmanager
async def batch_mode(options: BatchOptions, *, report: Callable[[str], None] | None = None,
                     every: float = REPORT_EVERY_S) -> AsyncIterator[BatchTransport]:
    """Answer every call of the shared LM from provider batches inside the block.

    Args:
        options: Linger, limits, polling, retries and the journal.
        report: Called with a progress line (batches submitted, in progress, done; calls waiting) when it changes.
        every: Seconds between two progress lines.

    Raises:
        UsageError: When the shared LM's provider has no batch API.
    """
    from sharedlm._singleton import shared_engines

    _sync_engine, engine = shared_engines()
    transport = engine.use_batch(options)
    before = engine.stats()
    reporter = asyncio.create_task(_report(transport, report, every)) if report is not None else None
    try:
        yield transport
    finally:
        if reporter is not None:
            reporter.cancel()
            await asyncio.gather(reporter, return_exceptions=True)
        await transport.aclose()
        engine.use_online()
        if report is not None:
            report(transport.progress.describe())
            after = engine.stats()
            line = cost_line(engine.settings.model, after.prompt_tokens - before.prompt_tokens,
                             after.completion_tokens - before.completion_tokens)
            if line:
                report(line)


def cost_line(model: str, prompt_tokens: int, completion_tokens: int) -> str | None:
    """What the batch run's tokens cost at batch prices beside the online price, or None when unpriced.

    Args:
        model: The shared LM's model string.
        prompt_tokens: Prompt tokens of the calls answered from batches.
        completion_tokens: Their completion tokens.
    """
    from sharedlm._pricing import model_price

    price = model_price(model)
    if price is None or not (prompt_tokens or completion_tokens):
        return None
    online = price.cost(prompt_tokens, completion_tokens)
    if price.batch_prompt is None or price.batch_completion is None:
        return (f"{prompt_tokens:,} prompt + {completion_tokens:,} completion tokens: ${online:.4f} at online "
                f"prices (no batch prices known for {model})")
    batch = price.cost(prompt_tokens, completion_tokens, batch=True)
    return (f"{prompt_tokens:,} prompt + {completion_tokens:,} completion tokens: ${batch:.4f} at batch prices "
            f"(${online:.4f} online)")


async def _report(transport: BatchTransport, report: Callable[[str], None], every: float) -> None:
    last = ""
    while True:
        line = transport.progress.describe()
        if line != last:
            report(line)
            last = line
        await asyncio.sleep(every)


__all__ = ["REPORT_EVERY_S", "batch_mode", "check_batch_provider", "cost_line", "journal_path_for", "say"]
