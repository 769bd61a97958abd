"""Every call priced: the engine's stats carry the calls' cost (unknown is None, never 0), a spend cap attached
to the engine refuses a call before it is sent and holds under concurrency, and a spend journal records each call's
booking before it is sent and its settlement after (simulator on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import dspy
import pytest
from dspy.utils.exceptions import LMBillingError

import sharedlm
from sharedlm._engine import SharedEngine
from sharedlm._errors import SpendCapReachedError, UsageError, sharedlm_cause
from sharedlm._pricing import ModelPrice, model_price
from sharedlm._singleton import current_engine
from sharedlm._spend import SpendJournal, SpendLedger, read_spend_journal
from sharedlm.simulator import Simulator, SimulatorSettings

PRICED = "openai/gpt-4o-mini"


class QA(dspy.Signature):
    question: str = dspy.InputField()
    answer: str = dspy.OutputField()


def _shared_predict(model: str, base_url: str, **configure: object) -> dspy.Predict:
    sharedlm.configure(model=model, api_key="sim-key", api_base=base_url, cache=False, **configure)  # type: ignore[arg-type]
    predict = dspy.Predict(QA)
    predict.set_lm(sharedlm.get_shared_lm())
    return predict


def _attach(cap: float) -> SpendLedger:
    engine = current_engine()
    assert engine is not None
    ledger = SpendLedger(cap)
    engine.costing.attach(ledger)
    return ledger


def _engine() -> SharedEngine:
    engine = current_engine()
    assert engine is not None
    return engine


def _event_after(owner: object, method: str) -> asyncio.Event:
    """An event set each time ``owner.method`` has run (``clear()`` it to wait for the next time)."""
    event = asyncio.Event()
    original = getattr(owner, method)

    def wrapped(*args: object, **kwargs: object) -> object:
        result = original(*args, **kwargs)
        event.set()
        return result

    setattr(owner, method, wrapped)
    return event


def _journal_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def test_stats_cost_is_the_sum_of_the_calls_costs() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url)
        await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(5)))
        stats = sharedlm.stats()
        history = sharedlm.get_shared_lm().history
        assert stats.cost_known
        assert stats.cost_usd == pytest.approx(sum(entry["cost"] for entry in history))


async def test_stats_cost_is_server_reported_tokens_at_the_bundled_price() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url)
        await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(5)))
        served, price = sim.stats(), model_price(PRICED)
        assert price is not None
        assert sharedlm.stats().cost_usd == pytest.approx(price.cost(served.prompt_tokens, served.completion_tokens))


async def test_unpriced_model_shows_cost_unknown_not_zero() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict("openai/sim-model", sim.base_url)
        await predict.acall(question="q")
        stats = sharedlm.stats()
        assert (stats.cost_usd, stats.cost_known) == (None, False)
        assert sharedlm.get_shared_lm().history[-1]["cost"] is None


def test_stats_before_any_call_cost_nothing() -> None:
    assert (sharedlm.stats().cost_usd, sharedlm.stats().cost_known) == (0.0, True)


async def test_call_whose_worst_case_exceeds_the_cap_is_refused_before_it_is_sent() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=1000)
        _attach(1e-6)
        with pytest.raises(LMBillingError) as caught:
            await predict.acall(question="q")
        assert isinstance(sharedlm_cause(caught.value), SpendCapReachedError)
        assert sim.stats().requests == 0


async def test_capped_engine_never_spends_more_than_the_cap_under_concurrency() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100, max_parallel_requests=50)
        ledger = _attach(0.001)
        outcomes = await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(400)),
                                        return_exceptions=True)
        refused = [o for o in outcomes if isinstance(sharedlm_cause(o if isinstance(o, BaseException) else None),
                                                      SpendCapReachedError)]
        served, price = sim.stats(), model_price(PRICED)
        assert price is not None
        assert refused
        server_cost = price.cost(served.prompt_tokens, served.completion_tokens)
        assert server_cost <= 0.001
        assert server_cost >= 0.0005
        assert ledger.spent == pytest.approx(server_cost)
        assert ledger.booked == 0.0


async def test_call_of_a_model_without_a_price_under_a_cap_fails_before_it_is_sent_naming_the_model_and_price() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict("openai/sim-model", sim.base_url, max_tokens=100)
        _attach(1.0)
        with pytest.raises(Exception, match="has no price") as caught:
            await predict.acall(question="q")
        cause = sharedlm_cause(caught.value)
        assert isinstance(cause, UsageError)
        assert "'openai/sim-model' has no price" in str(cause)
        assert "--price" in str(cause)
        assert sim.stats().requests == 0


async def test_capped_call_without_max_tokens_on_a_model_whose_longest_answer_is_unknown_is_not_sent() -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict("openai/sim-model", sim.base_url)
        _engine().costing.set_price(ModelPrice(model="openai/sim-model", prompt=1e-6, completion=1e-6))
        _attach(1.0)
        with pytest.raises(Exception, match="set max_tokens") as caught:
            await predict.acall(question="q")
        assert isinstance(sharedlm_cause(caught.value), UsageError)
        assert sim.stats().requests == 0


async def test_every_call_is_settled_in_the_journal_at_its_cost(tmp_path: Path) -> None:
    async with Simulator(SimulatorSettings(latency=0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100)
        journal = SpendJournal(tmp_path / "spend.jsonl", fresh=True)
        _engine().costing.attach(None, journal)
        await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(5)))
        journal.close()
    lines = _journal_lines(tmp_path / "spend.jsonl")
    assert sum("book" in line for line in lines) == sum("settle" in line for line in lines) == 5
    assert read_spend_journal(tmp_path / "spend.jsonl").usd == pytest.approx(sharedlm.stats().cost_usd)


async def test_call_in_flight_is_in_the_journal_as_a_booking_of_its_worst_case(tmp_path: Path) -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100)
        ledger = SpendLedger(1.0)
        _engine().costing.attach(ledger, SpendJournal(tmp_path / "spend.jsonl", fresh=True))
        sent = _event_after(_engine().costing, "sending")
        call = asyncio.ensure_future(predict.acall(question="q"))
        await sent.wait()
        lines = _journal_lines(tmp_path / "spend.jsonl")
        call.cancel()
        await asyncio.gather(call, return_exceptions=True)
    assert lines[-1] == {"book": 1, "usd": ledger.largest_booking, "model": PRICED}


async def test_call_abandoned_after_it_was_sent_keeps_its_worst_case_spent(tmp_path: Path) -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100)
        ledger = SpendLedger(1.0)
        _engine().costing.attach(ledger, SpendJournal(tmp_path / "spend.jsonl", fresh=True))
        sent = _event_after(_engine().costing, "sending")
        call = asyncio.ensure_future(predict.acall(question="q"))
        await sent.wait()
        call.cancel()  # its row was cancelled, or the run interrupted: the provider may bill it all the same
        await asyncio.gather(call, return_exceptions=True)
    assert ledger.booked == 0.0
    assert ledger.spent == ledger.largest_booking > 0
    assert read_spend_journal(tmp_path / "spend.jsonl").usd == ledger.spent


async def test_call_cancelled_before_it_was_sent_is_released(tmp_path: Path) -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100, max_parallel_requests=1)
        ledger = SpendLedger(1.0)
        journal = SpendJournal(tmp_path / "spend.jsonl", fresh=True)
        _engine().costing.attach(ledger, journal)
        sent, booked = _event_after(_engine().costing, "sending"), _event_after(journal, "book")
        first = asyncio.ensure_future(predict.acall(question="q1"))
        await sent.wait()
        booked.clear()
        second = asyncio.ensure_future(predict.acall(question="q2"))
        await booked.wait()  # booked: it now waits for the one slot, which the first call holds
        second.cancel()
        await asyncio.gather(second, return_exceptions=True)
        assert ledger.spent == 0.0
        assert {"release": 2} in _journal_lines(tmp_path / "spend.jsonl")
        first.cancel()
        await asyncio.gather(first, return_exceptions=True)
    assert _engine().counters.requests_sent == 1
    assert ledger.spent == pytest.approx(ledger.largest_booking)


async def test_call_the_provider_failed_is_released_in_the_journal(tmp_path: Path) -> None:
    async with Simulator(SimulatorSettings(latency=0, error_rate=1.0)) as sim:
        predict = _shared_predict(PRICED, sim.base_url, max_tokens=100, max_retries=0)
        _engine().costing.attach(None, SpendJournal(tmp_path / "spend.jsonl", fresh=True))
        with pytest.raises(Exception, match="gave up after 1 attempt"):
            await predict.acall(question="q")
    assert _journal_lines(tmp_path / "spend.jsonl")[-1] == {"release": 1}
    assert read_spend_journal(tmp_path / "spend.jsonl").usd == 0.0
