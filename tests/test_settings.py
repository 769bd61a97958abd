"""Settings objects: changed by name (flow fields and dspy.LM keywords included) and compared by name only."""

from __future__ import annotations

from sharedlm._settings import FlowSettings, SharedLMSettings, split_setting_names


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
