"""The journal and reattaching: written before submitting, no secrets, and a killed run never pays twice."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sharedlm._batch import CURRENT_ROW, BatchOptions, BatchTransport, Journal, RowTag
from sharedlm._errors import ConnectionFailedError, InputError
from sharedlm._transport import PooledTransport
from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings

from ._helpers import KEY, Clock, RawRequest, bench


class JournalCheckingTransport:
    """An online transport that reads the journal when the batch file upload leaves."""

    def __init__(self, online: PooledTransport, journal: Path) -> None:
        self.online = online
        self.journal = journal
        self.seen_at_upload: list[dict[str, Any]] = []

    def stream(self, request: Any) -> Any:
        if request.method == "POST" and request.url.endswith("/files"):
            self.seen_at_upload.append(json.loads(self.journal.read_text()))
        return self.online.stream(request)


async def test_the_journal_holds_every_line_before_the_upload_leaves(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        online = PooledTransport(max_connections=4, connect_timeout=5.0)
        checking = JournalCheckingTransport(online, path)
        b = bench(sim, max_requests=3, journal=path)
        b.transport.online = checking
        try:
            await asyncio.gather(*(b.ask(f"q{i}") for i in range(3)))
        finally:
            await b.aclose()
            await online.aclose()
    (batch,) = checking.seen_at_upload[0]["batches"]
    assert batch["state"] == "submitting"
    assert len(batch["lines"]) == 3
    assert batch["batch_id"] is None


async def test_the_journal_records_the_batch_id_and_no_credentials(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        b = bench(sim, max_requests=2, journal=path)
        try:
            await asyncio.gather(*(b.ask(f"q{i}") for i in range(2)))
        finally:
            await b.aclose()
    text = path.read_text()
    (batch,) = json.loads(text)["batches"]
    assert batch["batch_id"].startswith("batch_sim")
    assert batch["state"] == "ended"
    assert KEY not in text
    assert not await asyncio.to_thread(lambda: list(tmp_path.glob(".*.tmp")))


async def test_lines_carry_the_row_and_call_the_runner_tagged(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"

    async def row(b: Any, name: str) -> None:
        CURRENT_ROW.set(RowTag(name))
        await b.two_steps(0)

    async with Simulator() as sim:
        b = bench(sim, linger=0.0, journal=path)
        try:
            await asyncio.gather(row(b, "row-7"))
        finally:
            await b.aclose()
    lines = [line for batch in json.loads(path.read_text())["batches"] for line in batch["lines"].values()]
    assert sorted((x["row"], x["call"]) for x in lines) == [("row-7", 0), ("row-7", 1)]


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    path.write_text("[1, 2]")
    with pytest.raises(InputError, match="not a sharedlm batch journal"):
        Journal(path)


async def test_a_run_killed_after_its_first_submission_resumes_without_submitting_a_line_twice(
        tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    clock = Clock()
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=3600)), clock=clock) as sim:
        first = bench(sim, max_requests=10, journal=path)
        rows = asyncio.ensure_future(first.run_rows(10))
        await first.transport.progress.wait_until(lambda p: p.batches_submitted == 1)
        await first.aclose()  # the crash: pollers and timers stop, callers never hear back
        for task in first.rows:
            task.cancel()
        await asyncio.gather(rows, return_exceptions=True)
        assert sim.batches.stats()["lines_submitted"] == 10

        clock.step = 3600.0  # from now on every look at a batch finds it done
        second = bench(sim, max_requests=10, journal=path)
        try:
            answers = await second.run_rows(10)
        finally:
            await second.aclose()
        stats = sim.batches.stats()
    assert len(answers) == 10
    assert all(answers)
    assert (stats["batches_created"], stats["lines_submitted"]) == (2, 20)
    assert second.transport.progress.lines_reattached == 10


async def test_a_resumed_run_reuses_the_answers_of_a_batch_that_ended_while_it_was_down(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        first = bench(sim, max_requests=4, journal=path)
        try:
            await asyncio.gather(*(first.ask(f"q{i}") for i in range(4)))
        finally:
            await first.aclose()
        second = bench(sim, max_requests=4, journal=path)
        try:
            answers = await asyncio.gather(*(second.ask(f"q{i}") for i in range(4)))
        finally:
            await second.aclose()
        assert all(answers)
        assert sim.batches.stats()["lines_submitted"] == 4


def test_options_refuse_a_negative_linger() -> None:
    from sharedlm._errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="linger"):
        BatchOptions(linger=-1)


def test_a_transport_without_a_journal_keeps_it_in_memory() -> None:
    transport = BatchTransport(online=None)
    assert transport.journal.path is None
    assert "submitted=0" in repr(transport)


async def test_no_repr_of_a_waiting_call_or_the_transport_shows_the_key() -> None:
    from sharedlm._batch._queue import WaitingCall

    loop = asyncio.get_running_loop()
    call = WaitingCall(b"{}", "d", loop.create_future(), headers=[("Authorization", f"Bearer {KEY}")])
    assert KEY not in repr(call)


class HangingAfter:
    """An online transport that sends the requests ``matches`` picks, then never returns (a run killed there)."""

    def __init__(self, online: Any, suffix: str, *, send_first: bool = True) -> None:
        self.online = online
        self.suffix = suffix
        self.send_first = send_first
        self.reached = asyncio.Event()

    def stream(self, request: Any) -> Any:
        if request.method == "POST" and request.url.endswith(self.suffix):
            return self._hang(request)
        return self.online.stream(request)

    @contextlib.asynccontextmanager
    async def _hang(self, request: Any) -> AsyncIterator[Any]:
        if self.send_first:
            async with self.online.stream(request) as response:
                await response.read()
        self.reached.set()
        await asyncio.Event().wait()
        yield None  # never reached


async def _killed_while(sim: Simulator, provider: str, path: Path, suffix: str, *, send_first: bool = True) -> None:
    first = bench(sim, provider, max_requests=4, journal=path)
    hanging = HangingAfter(first.transport.online, suffix, send_first=send_first)
    first.transport.online = hanging
    asks = [asyncio.ensure_future(first.ask(f"q{i}")) for i in range(4)]
    await hanging.reached.wait()
    await first.aclose()
    for task in asks:
        task.cancel()
    await asyncio.gather(*asks, return_exceptions=True)


async def _resumed(sim: Simulator, provider: str, path: Path) -> Any:
    second = bench(sim, provider, max_requests=4, journal=path)
    try:
        answers = await asyncio.gather(*(second.ask(f"q{i}") for i in range(4)))
    finally:
        await second.aclose()
    assert all(answers)
    return second


@pytest.mark.parametrize(("provider", "suffix"), [("openai-chat", "/batches"),
                                                  ("gemini", ":batchGenerateContent"),
                                                  ("anthropic", "/messages/batches")])
async def test_a_batch_created_but_not_yet_journaled_is_found_and_not_paid_twice(
        tmp_path: Path, provider: str, suffix: str) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        await _killed_while(sim, provider, path, suffix)
        assert json.loads(path.read_text())["batches"][0]["batch_id"] is None
        second = await _resumed(sim, provider, path)
        stats = sim.batches.stats()
    assert (stats["batches_created"], stats["lines_submitted"]) == (1, 4)
    assert second.transport.progress.lines_reattached == 4


async def test_an_anthropic_batch_still_in_progress_when_found_is_taken_once_its_results_prove_it(
        tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    clock = Clock()
    async with Simulator(SimulatorSettings(batch=BatchSettings(turnaround=3600)), clock=clock) as sim:
        await _killed_while(sim, "anthropic", path, "/messages/batches")
        second = bench(sim, "anthropic", max_requests=4, journal=path)
        asks = asyncio.gather(*(second.ask(f"q{i}") for i in range(4)))
        # The candidate is polled while in progress: it cannot be confirmed before it ends.
        await sim.batches.wait_until(lambda s: s["batches_retrieved"] >= 1)
        clock.now += 3600
        try:
            answers = await asks
        finally:
            await second.aclose()
        stats = sim.batches.stats()
    (batch,) = json.loads(path.read_text())["batches"]
    assert all(answers)
    assert (stats["batches_created"], stats["lines_submitted"]) == (1, 4)
    assert batch["batch_id"].startswith("msgbatch_sim")


async def _foreign_anthropic_batch(sim: Simulator, size: int) -> None:
    """Another client's Message Batch of ``size`` requests, in the same workspace."""
    online = PooledTransport(max_connections=1, connect_timeout=5.0)
    requests = [{"custom_id": f"other-{i}", "params": {"model": "claude-sonnet-4-5", "max_tokens": 16,
                                                       "messages": [{"role": "user", "content": f"other {i}"}]}}
                for i in range(size)]
    headers = [("x-api-key", KEY), ("anthropic-version", "2023-06-01"), ("Content-Type", "application/json")]
    try:
        async with online.stream(RawRequest("POST", f"{sim.root_url}/v1/messages/batches",
                                            json.dumps({"requests": requests}).encode(), headers)) as response:
            assert response.status == 200
            await response.read()
    finally:
        await online.aclose()


async def test_another_clients_anthropic_batch_of_the_same_size_is_never_taken_for_the_runs(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        await _killed_while(sim, "anthropic", path, "/messages/batches", send_first=False)  # never created
        await _foreign_anthropic_batch(sim, 4)
        with caplog.at_level("WARNING", logger="sharedlm"):
            second = await _resumed(sim, "anthropic", path)
        stats = sim.batches.stats()
    assert (stats["batches_created"], stats["lines_submitted"]) == (2, 8)  # the other client's, then the run's
    assert second.transport.progress.lines_submitted == 4
    assert "was not found among the provider's recent anthropic batches: its lines are submitted again" in caplog.text


def test_a_journal_keeps_when_each_batch_was_written_down(tmp_path: Path) -> None:
    from sharedlm._batch._journal import JournalBatch

    path = tmp_path / "out.batches.json"
    Journal(path).record(JournalBatch("slm1n1", "anthropic", "http://x/v1", "m", submitting_at=1234.5))
    assert Journal(path).batches["slm1n1"].submitting_at == 1234.5


async def test_a_batch_journaled_but_never_sent_is_submitted_once_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        await _killed_while(sim, "openai-chat", path, "/files", send_first=False)
        assert sim.batches.stats()["files_uploaded"] == 0
        await _resumed(sim, "openai-chat", path)
        stats = sim.batches.stats()
    assert (stats["batches_created"], stats["lines_submitted"]) == (1, 4)


async def test_a_resumed_call_takes_the_answer_of_the_retry_line_not_the_failed_one(tmp_path: Path) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator(SimulatorSettings(batch=BatchSettings(fail_first_batches=1))) as sim:
        first = bench(sim, max_requests=2, linger=0.0, journal=path)
        try:
            await asyncio.gather(*(first.ask(f"q{i}") for i in range(2)))
        finally:
            await first.aclose()
        assert sim.batches.stats()["lines_submitted"] == 4  # the failed batch and its resubmission
        second = bench(sim, max_requests=2, linger=0.0, journal=path)
        try:
            answers = await asyncio.gather(*(second.ask(f"q{i}") for i in range(2)))
        finally:
            await second.aclose()
        assert all(answers)
        assert sim.batches.stats()["lines_submitted"] == 4


class LosingTheCreateAnswer:
    """An online transport that sends the first batch creation, then fails as if its answer were lost."""

    def __init__(self, online: Any, suffix: str) -> None:
        self.online = online
        self.suffix = suffix
        self.lost = 0

    def stream(self, request: Any) -> Any:
        if request.method == "POST" and request.url.endswith(self.suffix) and not self.lost:
            self.lost += 1
            return self._lose(request)
        return self.online.stream(request)

    @contextlib.asynccontextmanager
    async def _lose(self, request: Any) -> AsyncIterator[Any]:
        async with self.online.stream(request) as response:
            await response.read()
        raise ConnectionFailedError("connection reset while reading the answer")
        yield None  # never reached


@pytest.mark.parametrize(("provider", "suffix"), [("openai-chat", "/batches"),
                                                  ("gemini", ":batchGenerateContent"),
                                                  ("anthropic", "/messages/batches")])
async def test_a_creation_whose_answer_was_lost_is_found_not_created_again(provider: str,
                                                                                         suffix: str) -> None:
    async with Simulator() as sim:
        b = bench(sim, provider, max_requests=3)
        losing = LosingTheCreateAnswer(b.transport.online, suffix)
        b.transport.online = losing
        try:
            answers = await asyncio.gather(*(b.ask(f"q{i}") for i in range(3)))
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert all(answers)
    assert losing.lost == 1
    assert (stats["batches_created"], stats["lines_submitted"]) == (1, 3)


class RefusingTheListing:
    """An online transport whose batch listings meet a 404 (a proxy that does not pass them on)."""

    def __init__(self, online: Any) -> None:
        self.online = online

    def stream(self, request: Any) -> Any:
        if request.method == "GET" and "/messages/batches?" in request.url:
            request = RawRequest("GET", request.url.replace("/messages/batches?", "/messages/batches/none/list?"),
                                 b"", request.headers)
        return self.online.stream(request)


async def test_when_the_listing_is_refused_the_lines_go_again_with_a_warning_naming_the_risk(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "out.batches.json"
    async with Simulator() as sim:
        await _killed_while(sim, "anthropic", path, "/messages/batches")
        second = bench(sim, "anthropic", max_requests=4, journal=path)
        second.transport.online = RefusingTheListing(second.transport.online)
        with caplog.at_level("WARNING", logger="sharedlm"):
            try:
                answers = await asyncio.gather(*(second.ask(f"q{i}") for i in range(4)))
            finally:
                await second.aclose()
        stats = sim.batches.stats()
    assert all(answers)
    assert stats["lines_submitted"] == 8
    assert "paid twice" in caplog.text
