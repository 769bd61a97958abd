"""Streaming through the shared engine, async and through the sync bridge: admitted, timed, booked and released."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from dspy import lm15
from dspy.lm15 import Message, Request

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm import CallTimeoutError, RetriesExhaustedError, SharedLMClosedError
from sharedlm._engine import SharedEngine
from sharedlm._singleton import shared_engines
from sharedlm._sync_bridge import STREAM_BUFFER, SharedSyncEngine
from sharedlm.simulator import BackgroundSimulator, Simulator, SimulatorSettings

TPM = 100_000
REQUEST = Request(model="openai/sim-model", messages=(Message.user("hello there"),))


def engines(api_base: str, **configure: Any) -> tuple[SharedSyncEngine, SharedEngine]:
    sharedlm.configure(model="openai/sim-model", api_key="sim-key", api_base=api_base, **configure)
    return shared_engines()


def text_of(events: list[Any]) -> str:
    return "".join(event.delta.text for event in events if isinstance(event, lm15.StreamDeltaEvent))


def end_of(events: list[Any]) -> lm15.StreamEndEvent:
    ends = [event for event in events if isinstance(event, lm15.StreamEndEvent)]
    assert len(ends) == 1
    return ends[0]


async def test_an_async_stream_yields_the_answer_and_releases_its_slot() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        _, engine = engines(sim.base_url)
        events = [event async for event in engine.stream(REQUEST)]
    assert text_of(events).startswith("Simulated answer")
    stats = sharedlm.stats()
    assert (stats.calls_succeeded, stats.calls_failed, stats.in_flight) == (1, 0, 0)
    assert stats.completion_tokens == end_of(events).usage.output_tokens


async def test_an_async_stream_books_its_tokens_and_refunds_them_from_the_reported_usage() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        _, engine = engines(sim.base_url, tpm=TPM)
        events = [event async for event in engine.stream(REQUEST)]
    usage = end_of(events).usage
    assert usage is not None
    assert usage.total_tokens
    assert engine.pacer.tokens is not None
    budget = engine.pacer.tokens.snapshot()
    assert budget.booked == sharedlm.stats().tokens_reserved > usage.total_tokens
    assert budget.booked - budget.refunded == usage.total_tokens


async def test_a_stream_that_never_answers_times_out_with_the_setting_named_and_frees_its_slot() -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        _, engine = engines(sim.base_url, timeout=0.2, max_retries=0)
        with pytest.raises(RetriesExhaustedError) as raised:
            _ = [event async for event in engine.stream(REQUEST)]
    assert isinstance(raised.value.last, CallTimeoutError)
    assert "timeout=0.2" in str(raised.value)
    assert sharedlm.stats().in_flight == 0


async def test_a_stream_that_stalls_after_its_first_event_times_out_without_a_retry() -> None:
    first_chunk = (b'data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"sim-model",'
                   b'"choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"},"finish_reason":null}]}\n\n')

    async def stall(request: ServerRequest) -> None:
        chunk = b"%x\r\n%s\r\n" % (len(first_chunk), first_chunk)
        await request.connection.send(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                                      b"Transfer-Encoding: chunked\r\n\r\n" + chunk)
        await asyncio.Event().wait()  # never another byte

    async with ScriptedServer(stall) as server:
        _, engine = engines(server.url("/v1"), timeout=0.3, max_retries=3)
        events: list[Any] = []

        async def read_all() -> None:
            async for event in engine.stream(REQUEST):
                events.append(event)

        with pytest.raises(CallTimeoutError, match=r"timeout=0\.3"):
            await read_all()
        assert text_of(events) == "Hel"
        assert len(server.requests) == 1  # a stream is not retried once it has begun
    stats = sharedlm.stats()
    assert (stats.in_flight, stats.calls_failed, stats.errors_by_kind) == (0, 1, {"CallTimeoutError": 1})


async def test_a_stream_that_fails_before_its_first_event_is_retried() -> None:
    async with Simulator(SimulatorSettings(error_rate=1.0)) as sim:
        _, engine = engines(sim.base_url, max_retries=2, backoff_base=0.01, backoff_max=0.01)
        with pytest.raises(RetriesExhaustedError) as raised:
            _ = [event async for event in engine.stream(REQUEST)]
        assert raised.value.attempts == 3
        assert sim.stats().requests == 3
    assert sharedlm.stats().in_flight == 0


async def test_an_async_stream_abandoned_by_its_consumer_releases_its_slot() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        _, engine = engines(sim.base_url)
        stream = engine.stream(REQUEST)
        await anext(stream)
        assert sharedlm.stats().in_flight == 1
        await stream.aclose()
    assert sharedlm.stats().in_flight == 0


def test_a_sync_stream_yields_the_answer_through_the_bridge() -> None:
    with BackgroundSimulator() as sim:
        sync_engine, _ = engines(sim.base_url, tpm=TPM)
        events = list(sync_engine.stream(REQUEST))
    assert text_of(events).startswith("Simulated answer")
    stats = sharedlm.stats()
    assert (stats.calls_succeeded, stats.in_flight) == (1, 0)
    assert stats.tokens_used == end_of(events).usage.total_tokens


def test_a_sync_stream_raises_the_streams_error_in_the_consuming_thread() -> None:
    with BackgroundSimulator(SimulatorSettings(error_rate=1.0)) as sim:
        sync_engine, _ = engines(sim.base_url, max_retries=0)
        with pytest.raises(RetriesExhaustedError):
            list(sync_engine.stream(REQUEST))


class EndlessStream:
    """A provider stream far longer than the bridge's buffer, which notes how far it got and when it was closed."""

    def __init__(self) -> None:
        self.produced = 0
        self.closed = threading.Event()

    async def stream(self, request: Request) -> AsyncGenerator[int, None]:
        try:
            while True:
                self.produced += 1
                yield self.produced
        finally:
            self.closed.set()


def test_an_abandoned_sync_stream_stops_its_loop_side_without_holding_a_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    sync_engine, engine = engines("http://127.0.0.1:9/v1")
    endless = EndlessStream()
    monkeypatch.setattr(engine, "stream", endless.stream)
    events = sync_engine.stream(REQUEST)
    assert next(events) == 1
    events.close()  # the consumer stops iterating
    assert endless.closed.wait(10)
    # The loop side read ahead only as far as the buffer allows, and waited on the loop, not in a thread.
    assert endless.produced <= STREAM_BUFFER + 2


def test_a_sync_stream_fails_with_a_clear_error_when_the_shared_lm_is_reset(monkeypatch: pytest.MonkeyPatch) -> None:
    sync_engine, engine = engines("http://127.0.0.1:9/v1")
    endless = EndlessStream()
    monkeypatch.setattr(engine, "stream", endless.stream)
    events = sync_engine.stream(REQUEST)
    assert next(events) == 1
    sharedlm.reset_shared_lm()
    with pytest.raises(SharedLMClosedError, match="reset_shared_lm"):
        for _ in events:
            pass
    assert endless.closed.wait(10)


PRICED_REQUEST = Request(model="openai/gpt-4o-mini", messages=(Message.user("hello there"),))


async def test_a_stream_is_priced_from_its_end_events_usage() -> None:
    from sharedlm._pricing import model_price

    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base=sim.base_url)
        _, engine = shared_engines()
        events = [event async for event in engine.stream(PRICED_REQUEST)]
    usage = end_of(events).usage
    price = model_price("openai/gpt-4o-mini")
    assert usage is not None
    assert price is not None
    stats = sharedlm.stats()
    assert stats.cost_known
    assert stats.cost_usd == pytest.approx(price.cost(usage.input_tokens or 0, usage.output_tokens or 0))


async def test_a_stream_books_its_worst_case_against_a_spend_cap_and_settles_it_at_its_cost() -> None:
    from sharedlm._spend import SpendLedger

    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base=sim.base_url, max_tokens=100)
        _, engine = shared_engines()
        ledger = SpendLedger(1.0)
        engine.costing.attach(ledger)
        _ = [event async for event in engine.stream(PRICED_REQUEST)]
    assert ledger.booked == 0
    assert ledger.spent == pytest.approx(sharedlm.stats().cost_usd)
    assert ledger.spent > 0


async def test_a_stream_abandoned_after_its_first_event_keeps_its_worst_case_spent_under_a_cap() -> None:
    from sharedlm._spend import SpendLedger

    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base=sim.base_url, max_tokens=100)
        _, engine = shared_engines()
        ledger = SpendLedger(1.0)
        engine.costing.attach(ledger)
        stream = engine.stream(PRICED_REQUEST)
        await anext(stream)
        await stream.aclose()
    assert ledger.booked == 0
    assert ledger.spent > 0  # unknown is never counted as free
    assert sharedlm.stats().in_flight == 0
