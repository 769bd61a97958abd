"""Behaviour of the Ray job budget split: N workers together never exceed the job's limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sharedlm._env import settings_from_env
from sharedlm._errors import UsageError
from sharedlm._settings import FlowSettings, SharedLMSettings
from sharedlm.runner._ray._budget import configure_arguments, differing_fields, worker_settings


def job(**changes: object) -> SharedLMSettings:
    return SharedLMSettings(model="openai/sim-model", api_key="secret-key", api_base="http://127.0.0.1:9/v1",
                            max_parallel_requests=500, flow=FlowSettings(rpm=600, tpm=90_000)).with_changes(**changes)


@given(cap=st.integers(min_value=1, max_value=5000), workers=st.integers(min_value=1, max_value=64),
       share=st.floats(min_value=0.01, max_value=1.0))
def test_workers_together_never_exceed_the_jobs_in_flight_cap_or_rates(cap: int, workers: int, share: float) -> None:
    settings = job(max_parallel_requests=cap, budget_share=share)
    if workers > cap:
        return

    each = worker_settings(settings, workers)

    assert each.max_parallel_requests * workers <= cap
    assert each.max_parallel_requests >= cap // workers >= 1
    assert each.flow.effective_rpm is not None
    assert settings.flow.effective_rpm is not None
    assert each.flow.effective_rpm * workers == pytest.approx(settings.flow.effective_rpm)
    assert each.flow.effective_tpm is not None
    assert settings.flow.effective_tpm is not None
    assert each.flow.effective_tpm * workers == pytest.approx(settings.flow.effective_tpm)


def test_one_worker_gets_the_whole_job() -> None:
    settings = job()

    assert worker_settings(settings, 1) == settings


def test_more_workers_than_requests_in_flight_is_a_usage_error_naming_the_fix() -> None:
    with pytest.raises(UsageError, match="SHAREDLM_MAX_PARALLEL_REQUESTS or use fewer --workers"):
        worker_settings(job(max_parallel_requests=3), 4)


def test_the_adaptive_start_and_floor_stay_within_a_workers_cap() -> None:
    each = worker_settings(job(max_parallel_requests=10, initial_concurrency=8, min_concurrency=8), 4)

    assert each.max_parallel_requests == 2
    assert each.flow.initial_concurrency == 2
    assert each.flow.min_concurrency == 2


def test_configure_arguments_rebuild_the_same_settings_in_another_process() -> None:
    settings = worker_settings(job(timeout=30.0, pool_timeout=5.0, lm_kwargs={"temperature": 0.0}), 3)

    rebuilt = settings_from_env(environ={}, **configure_arguments(settings))

    assert rebuilt == settings


def test_differing_fields_names_fields_never_values() -> None:
    expected = job()
    actual = job(rpm=1200, api_key="other-secret")

    names = differing_fields(expected, actual)

    assert names == ["api_key", "rpm"]
