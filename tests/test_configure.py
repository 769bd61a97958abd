"""configure() and get_settings(): settings passed whole, read back, and one clear refusal to change them."""

from __future__ import annotations

import pytest

import sharedlm
from sharedlm._settings import FlowSettings, SharedLMSettings

SIM_BASE = "http://127.0.0.1:9/v1"  # never contacted: these tests build settings and the LM object only


def test_get_settings_reads_back_what_configure_set() -> None:
    configured = sharedlm.configure(model="openai/m", api_key="sk-test", api_base=SIM_BASE, rpm=600)
    assert sharedlm.get_settings() == configured
    assert configured.flow.rpm == 600


def test_configure_takes_a_settings_object_whole_without_reading_the_environment(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_RPM", "5")
    settings = SharedLMSettings(model="openai/m", api_key="sk-test", api_base=SIM_BASE, flow=FlowSettings(tpm=9000))
    assert sharedlm.configure(settings) == settings
    assert sharedlm.get_settings().flow.rpm is None


def test_keywords_change_fields_of_a_settings_object() -> None:
    settings = SharedLMSettings(model="openai/m", api_key="sk-test", api_base=SIM_BASE)
    resolved = sharedlm.configure(settings, max_retries=2, temperature=0.3)
    assert resolved.flow.max_retries == 2
    assert resolved.lm_kwargs["temperature"] == 0.3


def test_settings_from_get_settings_round_trip_into_another_configure() -> None:
    sharedlm.configure(model="openai/m", api_key="sk-test", api_base=SIM_BASE, max_parallel_requests=64)
    exported = sharedlm.get_settings()
    sharedlm.reset_shared_lm()
    assert sharedlm.configure(exported) == exported


def test_configure_with_other_settings_once_built_names_what_differs_and_not_the_key() -> None:
    sharedlm.configure(model="openai/m", api_key="sk-first-secret", api_base=SIM_BASE)
    sharedlm.get_shared_lm()
    with pytest.raises(sharedlm.ConfigurationError, match=r"api_key, rpm differ.*reset_shared_lm") as raised:
        sharedlm.configure(model="openai/m", api_key="sk-second-secret", api_base=SIM_BASE, rpm=10)
    assert "secret" not in str(raised.value)


def test_configure_with_something_that_is_not_settings_is_a_clear_error() -> None:
    with pytest.raises(sharedlm.ConfigurationError, match=r"takes a sharedlm\.SharedLMSettings"):
        sharedlm.configure("openai/m")  # type: ignore[arg-type]
