"""Settings objects: changed by name (flow fields and dspy.LM keywords included) and compared by name only."""

from __future__ import annotations

import pytest

from sharedlm._errors import ConfigurationError
from sharedlm._settings import FlowSettings, SharedLMSettings, split_setting_names

URL_SECRET = "url-secret-0123456789"


def test_with_changes_routes_flow_fields_to_flow_and_unknown_names_to_lm_kwargs() -> None:
    base = SharedLMSettings(model="openai/m", lm_kwargs={"temperature": 0.0})
    changed = base.with_changes(rpm=600, timeout=5.0, max_tokens=256)
    assert changed.flow.rpm == 600
    assert changed.timeout == 5.0
    assert changed.lm_kwargs == {"temperature": 0.0, "max_tokens": 256}


def test_with_changes_leaves_the_original_untouched() -> None:
    base = SharedLMSettings(model="openai/m")
    base.with_changes(rpm=600, temperature=1.0)
    assert base.flow.rpm is None
    assert base.lm_kwargs == {}


def test_differences_name_flow_fields_by_their_own_name_and_never_show_values() -> None:
    old = SharedLMSettings(model="openai/m", api_key="sk-old-secret", flow=FlowSettings(rpm=60))
    new = SharedLMSettings(model="openai/m", api_key="sk-new-secret", flow=FlowSettings(rpm=120))
    names = old.differences(new)
    assert names == ["api_key", "rpm"]
    assert "secret" not in " ".join(names)


def test_equal_settings_have_no_differences() -> None:
    assert SharedLMSettings(model="openai/m").differences(SharedLMSettings(model="openai/m")) == []


def test_split_setting_names_separates_flow_own_and_lm_keywords() -> None:
    flow, own, lm_kwargs = split_setting_names({"rpm": 1, "model": "openai/m", "temperature": 0.5})
    assert (flow, own, lm_kwargs) == ({"rpm": 1}, {"model": "openai/m"}, {"temperature": 0.5})


@pytest.mark.parametrize(("name", "unit"), [("rpm", "requests per minute"), ("tpm", "tokens per minute")])
def test_a_budget_that_is_not_positive_is_refused_in_its_own_unit(name: str, unit: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name} must be a positive number of {unit}, got 0"):
        SharedLMSettings().with_changes(**{name: 0})


@pytest.mark.parametrize(("api_base", "shown"), [
    (f"https://user:{URL_SECRET}@proxy.example/v1", "https://user:***@proxy.example/v1"),
    (f"https://proxy.example/v1?api-key={URL_SECRET}", "https://proxy.example/v1?api-key=***"),
])
def test_settings_repr_masks_a_credential_in_api_base(api_base: str, shown: str) -> None:
    text = repr(SharedLMSettings(model="openai/m", api_base=api_base))
    assert URL_SECRET not in text
    assert f"api_base={shown!r}" in text
