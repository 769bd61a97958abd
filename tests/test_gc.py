"""relaxed_gc: the collector runs less often while a run lasts, and exactly as before once the last run ends."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

import sharedlm
from sharedlm._gc import RELAXED_THRESHOLD, gc_relaxed, relaxed_gc


@pytest.fixture(autouse=True)
def _default_collector() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*before)


def test_the_young_threshold_is_raised_inside_and_restored_after() -> None:
    with relaxed_gc():
        assert gc.get_threshold() == (RELAXED_THRESHOLD, 10, 10)
        assert gc_relaxed()
    assert gc.get_threshold() == (700, 10, 10)
    assert not gc_relaxed()


def test_objects_alive_at_the_start_are_frozen_until_the_end() -> None:
    assert gc.get_freeze_count() == 0
    with relaxed_gc():
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0


def test_nested_uses_restore_only_at_the_last_exit() -> None:
    with relaxed_gc():
        with relaxed_gc():
            pass
        assert gc.get_threshold()[0] == RELAXED_THRESHOLD
    assert gc.get_threshold()[0] == 700


def test_overlapping_uses_on_two_threads_restore_once_both_ended() -> None:
    entered, release = threading.Event(), threading.Event()

    def other_run() -> None:
        with relaxed_gc():
            entered.set()
            release.wait()

    thread = threading.Thread(target=other_run)
    thread.start()
    entered.wait()
    with relaxed_gc():
        pass
    assert gc.get_threshold()[0] == RELAXED_THRESHOLD  # the other run is still going
    release.set()
    thread.join()
    assert gc.get_threshold()[0] == 700


def test_a_higher_threshold_the_caller_set_is_kept() -> None:
    gc.set_threshold(RELAXED_THRESHOLD * 2, 10, 10)
    with relaxed_gc():
        assert gc.get_threshold()[0] == RELAXED_THRESHOLD * 2
    assert gc.get_threshold()[0] == RELAXED_THRESHOLD * 2


def test_a_collector_turned_off_by_threshold_zero_stays_off() -> None:
    gc.set_threshold(0, 10, 10)
    with relaxed_gc():
        assert gc.get_threshold()[0] == 0
    assert gc.get_threshold()[0] == 0


def test_objects_the_caller_froze_stay_frozen() -> None:
    gc.freeze()
    try:
        frozen = gc.get_freeze_count()
        with relaxed_gc():
            pass
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()


def test_the_thresholds_come_back_when_the_block_raises() -> None:
    with pytest.raises(KeyError), relaxed_gc():
        raise KeyError("boom")
    assert gc.get_threshold()[0] == 700


@pytest.mark.parametrize("threshold", [0, -5, True, 2.5, "50000"])
def test_a_threshold_that_is_not_a_positive_integer_is_refused(threshold: object) -> None:
    with pytest.raises(ValueError, match="positive integer"), relaxed_gc(threshold):  # type: ignore[arg-type]
        pass
    assert gc.get_threshold()[0] == 700


def test_relaxed_gc_is_part_of_the_package_face() -> None:
    assert sharedlm.relaxed_gc is relaxed_gc
    assert "relaxed_gc" in sharedlm.__all__
