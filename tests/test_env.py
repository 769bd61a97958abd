"""Settings come from the environment in one place, explicit values win, and bad values name their variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from sharedlm._env import declared_models, find_api_key, guard_mode, key_variables, settings_from_env, state_dir
from sharedlm._errors import ConfigurationError
from sharedlm._settings import DEFAULT_MAX_PARALLEL_REQUESTS, DEFAULT_MODEL


def test_defaults_without_environment() -> None:
    settings = settings_from_env({})
    assert settings.model == DEFAULT_MODEL
    assert settings.max_parallel_requests == DEFAULT_MAX_PARALLEL_REQUESTS
    assert settings.api_key is None


def test_sharedlm_model_wins_over_seed_model_name() -> None:
    assert settings_from_env({"SHAREDLM_MODEL": "openai/a", "MODEL_NAME": "openai/b"}).model == "openai/a"
    assert settings_from_env({"MODEL_NAME": "openai/b"}).model == "openai/b"


def test_explicit_override_wins_over_environment() -> None:
    settings = settings_from_env({"SHAREDLM_MAX_PARALLEL_REQUESTS": "50"}, max_parallel_requests=7)
    assert settings.max_parallel_requests == 7


def test_key_found_in_provider_variable_for_gemini() -> None:
    assert find_api_key("gemini/gemini-2.5-flash", {"GOOGLE_API_KEY": "g-key"}) == "g-key"


def test_sharedlm_api_key_wins_over_provider_variable() -> None:
    env = {"SHAREDLM_API_KEY": "mine", "OPENAI_API_KEY": "theirs"}
    assert find_api_key("openai/gpt-4o-mini", env) == "mine"


def test_key_variables_name_the_provider_variables_in_order() -> None:
    assert key_variables("anthropic/claude") == ("SHAREDLM_API_KEY", "ANTHROPIC_API_KEY")


@pytest.mark.parametrize(("name", "value"), [
    ("SHAREDLM_MAX_PARALLEL_REQUESTS", "lots"),
    ("SHAREDLM_TIMEOUT", "nan"),
    ("SHAREDLM_RPM", "ten"),
])
def test_malformed_variable_is_named_in_the_error(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=name):
        settings_from_env({name: value})


def test_zero_cap_is_refused_with_the_setting_named() -> None:
    with pytest.raises(ConfigurationError, match="max_parallel_requests"):
        settings_from_env({"SHAREDLM_MAX_PARALLEL_REQUESTS": "0"})


def test_flow_settings_read_from_environment() -> None:
    settings = settings_from_env({"SHAREDLM_RPM": "600", "SHAREDLM_BUDGET_SHARE": "0.5"})
    assert settings.flow.effective_rpm == 300


def test_unknown_override_goes_to_lm_kwargs() -> None:
    assert settings_from_env({}, temperature=0.3).lm_kwargs == {"temperature": 0.3}


def test_engine_owned_keys_are_refused_in_lm_kwargs() -> None:
    with pytest.raises(ConfigurationError, match="num_retries"):
        settings_from_env({}, num_retries=3)


def test_api_key_is_absent_from_settings_repr() -> None:
    assert "sk-hidden" not in repr(settings_from_env({"SHAREDLM_API_KEY": "sk-hidden"}))


def test_guard_mode_rejects_unknown_value() -> None:
    with pytest.raises(ConfigurationError, match="SHAREDLM_GUARD"):
        guard_mode({"SHAREDLM_GUARD": "loud"})


def test_state_dir_is_moved_by_sharedlm_state_dir(tmp_path: Path) -> None:
    assert state_dir({"SHAREDLM_STATE_DIR": str(tmp_path)}) == tmp_path


def test_state_dir_defaults_to_sharedlm_in_the_user_cache_directory(tmp_path: Path) -> None:
    chosen = state_dir({"XDG_CACHE_HOME": str(tmp_path)})
    assert chosen.name in ("sharedlm", "Cache")
    assert "sharedlm" in chosen.parts


def test_a_budget_url_that_is_not_redis_is_refused_without_showing_it() -> None:
    from sharedlm._env import budget_url

    with pytest.raises(ConfigurationError, match="SHAREDLM_BUDGET_URL") as caught:
        budget_url({"SHAREDLM_BUDGET_URL": "http://user:s3cret@host/"})

    assert "s3cret" not in str(caught.value)


def test_no_budget_url_means_no_shared_budget() -> None:
    from sharedlm._env import budget_url

    assert budget_url({}) is None
    assert budget_url({"SHAREDLM_BUDGET_URL": " "}) is None


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("SHAREDLM_RPM", "0", "rpm must be a positive number of requests per minute"),
    ("SHAREDLM_TPM", "-5", "tpm must be a positive number of tokens per minute"),
    ("SHAREDLM_TIMEOUT", "-1", "timeout must be a positive number of seconds"),
    ("SHAREDLM_MAX_PARALLEL_REQUESTS", "0", "max_parallel_requests must be a whole number >= 1"),
])
def test_a_value_out_of_range_names_its_variable_and_unit(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigurationError, match=f"environment variable {variable}: {says}"):
        settings_from_env({variable: value})


def test_a_bad_setting_in_sharedlm_models_names_the_variable_and_the_model() -> None:
    with pytest.raises(ConfigurationError, match="environment variable SHAREDLM_MODELS: the settings of "
                                                 "'openai/judge-x': rpm must be a positive number of requests"):
        declared_models({"SHAREDLM_MODELS": '{"openai/judge-x": {"rpm": "abc"}}'})
