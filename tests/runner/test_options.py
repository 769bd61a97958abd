"""Behaviour of RowOptions: validated once when built, frozen, and passed whole to the runners and Ray workers."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest

import sharedlm
from sharedlm._errors import UsageError
from sharedlm._settings import SharedLMSettings
from sharedlm.runner import RowOptions, arun_many, run_many
from sharedlm.runner._core import RowRunner
from sharedlm.runner._defaults import DEFAULT_CONCURRENCY, DEFAULT_GRACE_S, DEFAULT_ID_FIELD, DEFAULT_RETRY_BACKOFF_S
from sharedlm.runner._options import row_options
from sharedlm.runner._program import prepare_program
from sharedlm.runner._ray._program import ProgramRecipe
from sharedlm.runner._ray._runner import RayPlan, RayRowRunner
from sharedlm.runner._ray._session import RaySession
from sharedlm.runner._run import RunOptions, execute_run

JOB = SharedLMSettings(model="openai/sim-model", api_key="options-secret-key", api_base="http://127.0.0.1:9/v1",
                       max_parallel_requests=100)


class Upper:
    async def aforward(self, text: str) -> dict[str, str]:
        return {"text": text.upper()}


def rows(count: int) -> list[dict[str, str]]:
    return [{"text": str(n)} for n in range(count)]


def test_the_defaults_are_the_runners_defaults() -> None:
    options = RowOptions()

    assert (options.concurrency, options.id_field, options.retries, options.retry_backoff, options.limit,
            options.grace_s, options.ignore_extra_fields, options.record_history) == (
        DEFAULT_CONCURRENCY, DEFAULT_ID_FIELD, 0, DEFAULT_RETRY_BACKOFF_S, None, DEFAULT_GRACE_S, False, True)


@pytest.mark.parametrize(("field", "value"), [
    ("concurrency", 0),
    ("concurrency", 2.5),
    ("concurrency", True),
    ("id_field", ""),
    ("id_field", 7),
    ("retries", -1),
    ("retries", "2"),
    ("retry_backoff", -0.5),
    ("retry_backoff", float("nan")),
    ("retry_backoff", "1"),
    ("ignore_extra_fields", "yes"),
    ("limit", 0),
    ("limit", 1.5),
    ("grace_s", -1),
    ("grace_s", float("inf")),
    ("record_history", None),
])
def test_a_bad_value_is_a_usage_error_naming_the_option(field: str, value: Any) -> None:
    with pytest.raises(UsageError, match=rf"^{field} must be .*got {value!r}$"):
        RowOptions(**{field: value})


def test_seconds_are_stored_as_floats_so_equal_options_compare_equal() -> None:
    assert RowOptions(retry_backoff=2, grace_s=0) == RowOptions(retry_backoff=2.0, grace_s=0.0)
    assert isinstance(RowOptions(retry_backoff=2).retry_backoff, float)


def test_options_are_frozen() -> None:
    options = RowOptions()

    with pytest.raises(dataclasses.FrozenInstanceError):
        options.concurrency = 5  # type: ignore[misc]


def test_replace_validates_like_a_new_value() -> None:
    options = RowOptions(concurrency=10)

    assert options.replace(limit=3) == RowOptions(concurrency=10, limit=3)
    with pytest.raises(UsageError, match="limit"):
        options.replace(limit=0)


def test_given_keywords_override_the_options_and_none_means_not_given() -> None:
    base = RowOptions(concurrency=10, retries=2)

    assert row_options(base, concurrency=None, retries=3) == RowOptions(concurrency=10, retries=3)
    assert row_options(base, concurrency=None) is base
    assert row_options(None, limit=4) == RowOptions(limit=4)


def test_options_of_another_type_are_a_usage_error() -> None:
    with pytest.raises(UsageError, match=r"options must be a sharedlm\.RowOptions"):
        row_options(cast(Any, {"concurrency": 3}))


def test_row_options_are_part_of_the_package_face() -> None:
    assert sharedlm.RowOptions is RowOptions
    assert "RowOptions" in sharedlm.__all__


def test_the_local_runner_reads_back_the_options_it_was_given() -> None:
    options = RowOptions(concurrency=3)

    assert RowRunner(prepare_program(Upper()), options).options is options


def test_the_ray_runner_hands_its_workers_the_same_options_object_the_local_runner_gets() -> None:
    options = RowOptions(concurrency=7, retries=1)
    placeholder = object()
    recipe = ProgramRecipe.from_program(Upper(), shared_lm=placeholder, name="Upper")
    session = cast(RaySession, SimpleNamespace(driver_proxy_env={}))
    ray_runner = RayRowRunner(RayPlan(session=session, workers=2, recipe=recipe, settings=JOB),
                              prepare_program(Upper()), options)
    local_runner = RowRunner(prepare_program(Upper()), options)

    assert ray_runner.options is options
    assert ray_runner._setup(0).rows is local_runner.options is options


def test_run_many_takes_the_options_whole() -> None:
    results = run_many(Upper(), rows(5), options=RowOptions(limit=2))

    assert len(results) == 2


def test_run_many_keywords_override_the_options() -> None:
    results = run_many(Upper(), rows(5), options=RowOptions(limit=4), limit=1)

    assert len(results) == 1


def test_run_many_refuses_a_bad_option_before_running() -> None:
    with pytest.raises(UsageError, match="concurrency"):
        run_many(Upper(), rows(1), concurrency=0)


async def test_arun_many_takes_the_options_whole() -> None:
    results = [result async for result in arun_many(Upper(), rows(5), options=RowOptions(limit=3))]

    assert len(results) == 3


def test_the_command_line_builds_one_row_options_value_without_history(tmp_path: Path) -> None:
    options = RunOptions(program="p.py:P", input=tmp_path / "in.jsonl", output=tmp_path / "out.jsonl", concurrency=3,
                         grace_s=0.5)

    assert options.row_options is options.row_options
    assert options.row_options == RowOptions(concurrency=3, grace_s=0.5, record_history=False)


def test_the_command_line_refuses_a_bad_row_option_by_name(tmp_path: Path) -> None:
    options = RunOptions(program="p.py:P", input=tmp_path / "in.jsonl", output=tmp_path / "out.jsonl", retries=-1)

    with pytest.raises(UsageError, match="retries must be a whole number >= 0"):
        execute_run(options)
