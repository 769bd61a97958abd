"""Batch mode for a run: while it lasts, the shared engine answers every LM call from provider batches.

:func:`batch_mode` turns it on for the rows of one ``run_many`` or ``sharedlm run`` and off again at the end; on
the way it checks that the provider has a batch API (a usage error before anything is sent) and, when asked,
reports at the end the batches submitted and done and what the batch run's tokens cost at batch prices beside
the online price (one line per model when several answer from batches, each at its own price). While the run
lasts the progress display shows the batches (submitted, in progress, done) and the calls waiting
(:mod:`sharedlm.runner._progress`). Rows run as usual: each of their LM calls waits on a batch instead of a socket
(:mod:`sharedlm._batch`), and calls the DSPy cache answers never reach one.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from sharedlm._batch import BatchOptions, BatchTransport
from sharedlm._batch._progress import BatchProgress
from sharedlm._pricing import ModelPrice

# Seconds between two progress reports of the batches when asked for (a report is only printed when something
# changed); the run's progress display shows them by default.
REPORT_EVERY_S = 5.0


def journal_path_for(output: Path) -> Path:
    """Where the batch journal of a run writing ``output`` lives: beside it, ``<output>.batches.json``."""
    return output.with_name(output.name + ".batches.json")


def say(line: str) -> None:
    """Print one batch progress line on stderr."""
    print(f"sharedlm batch: {line}", file=sys.stderr, flush=True)


def check_batch_provider() -> None:
    """Refuse batch mode before anything is sent when a shared LM's provider has no batch API.

    Every model the process has built is checked (a program bound to several models), the default first.

    Raises:
        UsageError: Naming the model and the providers batch mode supports.
    """
    from sharedlm._singleton import all_engines, shared_engines

    shared_engines()[1].check_batch()
    for engine in all_engines():
        engine.check_batch()


def journal_for_model(journal: Path | None, model: str) -> Path | None:
    """The journal of another model's batches beside ``journal``: ``out.jsonl.batches.<model>.json``."""
    if journal is None:
        return None
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", model)
    stem = journal.name[:-len(".json")] if journal.name.endswith(".json") else journal.name
    return journal.with_name(f"{stem}.{slug}.json")


@contextlib.asynccontextmanager
async def batch_mode(options: BatchOptions, *, report: Callable[[str], None] | None = None,
                     every: float | None = None,
                     prices: Callable[[str], ModelPrice | None] | None = None) -> AsyncIterator[BatchTransport]:
    """Answer every call of the shared LM from provider batches inside the block.

    Args:
        options: Linger, limits, polling, retries and the journal.
        report: Called at the end with the batches' final state and the cost at batch beside online prices (one
            line per model, each at ``prices``' price for it).
        every: Also call ``report`` with the batches' state every this many seconds while it changes (the run's
            progress display shows it already; e.g. :data:`REPORT_EVERY_S` for callers without one).
        prices: The run's price of a model (:meth:`~sharedlm.runner._cost.RunCost.price_for`: its ``--price``,
            else its bundled price), for the cost lines. The run's prices are on the engines only while its rows
            run, and the lines are made after, so a run that has its own prices passes them here; None prices
            each model at its engine's price at the end (the bundled one, once the run has detached).

    Every other model the process has built (a program bound to several shared LMs) answers from batches too,
    each with its own journal beside the default's (:func:`journal_for_model`); the transport yielded is the
    default model's.

    Raises:
        UsageError: When a shared LM's provider has no batch API (before any engine leaves online mode).
    """
    from sharedlm._singleton import all_engines, shared_engines

    _sync_engine, engine = shared_engines()
    others = [other for other in all_engines() if other is not engine]
    for other in others:
        other.check_batch()
    transport = engine.use_batch(options)
    extra = [other.use_batch(replace(options, journal=journal_for_model(options.journal, other.settings.model)))
             for other in others]
    engines = [engine, *others]
    before = [each.stats() for each in engines]
    tasks = []
    transports = [transport, *extra]
    if report is not None and every is not None:
        tasks.append(asyncio.create_task(_report(transports, report, every)))
    try:
        yield transport
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await transport.aclose()
        engine.use_online()
        for other, other_transport in zip(others, extra, strict=True):
            await other_transport.aclose()
            other.use_online()
        if report is not None:
            # Every model's batches: a program may send all of its batch calls through a model other than the default.
            report(BatchProgress.total([each.progress for each in transports]).summary())
            for each, stats in zip(engines, before, strict=True):
                model = each.settings.model
                after = each.stats()
                # Each model at the run's price for it, whichever model's batches went out first, if any did.
                price = prices(model) if prices is not None else each.costing.price
                line = cost_line(model, after.prompt_tokens - stats.prompt_tokens,
                                 after.completion_tokens - stats.completion_tokens, price=price)
                if line:
                    report(f"{model}: {line}" if len(engines) > 1 else line)


def cost_line(model: str, prompt_tokens: int, completion_tokens: int, *, price: ModelPrice | None = None) -> str | None:
    """What the batch run's tokens cost at batch prices beside the online price, or None when unpriced.

    Args:
        model: The shared LM's model string.
        prompt_tokens: Prompt tokens of the calls answered from batches.
        completion_tokens: Their completion tokens.
        price: The price the run uses (a ``--price``); the model's bundled price when None.
    """
    from sharedlm._pricing import model_price

    price = price if price is not None else model_price(model)
    if price is None or not (prompt_tokens or completion_tokens):
        return None
    online = price.cost(prompt_tokens, completion_tokens)
    if price.batch_prompt is None or price.batch_completion is None:
        return (f"{prompt_tokens:,} prompt + {completion_tokens:,} completion tokens: ${online:.4f} at online "
                f"prices (no batch prices known for {model})")
    batch = price.cost(prompt_tokens, completion_tokens, batch=True)
    return (f"{prompt_tokens:,} prompt + {completion_tokens:,} completion tokens: ${batch:.4f} at batch prices "
            f"(${online:.4f} online)")


async def _report(transports: list[BatchTransport], report: Callable[[str], None], every: float) -> None:
    last = ""
    while True:
        line = BatchProgress.total([each.progress for each in transports]).describe()
        if line != last:
            report(line)
            last = line
        await asyncio.sleep(every)


__all__ = ["REPORT_EVERY_S", "batch_mode", "check_batch_provider", "cost_line", "journal_for_model", "journal_path_for",
           "say"]
