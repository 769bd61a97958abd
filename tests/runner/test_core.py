"""Behaviour of the streaming core: laziness, accounting, ids, input checks, retries, usage, stop and cancel."""

from __future__ import annotations

import asyncio
import gc
import itertools
import threading
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import dspy
import pytest

from sharedlm._errors import AuthenticationError, RateLimitedError, UsageError
from sharedlm._gc import RELAXED_THRESHOLD
from sharedlm.runner._core import RowRunner, arun_many, is_retryable, retry_delay
from sharedlm.runner._options import RowOptions
from sharedlm.runner._program import prepare_program
from sharedlm.runner._results import RowResult
from sharedlm.runner._source import source_rows


class Upper:
    async def aforward(self, text: str) -> dict[str, str]:
        return {"upper": text.upper()}


async def collect(program: Any, rows: Any, **kwargs: Any) -> list[RowResult]:
    return [result async for result in arun_many(program, rows, **kwargs)]


async def test_rows_are_pulled_lazily_never_more_than_the_window_ahead() -> None:
    pulled = 0
    finished = 0
    max_ahead = 0

    def rows() -> Iterator[dict[str, str]]:
        nonlocal pulled
        for n in itertools.count(1):  # endless: materializing it would never finish
            pulled += 1
            yield {"text": f"row {n}"}

    class Track:
        async def aforward(self, text: str) -> dict[str, str]:
            nonlocal finished, max_ahead
            max_ahead = max(max_ahead, pulled - finished)
            await asyncio.sleep(0)
            finished += 1
            return {"text": text}

    results = await collect(Track(), rows(), concurrency=8, limit=200)

    assert len(results) == 200
    assert max_ahead <= 8


async def test_an_async_iterable_of_rows_is_accepted() -> None:
    async def rows() -> AsyncIterator[dict[str, str]]:
        for n in range(5):
            yield {"id": f"r{n}", "text": f"t{n}"}

    results = await collect(Upper(), rows(), concurrency=2)

    assert sorted(r.id for r in results) == ["r0", "r1", "r2", "r3", "r4"]


async def test_every_row_yields_exactly_one_result_in_completion_order() -> None:
    class Delayed:
        async def aforward(self, text: str, delay: float) -> dict[str, str]:
            await asyncio.sleep(delay)
            return {"text": text}

    rows = [{"id": "slow", "text": "a", "delay": 0.05}, {"id": "fast", "text": "b", "delay": 0.0}]

    results = await collect(Delayed(), rows, concurrency=2)

    assert [r.id for r in results] == ["fast", "slow"]


async def test_rows_without_an_id_get_their_position() -> None:
    results = await collect(Upper(), [{"text": "a"}, {"text": "b"}, {"id": "x", "text": "c"}])

    assert sorted(map(str, (r.id for r in results))) == ["1", "2", "x"]
    assert {r.id: r.output for r in results}[2] == {"upper": "B"}


async def test_a_custom_id_field_is_used_and_not_passed_to_the_program() -> None:
    results = await collect(Upper(), [{"key": "k1", "text": "a"}], id_field="key")

    assert results[0].id == "k1"
    assert results[0].output == {"upper": "A"}


async def test_a_repeated_id_is_an_error_row_and_does_not_run() -> None:
    calls = Counter[str]()

    class Count:
        async def aforward(self, text: str) -> dict[str, str]:
            calls[text] += 1
            return {"text": text}

    results = await collect(Count(), [{"id": 1, "text": "first"}, {"id": "1", "text": "second"}])

    assert calls == Counter({"first": 1})
    error = next(r.error for r in results if r.error is not None)
    assert error.type == "InputError"
    assert "repeats id" in error.message
    assert "row 1" in error.message


async def test_a_row_giving_as_its_id_the_number_an_unusable_row_is_reported_under_does_not_run() -> None:
    calls = Counter[str]()

    class Count:
        async def aforward(self, text: str) -> dict[str, str]:
            calls[text] += 1
            return {"text": text}

    results = await collect(Count(), [{"id": [1, 2], "text": "bad id"}, {"id": 1, "text": "second"}])

    assert calls == Counter()
    assert [r.id for r in results] == [1, 1]
    assert all(r.error is not None and r.error.type == "InputError" for r in results)
    assert any("repeats id" in r.error.message for r in results if r.error is not None)


async def test_an_id_that_is_not_a_string_or_integer_fails_the_row_under_its_position() -> None:
    results = await collect(Upper(), [{"id": [1, 2], "text": "a"}])

    assert results[0].id == 1
    assert results[0].error is not None
    assert "ids must be strings or whole numbers" in results[0].error.message


async def test_a_row_that_is_not_a_dict_fails_with_its_position() -> None:
    results = await collect(Upper(), [{"text": "a"}, ["not", "a", "dict"]])

    failed = [r for r in results if r.error is not None]
    assert [r.id for r in failed] == [2]
    assert failed[0].error is not None
    assert "row 2 is a list" in failed[0].error.message


async def test_missing_and_extra_fields_fail_the_row_naming_them() -> None:
    results = await collect(Upper(), [{"id": "a", "body": "x"}])

    error = results[0].error
    assert error is not None
    assert error.type == "InputError"
    assert "missing field 'text'" in error.message
    assert "unexpected field 'body'" in error.message
    assert results[0].attempts == 0


async def test_extra_fields_are_dropped_when_asked() -> None:
    results = await collect(Upper(), [{"text": "a", "category": "x"}], ignore_extra_fields=True)

    assert results[0].output == {"upper": "A"}


async def test_a_failing_program_fails_its_row_only() -> None:
    class Picky:
        async def aforward(self, text: str) -> dict[str, str]:
            if text == "bad":
                raise ValueError("cannot handle bad")
            return {"text": text}

    results = await collect(Picky(), [{"text": "good"}, {"text": "bad"}, {"text": "fine"}])

    by_id = {r.id: r for r in results}
    assert by_id[1].ok
    assert by_id[3].ok
    assert by_id[2].error is not None
    assert (by_id[2].error.type, by_id[2].error.message) == ("ValueError", "cannot handle bad")


async def test_a_sync_program_raising_stop_iteration_fails_its_row_instead_of_hanging_the_run() -> None:
    class Exhausted:
        def __call__(self, text: str) -> dict[str, str]:
            if text == "bad":
                return {"text": next(iter([]))}  # StopIteration cannot be set on an asyncio future
            return {"text": text}

    results = await asyncio.wait_for(collect(Exhausted(), [{"text": "good"}, {"text": "bad"}, {"text": "fine"}]), 30)

    by_id = {r.id: r for r in results}
    assert by_id[1].ok
    assert by_id[3].ok
    assert by_id[2].error is not None
    assert by_id[2].error.type == "RuntimeError"
    assert "StopIteration" in by_id[2].error.message


async def test_a_sync_program_raising_a_futures_cancelled_error_fails_its_row_only() -> None:
    import concurrent.futures

    class WaitsOnCancelled:
        def __call__(self, text: str) -> dict[str, str]:
            if text == "bad":
                future: concurrent.futures.Future[str] = concurrent.futures.Future()
                future.cancel()
                return {"text": future.result()}
            return {"text": text}

    results = await collect(WaitsOnCancelled(), [{"text": "good"}, {"text": "bad"}])

    assert len(results) == 2
    by_id = {r.id: r for r in results}
    assert by_id[2].error is not None
    assert "CancelledError" in by_id[2].error.message


async def test_a_cancelled_error_the_program_raises_itself_fails_its_row_and_is_yielded() -> None:
    class AwaitsCancelledTask:
        async def aforward(self, text: str) -> dict[str, str]:
            if text == "bad":
                inner = asyncio.ensure_future(asyncio.sleep(3600))
                inner.cancel()
                await inner
            return {"text": text}

    results = await collect(AwaitsCancelledTask(), [{"text": "good"}, {"text": "bad"}, {"text": "fine"}])

    assert sorted(r.id for r in results) == [1, 2, 3]
    bad = next(r for r in results if r.id == 2)
    assert bad.error is not None
    assert bad.error.type == "CancelledError"


@pytest.mark.parametrize("sync", [False, True], ids=["async", "sync"])
async def test_sys_exit_in_one_row_fails_that_row_and_the_run_goes_on(sync: bool) -> None:
    class Exits:
        def __call__(self, text: str) -> dict[str, str]:
            if text == "bad":
                raise SystemExit(3)
            return {"text": text}

    class AsyncExits:
        async def aforward(self, text: str) -> dict[str, str]:
            return Exits()(text)

    attempts = Counter[str]()

    class Counted(Exits):
        def __call__(self, text: str) -> dict[str, str]:
            attempts[text] += 1
            return super().__call__(text)

    program: Any = Counted() if sync else AsyncExits()
    results = await collect(program, [{"text": "good"}, {"text": "bad"}, {"text": "fine"}], retries=2,
                            retry_backoff=0)

    by_id = {r.id: r for r in results}
    assert by_id[1].ok
    assert by_id[3].ok
    assert by_id[2].error is not None
    assert by_id[2].error.type == "ProgramExitError"
    assert "SystemExit(3)" in by_id[2].error.message
    if sync:
        assert attempts["bad"] == 1  # the program chose to exit: not retried


async def test_failed_rows_are_retried_with_doubling_backoff() -> None:
    attempts = Counter[str]()
    delays: list[float] = []

    class Flaky:
        async def aforward(self, text: str) -> dict[str, str]:
            attempts[text] += 1
            if attempts[text] < 3:
                raise RateLimitedError("slow down")
            return {"text": text}

    async def fake_sleep(seconds: float) -> None:
        delays.append(seconds)

    runner = RowRunner(prepare_program(Flaky()), RowOptions(retries=2, retry_backoff=0.5), sleep=fake_sleep)
    results = [r async for r in runner.results(source_rows([{"text": "a"}]))]

    assert results[0].ok
    assert results[0].attempts == 3
    assert delays == [0.5, 1.0]
    assert runner.counters.retries == 2


async def test_retries_stop_at_the_budget() -> None:
    class Down:
        async def aforward(self, text: str) -> dict[str, str]:
            raise RateLimitedError("still down")

    runner = RowRunner(prepare_program(Down()), RowOptions(retries=1, retry_backoff=0))
    results = [r async for r in runner.results(source_rows([{"text": "a"}]))]

    assert results[0].attempts == 2
    assert results[0].error is not None


async def test_errors_retrying_cannot_fix_are_not_retried() -> None:
    class Refused:
        async def aforward(self, text: str) -> dict[str, str]:
            raise AuthenticationError("bad key", status=401)

    results = await collect(Refused(), [{"text": "a"}], retries=3, retry_backoff=0)

    assert results[0].attempts == 1


def test_is_retryable_looks_through_dspy_wrapping_to_the_sharedlm_cause() -> None:
    try:
        try:
            raise AuthenticationError("bad key", status=401)
        except AuthenticationError as inner:
            raise RuntimeError("LM call failed") from inner
    except RuntimeError as outer:
        wrapped = outer

    assert not is_retryable(wrapped)
    assert is_retryable(RuntimeError("transient"))


def test_retry_delay_doubles_and_is_capped() -> None:
    assert [retry_delay(n, 1.0) for n in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert retry_delay(20, 1.0) == 30.0
    assert retry_delay(3, 0) == 0.0


async def test_usage_is_tracked_per_row_under_concurrency() -> None:
    class Spender:
        async def aforward(self, text: str, n: int) -> dict[str, int]:
            tracker = dspy.settings.usage_tracker
            for _ in range(2):  # interleave with the other rows between the two calls
                await asyncio.sleep(0.001 * (n % 3))
                tracker.add_usage("sim", {"prompt_tokens": n, "completion_tokens": 10 * n})
            return {"n": n}

    results = await collect(Spender(), ({"text": "t", "n": n} for n in range(1, 41)), concurrency=40)

    for result in results:
        n = result.output["n"] if result.output else -1
        assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (2 * n, 20 * n)


async def test_a_sync_program_runs_in_worker_threads_concurrently() -> None:
    barrier = threading.Barrier(16, timeout=10)

    class Blocking:
        def __call__(self, text: str) -> dict[str, str]:
            barrier.wait()  # passes only when 16 rows run at once: more than the default executor's threads
            return {"thread": threading.current_thread().name}

    results = await collect(Blocking(), ({"text": str(n)} for n in range(16)), concurrency=16)

    assert all(r.ok for r in results), [r.error for r in results if r.error]
    assert all(r.output and r.output["thread"].startswith("sharedlm-row") for r in results)


async def test_a_sync_program_sees_the_rows_usage_tracker() -> None:
    class SyncSpender:
        def __call__(self, text: str) -> dict[str, str]:
            dspy.settings.usage_tracker.add_usage("sim", {"prompt_tokens": 3, "completion_tokens": 4})
            return {"text": text}

    results = await collect(SyncSpender(), [{"text": "a"}])

    assert (results[0].usage.prompt_tokens, results[0].usage.completion_tokens) == (3, 4)


async def test_skipped_rows_are_counted_not_run_nor_yielded() -> None:
    runner = RowRunner(prepare_program(Upper()), skip_keys={"1", "3"})
    results = [r async for r in runner.results(source_rows([{"text": "a"}, {"text": "b"}, {"text": "c"}]))]

    assert [r.id for r in results] == [2]
    assert runner.counters.skipped == 2


async def test_a_skipped_id_still_counts_for_duplicates() -> None:
    runner = RowRunner(prepare_program(Upper()), skip_keys={"a"})
    rows = [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]
    results = [r async for r in runner.results(source_rows(rows))]

    assert len(results) == 1
    assert results[0].error is not None
    assert "repeats id" in results[0].error.message


async def test_stop_takes_no_new_rows_and_lets_rows_in_flight_finish() -> None:
    release = asyncio.Event()
    all_in = asyncio.Event()
    entered: list[str] = []

    class Gate:
        async def aforward(self, text: str) -> dict[str, str]:
            entered.append(text)
            if len(entered) == 3:
                all_in.set()
            await release.wait()
            return {"text": text}

    runner = RowRunner(prepare_program(Gate()), RowOptions(concurrency=3))
    results: list[RowResult] = []

    async def consume() -> None:
        async for result in runner.results(source_rows({"text": str(n)} for n in range(100))):
            results.append(result)

    consumer = asyncio.create_task(consume())
    await all_in.wait()  # the three rows the concurrency allows are inside the program
    assert runner.counters.in_flight == 3
    runner.stop()
    release.set()
    await consumer

    assert len(results) == 3
    assert all(r.ok for r in results)
    assert runner.counters.taken == 3


async def test_cancel_drops_rows_in_flight_without_yielding_them() -> None:
    class Forever:
        async def aforward(self, text: str) -> dict[str, str]:
            if text != "quick":
                await asyncio.Event().wait()
            return {"text": text}

    runner = RowRunner(prepare_program(Forever()), RowOptions(concurrency=4))
    rows = [{"text": "quick"}, {"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "never taken"}]
    results: list[RowResult] = []
    async for result in runner.results(source_rows(rows)):
        results.append(result)
        runner.cancel()

    assert [r.output for r in results] == [{"text": "quick"}]
    assert runner.counters.cancelled == 3
    assert runner.counters.taken == 4


async def test_cancel_abandons_sync_rows_stuck_in_their_threads_which_do_not_hold_the_process() -> None:
    release = threading.Event()
    started = threading.Semaphore(0)
    threads: list[threading.Thread] = []

    class Stuck:
        def __call__(self, text: str) -> dict[str, str]:
            if text != "quick":
                threads.append(threading.current_thread())
                started.release()
                release.wait()
            return {"text": text}

    runner = RowRunner(prepare_program(Stuck()), RowOptions(concurrency=4))
    rows = [{"text": "quick"}, {"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "never taken"}]
    results: list[RowResult] = []
    try:
        async for result in runner.results(source_rows(rows)):
            results.append(result)
            for _ in range(3):  # rows 2 to 4 are stuck in their threads
                await asyncio.to_thread(started.acquire)
            runner.cancel()
    finally:
        release.set()

    assert [r.output for r in results] == [{"text": "quick"}]
    assert runner.counters.cancelled == 3
    assert len(threads) == 3
    assert all(thread.daemon for thread in threads)


async def test_closing_the_generator_early_cancels_rows_in_flight() -> None:
    cancelled = 0

    class Slow:
        async def aforward(self, text: str) -> dict[str, str]:
            nonlocal cancelled
            if text == "0":
                return {"text": text}
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                cancelled += 1
                raise
            return {"text": text}

    results = arun_many(Slow(), ({"text": str(n)} for n in range(5)), concurrency=5)
    first = await anext(results)
    await results.aclose()  # type: ignore[attr-defined]

    assert first.id == 1
    assert cancelled == 4


async def test_the_limit_bounds_the_rows_taken() -> None:
    results = await collect(Upper(), ({"text": str(n)} for n in range(100)), limit=7)

    assert len(results) == 7


async def test_a_dspy_prediction_becomes_its_fields() -> None:
    class Predicts:
        async def aforward(self, text: str) -> dspy.Prediction:
            return dspy.Prediction(answer=text, score=0.5, tags={"x"})

    results = await collect(Predicts(), [{"text": "a"}])

    assert results[0].output == {"answer": "a", "score": 0.5, "tags": ["x"]}


async def test_dspy_call_history_can_be_turned_off_for_the_rows() -> None:
    seen: list[bool] = []

    class Look:
        async def aforward(self, text: str) -> dict[str, str]:
            seen.append(bool(dspy.settings.disable_history))
            return {"text": text}

    runner = RowRunner(prepare_program(Look()), RowOptions(record_history=False))
    [r async for r in runner.results(source_rows([{"text": "a"}]))]
    [r async for r in RowRunner(prepare_program(Look())).results(source_rows([{"text": "b"}]))]

    assert seen == [True, False]


async def test_an_output_that_cannot_be_read_fails_its_row_only() -> None:
    class BadPrediction:
        def toDict(self) -> dict[str, Any]:
            raise RuntimeError("cannot convert")

    class Returns:
        async def aforward(self, text: str) -> Any:
            return BadPrediction() if text == "bad" else {"text": text}

    results = await collect(Returns(), [{"text": "bad"}, {"text": "good"}])

    by_id = {r.id: r for r in results}
    assert by_id[1].error is not None
    assert "cannot convert" in by_id[1].error.message
    assert by_id[2].ok


async def test_an_exception_whose_message_fails_still_fails_only_its_row() -> None:
    class Mute(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message")

    class Raises:
        async def aforward(self, text: str) -> dict[str, str]:
            if text == "bad":
                raise Mute()
            return {"text": text}

    results = await collect(Raises(), [{"text": "bad"}, {"text": "good"}])

    by_id = {r.id: r for r in results}
    assert by_id[1].error is not None
    assert by_id[1].error.type == "Mute"
    assert by_id[2].ok


async def test_a_row_whose_admission_raises_is_an_error_row_and_the_run_goes_on() -> None:
    mixed_keys: dict[Any, str] = {"text": "x", 1: "one", "b": "two"}  # extra keys that cannot be sorted together

    results = await collect(Upper(), [mixed_keys, {"text": "y"}])

    by_id = {r.id: r for r in results}
    assert by_id[1].error is not None
    assert "could not be admitted" in by_id[1].error.message
    assert by_id[2].ok


class SeesCollector:
    """Records the collector's young-generation threshold while a row runs."""

    def __init__(self) -> None:
        self.thresholds: list[int] = []

    async def aforward(self, text: str) -> dict[str, str]:
        self.thresholds.append(gc.get_threshold()[0])
        return {"text": text}


async def test_rows_run_with_the_collector_relaxed_and_it_is_restored_after() -> None:
    before = gc.get_threshold()
    program = SeesCollector()
    results = await collect(program, [{"text": "a"}, {"text": "b"}])
    assert [result.error for result in results] == [None, None]
    assert program.thresholds == [max(RELAXED_THRESHOLD, before[0])] * 2
    assert gc.get_threshold() == before


async def test_relax_gc_off_leaves_the_collector_as_it_was() -> None:
    before = gc.get_threshold()
    program = SeesCollector()
    await collect(program, [{"text": "a"}], options=RowOptions(relax_gc=False))
    assert program.thresholds == [before[0]]


def test_relax_gc_must_be_a_flag() -> None:
    with pytest.raises(UsageError, match="relax_gc"):
        RowOptions(relax_gc=1)  # type: ignore[arg-type]
