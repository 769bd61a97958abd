"""BatchTransport under lm15 against the simulator: rounds of batches, limits, retries, errors, pass-through."""

from __future__ import annotations

import json

import pytest

from sharedlm._batch import BatchTransport
from sharedlm._errors import RetriesExhaustedError, UsageError
from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._batch_store import BatchSettings

from ._helpers import PROVIDERS, RawRequest, bench


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
async def test_two_step_rows_become_two_rounds_with_one_line_per_call(provider: str, model: str) -> None:
    async with Simulator() as sim:
        b = bench(sim, provider, max_requests=30)
        try:
            answers = await b.run_rows(30)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
        online = sim.stats().requests
    assert len(answers) == 30
    assert all(a.startswith("Simulated answer") for a in answers)
    assert (stats["batches_created"], stats["lines_submitted"], stats["lines_succeeded"]) == (2, 60, 60)
    assert online == 0


async def test_linger_submits_what_is_queued_when_no_call_comes() -> None:
    async with Simulator() as sim:
        b = bench(sim, linger=0.0, max_requests=100)
        try:
            answer = await b.ask("alone")
        finally:
            await b.aclose()
        assert answer
        assert sim.batches.stats()["batches_created"] == 1


async def test_a_full_batch_is_submitted_at_once() -> None:
    async with Simulator() as sim:
        b = bench(sim, max_requests=5)
        try:
            await b.run_rows(10)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert (stats["batches_created"], stats["lines_submitted"]) == (4, 20)


async def test_the_byte_limit_splits_a_batch() -> None:
    async with Simulator() as sim:
        b = bench(sim, max_requests=1000, max_bytes=300, linger=0.0)
        try:
            await b.run_rows(4)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert stats["lines_submitted"] == 8
    assert stats["batches_created"] == 8


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
async def test_failed_lines_are_retried_in_a_later_batch_until_every_row_is_ok(provider: str, model: str) -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=0.3), seed=11)) as sim:
        b = bench(sim, provider, max_requests=20, linger=0.0, max_line_attempts=20)
        try:
            answers = await b.run_rows(20)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert len(answers) == 20
    assert stats["lines_succeeded"] == 40
    assert stats["lines_errored"] > 0
    assert b.transport.progress.lines_retried == stats["lines_errored"]
    assert stats["lines_submitted"] == 40 + stats["lines_errored"]


@pytest.mark.parametrize(("provider", "model"), PROVIDERS[:2])
async def test_expired_lines_are_retried_in_a_later_batch(provider: str, model: str) -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_expiry_rate=0.3), seed=5)) as sim:
        b = bench(sim, provider, max_requests=10, linger=0.0, max_line_attempts=20)
        try:
            answers = await b.run_rows(10)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert len(answers) == 10
    assert stats["lines_expired"] > 0
    assert stats["lines_succeeded"] == 20


@pytest.mark.parametrize(("provider", "model"), PROVIDERS)
async def test_a_batch_that_fails_whole_is_resubmitted(provider: str, model: str) -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(fail_first_batches=1))) as sim:
        b = bench(sim, provider, max_requests=5)
        try:
            answers = await b.run_rows(5)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
    assert len(answers) == 5
    assert stats["lines_succeeded"] == 10
    assert stats["batches_created"] == 3
    assert b.transport.progress.lines_retried == 5


async def test_a_line_failing_in_every_batch_ends_with_retries_exhausted() -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=1.0))) as sim:
        b = bench(sim, linger=0.0, max_line_attempts=2)
        try:
            with pytest.raises(RetriesExhaustedError, match="gave up after 2 batches"):
                await b.ask("never")
        finally:
            await b.aclose()
        assert sim.batches.stats()["lines_submitted"] == 2


async def test_a_line_the_provider_refuses_is_the_calls_answer_and_not_retried() -> None:
    async with Simulator() as sim:
        transport = BatchTransport(bench(sim).online, bench(sim, linger=0.0).transport.options)
        body = json.dumps({"model": "m", "messages": []}).encode()
        try:
            async with transport.stream(RawRequest("POST", f"{sim.base_url}/chat/completions", body)) as response:
                status, answer = response.status, await response.read()
        finally:
            await transport.aclose()
        assert status == 400
        assert b"messages" in answer
        assert sim.batches.stats()["lines_submitted"] == 1


async def test_a_streaming_request_is_a_usage_error_before_anything_is_sent() -> None:
    async with Simulator() as sim:
        b = bench(sim)
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "x"}], "stream": True}).encode()
        try:
            with pytest.raises(UsageError, match="cannot stream"):
                async with b.transport.stream(RawRequest("POST", f"{sim.base_url}/chat/completions", body)):
                    pass
        finally:
            await b.aclose()
        assert sim.batches.stats()["files_uploaded"] == 0
        assert sim.stats().requests == 0


async def test_an_endpoint_without_a_batch_api_is_a_usage_error() -> None:
    async with Simulator() as sim:
        b = bench(sim)
        try:
            with pytest.raises(UsageError, match="no batch API"):
                async with b.transport.stream(RawRequest("POST", f"{sim.base_url}/responses", b"{}")):
                    pass
        finally:
            await b.aclose()


async def test_a_request_that_is_not_a_generation_goes_online() -> None:
    async with Simulator() as sim:
        b = bench(sim)
        try:
            async with b.transport.stream(RawRequest("GET", f"{sim.base_url}/models")) as response:
                status = response.status
        finally:
            await b.aclose()
        assert status == 200
        assert sim.stats().requests == 1


async def test_progress_counts_batches_and_waiting_calls() -> None:
    async with Simulator() as sim:
        b = bench(sim, max_requests=4)
        try:
            await b.run_rows(4)
        finally:
            await b.aclose()
    progress = b.transport.progress
    assert (progress.batches_submitted, progress.batches_done, progress.calls_waiting) == (2, 2, 0)
    assert progress.describe() == "batches: 2 submitted, 0 in progress, 2 done; 0 calls waiting"


async def test_five_thousand_two_step_rows_finish_with_one_line_per_call_and_no_online_request() -> None:
    async with Simulator() as sim:
        b = bench(sim, max_requests=5000)
        try:
            answers = await b.run_rows(5000)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
        online = sim.stats().requests
    assert len(answers) == 5000
    assert all(a.startswith("Simulated answer") for a in answers)
    assert (stats["batches_created"], stats["lines_submitted"], stats["lines_succeeded"]) == (2, 10_000, 10_000)
    assert online == 0


async def test_with_retry_online_a_failed_line_is_sent_online_once() -> None:
    async with Simulator(SimulatorSettings(batch=BatchSettings(line_failure_rate=1.0))) as sim:
        b = bench(sim, max_requests=3, retry_online=True)
        try:
            answers = await b.run_rows(3)
        finally:
            await b.aclose()
        stats = sim.batches.stats()
        online = sim.stats().requests
    assert len(answers) == 3
    assert all(answers)
    assert (stats["lines_submitted"], online, b.transport.progress.lines_sent_online) == (6, 6, 6)


def test_the_summary_line_tells_what_became_of_the_lines() -> None:
    from sharedlm._batch import BatchProgress

    progress = BatchProgress()
    progress.batches_submitted, progress.batches_done, progress.batches_failed = 3, 3, 1
    progress.lines_submitted, progress.lines_reattached, progress.lines_retried = 1200, 10, 25
    assert progress.summary() == ("batches: 3 submitted, 3 done (1 failed whole); lines: 1,200 submitted, "
                                  "10 reattached, 25 retried, 0 failed")
