"""LoopThread: a loop on a daemon thread that runs submitted coroutines and stops without leaving anyone waiting."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import inspect
import threading
from collections.abc import Iterator

import pytest

from sharedlm._loop_thread import LoopThread


class Stopped(Exception):
    """The error a test's loop thread fails pending work with."""


def stopped() -> Stopped:
    return Stopped("the test stopped the loop")


@pytest.fixture
def loop_thread() -> Iterator[LoopThread]:
    thread = LoopThread("test-loop", stopped_error=stopped)
    yield thread
    thread.stop()


async def name_of_thread() -> str:
    return threading.current_thread().name


async def fail() -> None:
    raise ValueError("bad input")


def test_coroutines_run_on_the_named_daemon_thread(loop_thread: LoopThread) -> None:
    assert loop_thread.run(name_of_thread()) == "test-loop"
    assert next(t for t in threading.enumerate() if t.name == "test-loop").daemon


def test_run_raises_the_coroutines_error(loop_thread: LoopThread) -> None:
    with pytest.raises(ValueError, match="bad input"):
        loop_thread.run(fail())


def test_stop_fails_a_thread_waiting_on_unfinished_work_with_the_named_error(loop_thread: LoopThread) -> None:
    started = threading.Event()
    outcome: list[BaseException] = []

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    def wait() -> None:
        try:
            loop_thread.run(forever())
        except BaseException as exc:  # collected and asserted below
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert started.wait(10)
    loop_thread.stop()
    waiter.join(10)
    assert not waiter.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], Stopped)


def test_stop_cancels_the_loops_tasks_and_joins_its_thread(loop_thread: LoopThread) -> None:
    started, cleaned_up = threading.Event(), threading.Event()

    async def hold() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned_up.set()

    future = loop_thread.submit(hold())
    assert started.wait(10)
    loop_thread.stop()
    assert cleaned_up.is_set()
    assert not any(t.name == "test-loop" for t in threading.enumerate())
    assert isinstance(future.exception(), Stopped)


def test_stop_runs_the_last_work_on_the_loop_before_it_stops(loop_thread: LoopThread) -> None:
    ran_on: list[str] = []

    async def last() -> None:
        ran_on.append(threading.current_thread().name)

    loop_thread.start()
    loop_thread.stop(before_stop=last())
    assert ran_on == ["test-loop"]


def test_stop_is_bounded_when_a_task_ignores_cancellation(loop_thread: LoopThread) -> None:
    started = threading.Event()

    async def stubborn() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.Event().wait()

    loop_thread.submit(stubborn())
    assert started.wait(10)
    loop_thread.stop(timeout=0.05)  # returns although the task never ends
    assert not loop_thread.running


def test_work_submitted_after_stop_fails_with_the_named_error(loop_thread: LoopThread) -> None:
    loop_thread.start()
    loop_thread.stop()
    coroutine = name_of_thread()
    with pytest.raises(Stopped):
        loop_thread.submit(coroutine)
    assert inspect.getcoroutinestate(coroutine) == inspect.CORO_CLOSED  # not left to warn "never awaited"


def test_cancelling_a_future_cancels_its_task(loop_thread: LoopThread) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def hold() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.set()
            raise

    future = loop_thread.submit(hold())
    assert started.wait(10)
    future.cancel()
    assert cancelled.wait(10)
    with pytest.raises(concurrent.futures.CancelledError):
        future.result()


def test_a_blocking_call_from_the_loop_itself_is_refused(loop_thread: LoopThread) -> None:
    async def call_back_in() -> None:
        loop_thread.run(name_of_thread())

    with pytest.raises(RuntimeError, match="await it instead"):
        loop_thread.run(call_back_in())


def test_repr_shows_the_state(loop_thread: LoopThread) -> None:
    assert repr(loop_thread) == "LoopThread(name='test-loop', not started, pending=0, tasks=0)"
    loop_thread.start()
    assert "running" in repr(loop_thread)
    loop_thread.stop()
    assert "stopped" in repr(loop_thread)


def start_and_drop_a_waiting_task(started: threading.Event, cleaned_up: threading.Event) -> None:
    """On the loop: what LiteLLM does with its logging worker, a task waiting on a queue no one else refers to."""

    async def worker(queue: asyncio.Queue[None]) -> None:
        started.set()
        try:
            await queue.get()
        finally:
            cleaned_up.set()

    asyncio.get_running_loop().create_task(worker(asyncio.Queue()))  # no reference kept


async def start_dropped_task(started: threading.Event, cleaned_up: threading.Event) -> None:
    start_and_drop_a_waiting_task(started, cleaned_up)


def test_a_task_a_library_starts_and_drops_is_kept_until_it_ends(loop_thread: LoopThread) -> None:
    started, cleaned_up = threading.Event(), threading.Event()
    loop_thread.run(start_dropped_task(started, cleaned_up))
    assert started.wait(10)
    gc.collect()  # unkept, the pending task would be destroyed here, mid-wait
    assert not cleaned_up.is_set()
    assert "tasks=1" in repr(loop_thread)


def test_stop_cancels_and_finishes_a_task_a_library_started_and_dropped(loop_thread: LoopThread,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    started, cleaned_up = threading.Event(), threading.Event()
    loop_thread.run(start_dropped_task(started, cleaned_up))
    assert started.wait(10)
    loop_thread.stop()
    gc.collect()
    assert cleaned_up.is_set()
    assert "Task was destroyed" not in caplog.text
