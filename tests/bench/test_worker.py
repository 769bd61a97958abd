"""The worker: failures are counted, not raised; errno 24 is recognised; completion windows are counted right."""

from __future__ import annotations

import errno
from collections.abc import Iterator

import pytest

from sharedlm.bench._launch import STATUS_OK, run_worker
from sharedlm.bench._spec import JobSpec
from sharedlm.bench._worker import completion_summary, error_kind
from sharedlm.simulator import SimulatorProcess, SimulatorSettings


def _fail_on_too_many_open_files() -> None:
    try:
        raise OSError(errno.EMFILE, "Too many open files")
    except OSError as inner:
        raise RuntimeError("LM call failed") from inner


def test_error_kind_finds_errno_24_behind_a_wrapping_error() -> None:
    with pytest.raises(RuntimeError, match="LM call failed") as caught:
        _fail_on_too_many_open_files()
    assert error_kind(caught.value) == "OSError(24, too many open files)"


def test_error_kind_is_the_outer_type_otherwise() -> None:
    assert error_kind(ValueError("x")) == "ValueError"


def test_completion_summary_counts_the_most_finished_within_any_60_s() -> None:
    offsets = [0.0, 1.0, 59.0, 60.0, 61.0, 119.5, 200.0]
    summary = completion_summary(offsets)
    # [1.0, 61.0] holds 1, 59, 60, 61: four; [0, 60] holds four too; nothing holds five.
    assert summary == {"first_s": 0.0, "last_s": 200.0, "max_in_60s": 4}


def test_completion_summary_of_nothing() -> None:
    assert completion_summary([]) == {"first_s": None, "last_s": None, "max_in_60s": 0}


@pytest.fixture(scope="module")
def simulator() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(SimulatorSettings(latency=0.2)) as sim:
        yield sim


@pytest.mark.slow
def test_running_out_of_descriptors_is_a_result_not_a_crash(simulator: SimulatorProcess) -> None:
    # 60 concurrent requests need 60 connections; the open-file limit allows 48 (soft and hard). The raw client
    # is used because it does not retry, so the failures arrive at once.
    spec = JobSpec(scenario="overhead", variant="raw-aiohttp", kind="calls", count=60,
                   api_base=simulator.base_url, fd_limit=48, fd_limit_hard=True)
    outcome = run_worker(spec, timeout_s=60)
    assert outcome.status == STATUS_OK, outcome.stderr_tail
    result = outcome.result
    assert result is not None
    assert result["fd_limit"] == [48, 48]
    assert result["units_failed"] > 0
    assert result["units_ok"] + result["units_failed"] == 60
    assert sum(result["errors"].values()) == result["units_failed"]


@pytest.mark.slow
def test_sharedlm_worker_reports_the_engines_counters(simulator: SimulatorProcess) -> None:
    spec = JobSpec(scenario="latency", variant="sharedlm", kind="calls", count=20, api_base=simulator.base_url,
                   warmup=2, record_completions=True)
    outcome = run_worker(spec, timeout_s=60)
    assert outcome.status == STATUS_OK, outcome.stderr_tail
    result = outcome.result
    assert result is not None
    assert result["units_ok"] == 20
    assert result["engine"]["requests_sent"] == 22  # warm-up included
    assert result["completions"]["max_in_60s"] == 20


async def test_a_job_asking_for_it_runs_its_batch_under_relaxed_gc_and_restores_the_collector(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from sharedlm._gc import gc_relaxed
    from sharedlm.bench import _worker

    seen: list[bool] = []

    class Recording:
        async def run(self, index: int) -> None:
            seen.append(gc_relaxed())

        def engine_stats(self) -> None:
            return None

        async def aclose(self) -> None:
            pass

    monkeypatch.setattr("sharedlm.bench._variants.build_runner", lambda spec: Recording())
    before = gc.get_threshold()
    relaxed = await _worker.measure(JobSpec(scenario="overhead", variant="instant-engine", kind="calls", count=3,
                                            api_base="http://127.0.0.1:9/v1", warmup=1, relaxed_gc=True))
    default = await _worker.measure(JobSpec(scenario="overhead", variant="instant-engine", kind="calls", count=2,
                                            api_base="http://127.0.0.1:9/v1"))
    assert seen == [True] * 4 + [False] * 2
    assert (relaxed["relaxed_gc"], default["relaxed_gc"]) == (True, False)
    assert gc.get_threshold() == before
