"""Behaviour of the daemon thread pool sync rows run in."""

from __future__ import annotations

import threading

import pytest

from sharedlm.runner._threads import DaemonThreadPool


def test_work_runs_on_daemon_threads_and_returns_its_result() -> None:
    pool = DaemonThreadPool(2)

    future = pool.submit(lambda: (threading.current_thread().daemon, 42))

    assert future.result(timeout=10) == (True, 42)
    pool.shutdown()


def test_an_exception_is_kept_in_the_future() -> None:
    pool = DaemonThreadPool(1)

    def fail() -> None:
        raise ValueError("bad row")

    with pytest.raises(ValueError, match="bad row"):
        pool.submit(fail).result(timeout=10)
    pool.shutdown()


def test_no_more_threads_than_max_workers_and_items_wait_their_turn() -> None:
    pool = DaemonThreadPool(2)
    release = threading.Event()
    running = threading.Semaphore(0)

    def block() -> str:
        running.release()
        release.wait()
        return threading.current_thread().name

    futures = [pool.submit(block) for _ in range(5)]
    assert running.acquire(timeout=10)
    assert running.acquire(timeout=10)

    assert sum(f.running() for f in futures) == 2
    assert "threads=2/2" in repr(pool)
    release.set()
    assert len({f.result(timeout=10) for f in futures}) <= 2
    pool.shutdown()


def test_shutdown_without_waiting_cancels_work_not_started_and_abandons_running_work() -> None:
    pool = DaemonThreadPool(1)
    release = threading.Event()
    started = threading.Event()

    def block() -> None:
        started.set()
        release.wait()

    running = pool.submit(block)
    queued = pool.submit(block)
    assert started.wait(timeout=10)

    pool.shutdown(wait=False, cancel_futures=True)

    assert queued.cancelled()
    assert running.running()
    with pytest.raises(RuntimeError, match="after shutdown"):
        pool.submit(block)
    release.set()
    running.result(timeout=10)
