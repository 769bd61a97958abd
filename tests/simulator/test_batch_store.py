"""The batch store: settings validation, lazy settling on the clock, the dice."""

from __future__ import annotations

from typing import Any

import pytest

from sharedlm._errors import ConfigurationError
from sharedlm.simulator._batch_store import BatchSettings, BatchStore, Line


def _answer(api: str, body: bytes, model: str | None) -> tuple[int, dict[str, Any]]:
    return 200, {"usage": {"prompt_tokens": 3, "completion_tokens": 5}}


def _store(seed: int = 0, **settings: Any) -> tuple[BatchStore, list[float]]:
    now = [0.0]
    return BatchStore(BatchSettings(**settings), _answer, lambda: now[0], seed), now


def test_rates_above_one_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="line_failure_rate"):
        BatchSettings(line_failure_rate=1.5)


def test_a_negative_turnaround_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="turnaround"):
        BatchSettings(turnaround=-1)


def test_a_job_settles_on_the_first_look_after_its_due_time() -> None:
    store, now = _store(turnaround=5)
    job = store.create("openai", "b", [Line("a", b"{}")], {})
    now[0] = 4.9
    assert store.get(job.id) is not None
    assert not job.ended
    now[0] = 5.0
    store.get(job.id)
    assert job.end == "completed"
    assert [r.outcome for r in job.results] == ["succeeded"]


def test_succeeded_lines_count_their_tokens() -> None:
    store, _ = _store()
    store.get(store.create("openai", "b", [Line("a", b"{}"), Line("b", b"{}")], {}).id)
    assert (store.counters.prompt_tokens, store.counters.completion_tokens) == (6, 10)


def test_the_same_seed_fails_the_same_lines() -> None:
    outcomes = []
    for _ in range(2):
        store, _ = _store(line_failure_rate=0.3, seed=7)
        job = store.create("openai", "b", [Line(str(i), b"{}") for i in range(50)], {})
        store.get(job.id)
        outcomes.append([r.outcome for r in job.results])
    assert outcomes[0] == outcomes[1]
    assert "errored" in outcomes[0]
    assert "succeeded" in outcomes[0]


def test_fail_first_batches_fails_exactly_that_many() -> None:
    store, _ = _store(fail_first_batches=2)
    jobs = [store.create("openai", "b", [Line("a", b"{}")], {}) for _ in range(3)]
    for job in jobs:
        store.get(job.id)
    assert [j.end for j in jobs] == ["failed", "failed", "completed"]
