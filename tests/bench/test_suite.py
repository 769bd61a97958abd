"""The suite's bookkeeping: repeats folded to their median, ratios against the best complete run, skips."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

from sharedlm.bench._launch import STATUS_OK, STATUS_TIMED_OUT, WorkerOutcome
from sharedlm.bench._progress import ProgressLine
from sharedlm.bench._spec import JobSpec
from sharedlm.bench._suite import BenchOptions, _add_ratios, _fold_repeats, run_bench


def _row(variant: str, wall: float | None, *, failed: int = 0, count: int = 100, status: str | None = None,
         floor: float | None = 2.0) -> dict[str, Any]:
    return {"variant": variant, "workflows": count, "fd_limit": None, "note": None, "wall_s": wall,
            "floor_s": floor, "units_failed": failed, "status": status or ("ok" if failed == 0 else "failures"),
            "samples_wall_s": [wall] if wall is not None else [], "vs_best": None, "vs_floor": None, "repeat": 0}


def test_repeats_fold_into_the_median_run_with_every_sample_kept() -> None:
    folded = _fold_repeats([_row("sharedlm", 3.0), _row("sharedlm", 1.0), _row("sharedlm", 2.0)])
    assert len(folded) == 1
    assert folded[0]["wall_s"] == 2.0
    assert sorted(folded[0]["samples_wall_s"]) == [1.0, 2.0, 3.0]


def test_of_two_repeats_the_slower_is_the_median() -> None:
    folded = _fold_repeats([_row("sharedlm", 1.0), _row("sharedlm", 2.0)])
    assert folded[0]["wall_s"] == 2.0


def test_a_lost_repeat_is_named_in_the_note() -> None:
    folded = _fold_repeats([_row("sharedlm", 1.0), _row("sharedlm", None, status=STATUS_TIMED_OUT)])
    assert folded[0]["wall_s"] == 1.0
    assert "timed out" in folded[0]["note"]


def test_the_best_is_the_fastest_run_that_completed_every_unit() -> None:
    rows = [_row("a", 4.0), _row("b", 2.0), _row("c", 1.0, failed=5)]
    _add_ratios(rows)
    assert [r["vs_best"] for r in rows] == [2.0, 1.0, 0.5]
    assert [r["vs_floor"] for r in rows] == [2.0, 1.0, 0.5]


def test_ratios_compare_only_rows_of_the_same_size() -> None:
    rows = [_row("a", 4.0, count=10), _row("a", 8.0, count=20)]
    _add_ratios(rows)
    assert [r["vs_best"] for r in rows] == [1.0, 1.0]


def _fake_worker(spec: JobSpec, *, timeout_s: float, python: str | None) -> WorkerOutcome:
    result = {"wall_s": 0.5, "units_ok": spec.count, "units_failed": 0, "errors": {}, "error_example": None,
              "fds_before": 5, "peak_fds": 9, "rss_peak_kb": 2048, "engine": None, "completions": None}
    return WorkerOutcome(status=STATUS_OK, result=result, elapsed_s=1.0, exit_code=0)


def test_against_a_given_api_base_scenarios_needing_the_simulator_say_they_are_skipped() -> None:
    options = BenchOptions(scenarios=("connections", "latency", "overhead"), sizes=(3,), quick=True,
                           api_base="http://127.0.0.1:9/v1", api_key="sk-x")
    report = run_bench(options, progress=ProgressLine(0, enabled=False), worker=_fake_worker)
    assert "needs the simulator" in report["scenarios"]["latency"]["skipped"]
    assert "needs the simulator" in report["scenarios"]["overhead"]["skipped"]
    connections = report["scenarios"]["connections"]
    assert connections["skipped"] is None
    measured = [r for r in connections["rows"] if r["status"] == "ok"]
    assert len(measured) == 5
    assert all(r["server"] is None for r in measured)
    assert report["provider"] == "http://127.0.0.1:9/v1"


def test_the_report_never_contains_the_api_key() -> None:
    options = BenchOptions(scenarios=("connections",), sizes=(3,), api_base="http://127.0.0.1:9/v1",
                           api_key="sk-very-secret")
    report = run_bench(options, progress=ProgressLine(0, enabled=False), worker=_fake_worker)
    assert "sk-very-secret" not in repr(report)


def test_an_interrupted_run_keeps_the_rows_measured_so_far() -> None:
    calls = []

    def interrupted_on_third(spec: JobSpec, *, timeout_s: float, python: str | None) -> WorkerOutcome:
        calls.append(spec.variant)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return _fake_worker(spec, timeout_s=timeout_s, python=python)

    options = BenchOptions(scenarios=("connections", "overhead"), sizes=(3,), quick=True,
                           api_base="http://127.0.0.1:9/v1", api_key="sk-x")
    report = run_bench(options, progress=ProgressLine(0, enabled=False), worker=interrupted_on_third)
    assert report["interrupted"] is True
    rows = report["scenarios"]["connections"]["rows"]
    assert [r["variant"] for r in rows if r["status"] == "ok"] == calls[:2]
    assert report["scenarios"]["connections"]["error"] == "interrupted"


@pytest.mark.parametrize("sizes", [(), (0,)])
def test_options_refuse_empty_or_zero_sizes(sizes: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="sizes"):
        BenchOptions(sizes=sizes)


def test_options_refuse_unknown_scenarios() -> None:
    with pytest.raises(ValueError, match="nope"):
        BenchOptions(scenarios=("nope",))


class _FakeServer:
    opened: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = dict(settings)
        _FakeServer.opened.append(self.settings)
        self.base_url = f"http://127.0.0.1:{len(_FakeServer.opened)}/v1"

    def reset(self) -> None:
        pass

    def stats(self) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        pass


def test_rows_with_their_own_simulator_each_get_a_fresh_one_and_their_own_floor(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import sharedlm.bench._suite as suite

    _FakeServer.opened = []
    monkeypatch.setattr(suite, "SimulatedServer", _FakeServer)
    options = BenchOptions(scenarios=("openai",), sizes=(30,), quick=True)
    report = run_bench(options, progress=ProgressLine(0, enabled=False), worker=_fake_worker)
    rows = [r for r in report["scenarios"]["openai"]["rows"] if r["status"] == "ok"]
    assert len(rows) == 2
    assert len(_FakeServer.opened) == 2
    assert all(s["personality"] == "openai" for s in _FakeServer.opened)
    assert {r["floor_s"] for r in rows} == {30 / 64 * 0.2, 30 / 6000 * 60}
    assert all("personality" not in r for r in rows)


def test_relaxed_gc_reaches_every_planned_job_of_every_variant() -> None:
    from sharedlm.bench._suite import BenchOptions, plan_all

    plans = plan_all(BenchOptions(scenarios=("personalities", "rate-limited"), quick=True, relaxed_gc=True))
    specs = [row.spec for plan in plans for row in plan.rows if row.spec is not None]
    assert specs
    assert {spec.variant for spec in specs} >= {"sharedlm", "plain-shared"}
    assert all(spec.relaxed_gc for spec in specs)
    default = plan_all(BenchOptions(scenarios=("rate-limited",), quick=True))
    assert not any(row.spec.relaxed_gc for plan in default for row in plan.rows if row.spec is not None)
