"""One shared LM per process: built once under races, configured explicitly or from the environment."""

from __future__ import annotations

import threading

import dspy
import pytest

import sharedlm
from sharedlm import ConfigurationError, MissingAPIKeyError


def test_racing_threads_get_one_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_MODEL", "openai/race-model")
    barrier = threading.Barrier(100)
    seen: list[object] = []

    def grab() -> None:
        barrier.wait()
        seen.append(sharedlm.get_shared_lm())

    threads = [threading.Thread(target=grab) for _ in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(seen) == 100
    assert len({id(lm) for lm in seen}) == 1


def test_shared_lm_is_a_real_dspy_lm_without_dspy_retries() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    lm = sharedlm.get_shared_lm()
    assert isinstance(lm, dspy.LM)
    assert lm.num_retries == 0


def test_environment_model_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODEL_NAME", "anthropic/claude-test")
    assert sharedlm.get_shared_lm().model == "anthropic/claude-test"


def test_same_settings_again_is_a_no_op() -> None:
    sharedlm.configure(model="openai/m", api_key="k", max_parallel_requests=10)
    lm = sharedlm.get_shared_lm()
    sharedlm.configure(model="openai/m", api_key="k", max_parallel_requests=10)
    assert sharedlm.get_shared_lm() is lm


def test_different_settings_after_creation_name_reset() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    sharedlm.get_shared_lm()
    with pytest.raises(ConfigurationError, match=r"reset_shared_lm\(\).*") as raised:
        sharedlm.configure(model="openai/other", api_key="k")
    assert "model" in str(raised.value)


def test_configure_before_creation_may_change_its_mind() -> None:
    sharedlm.configure(model="openai/first", api_key="k")
    sharedlm.configure(model="openai/second", api_key="k")
    assert sharedlm.get_shared_lm().model == "openai/second"


def test_reset_forgets_the_lm() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    first = sharedlm.get_shared_lm()
    sharedlm.reset_shared_lm()
    sharedlm.configure(model="openai/m", api_key="k")
    assert sharedlm.get_shared_lm() is not first


def test_copies_share_the_engines() -> None:
    sharedlm.configure(model="openai/m", api_key="k")
    lm = sharedlm.get_shared_lm()
    copy = lm.copy(temperature=0.5)
    assert copy.engine is lm.engine


def test_unroutable_model_is_a_configuration_error() -> None:
    sharedlm.configure(model="together_ai/x/y", api_key="k")
    with pytest.raises(ConfigurationError, match="openai/"):
        sharedlm.get_shared_lm()


def test_missing_key_names_the_variables_at_first_call() -> None:
    sharedlm.configure(model="gemini/gemini-2.5-flash")
    predict = dspy.Predict("question -> answer")
    predict.set_lm(sharedlm.get_shared_lm())
    with pytest.raises(Exception) as raised:
        predict(question="hi")
    cause = sharedlm.sharedlm_cause(raised.value)
    assert isinstance(cause, MissingAPIKeyError)
    assert "GEMINI_API_KEY" in str(cause) and "SHAREDLM_API_KEY" in str(cause)


def test_stats_before_creation_are_zero() -> None:
    assert sharedlm.stats().calls == 0


def test_key_is_absent_from_reprs() -> None:
    sharedlm.configure(model="openai/m", api_key="sk-never-show-me")
    lm = sharedlm.get_shared_lm()
    text = repr(lm) + repr(lm.engine) + repr(lm.kwargs) + repr(sharedlm.configure(model="openai/m",
                                                                                 api_key="sk-never-show-me"))
    assert "sk-never-show-me" not in text
