"""Behaviour of run_many from sync code and from inside a running event loop (as in a notebook)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from sharedlm.runner import run_many


class Upper:
    async def aforward(self, text: str) -> dict[str, str]:
        return {"upper": text.upper(), "thread": threading.current_thread().name}


def test_run_many_returns_one_result_per_row_from_sync_code() -> None:
    results = run_many(Upper(), [{"id": n, "text": f"t{n}"} for n in range(10)], concurrency=3)

    assert sorted(r.id for r in results) == list(range(10))
    assert all(r.ok for r in results)


async def test_run_many_works_inside_a_running_loop_on_a_helper_thread() -> None:
    results = run_many(Upper(), [{"text": "a"}])

    assert results[0].output is not None
    assert results[0].output["upper"] == "A"
    assert results[0].output["thread"] == "sharedlm-run-many"
    assert asyncio.get_running_loop().is_running()


def test_run_many_propagates_usage_errors_before_running() -> None:
    from sharedlm._errors import UsageError

    with pytest.raises(UsageError):
        run_many(Upper(), [{"text": "a"}], concurrency=0)


def test_run_many_shows_progress_on_stderr_and_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    results = run_many(Upper(), [{"text": "a"}], progress=True)

    assert results[0].ok
    captured = capsys.readouterr()
    assert "1/1 rows" in captured.err
    assert captured.out == ""
