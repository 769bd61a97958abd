"""busy_clock: the loop thread's busy seconds are its CPU time plus its time waiting for a CPU (Linux schedstat),
and CPU time alone where the kernel does not say."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from sharedlm._flow import _saturation
from sharedlm._flow._saturation import SaturationCeiling, busy_clock


def _on_a_fresh_thread(read: Callable[[], float]) -> float:
    """Call ``read`` on a thread of its own (busy_clock keeps its file per thread) and return what it returned."""
    result: list[float] = []
    thread = threading.Thread(target=lambda: result.append(read()))
    thread.start()
    thread.join()
    return result[0]


def test_busy_seconds_are_cpu_time_plus_run_queue_wait(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    schedstat = tmp_path / "schedstat"
    schedstat.write_text("1500000000 2500000000 42\n")  # 1.5 s on a CPU, 2.5 s runnable but waiting for one
    monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(schedstat))
    assert _on_a_fresh_thread(busy_clock) == pytest.approx(4.0)


def test_busy_seconds_fall_back_to_cpu_time_without_schedstat(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(tmp_path / "missing"))
    monkeypatch.setattr(_saturation.time, "thread_time", lambda: 7.25)
    assert _on_a_fresh_thread(busy_clock) == 7.25


def test_an_unreadable_schedstat_falls_back_to_cpu_time_for_good(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    schedstat = tmp_path / "schedstat"
    schedstat.write_text("garbage\n")
    monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(schedstat))
    monkeypatch.setattr(_saturation.time, "thread_time", lambda: 3.0)

    def twice() -> float:
        first = busy_clock()
        schedstat.write_text("1000000000 0 1\n")  # readable again, but the thread already switched
        return first + busy_clock()

    assert _on_a_fresh_thread(twice) == 6.0


def test_each_thread_reads_its_own_figures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.write_text("1000000000 0 1\n")
    second.write_text("5000000000 0 1\n")
    monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(first))
    assert _on_a_fresh_thread(busy_clock) == pytest.approx(1.0)
    monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(second))
    assert _on_a_fresh_thread(busy_clock) == pytest.approx(5.0)


def test_the_ceiling_measures_busy_seconds_unless_told_otherwise() -> None:
    ceiling = SaturationCeiling(initial=128, cap=1024)
    assert ceiling._cpu_clock is busy_clock


def test_a_forked_child_reads_its_own_thread_not_the_inherited_file(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    parent, child = tmp_path / "parent", tmp_path / "child"
    parent.write_text("1000000000 0 1\n")
    child.write_text("2000000000 0 1\n")
    monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(parent))

    def across_a_fork() -> float:
        busy_clock()  # opens the parent's file
        monkeypatch.setattr(_saturation, "SCHEDSTAT_PATH", str(child))
        _saturation._forget_after_fork()  # what os.register_at_fork runs in the child
        return busy_clock()

    assert _on_a_fresh_thread(across_a_fork) == pytest.approx(2.0)
