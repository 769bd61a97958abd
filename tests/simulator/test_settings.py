"""SimulatorSettings: defaults, validation that names the field, and the command-line round trip."""

from __future__ import annotations

import argparse

import pytest

from sharedlm._errors import ConfigurationError
from sharedlm.simulator import SimulatorSettings
from sharedlm.simulator._command import register, settings_from_args


def test_defaults_answer_at_once_on_loopback_and_never_fail() -> None:
    settings = SimulatorSettings()
    assert (settings.latency, settings.jitter, settings.fault_rate) == (0.0, 0.0, 0.0)
    assert (settings.max_concurrency, settings.rpm, settings.tpm) == (None, None, None)
    assert (settings.host, settings.port, settings.seed) == ("127.0.0.1", 0, 0)


@pytest.mark.parametrize(("field", "value"), [
    ("latency", -0.1), ("jitter", float("nan")), ("latency", "1"), ("max_concurrency", 0), ("rpm", 1.5),
    ("tpm", True), ("error_rate", 1.2), ("reset_rate", -0.01), ("hang_rate", 2), ("seed", 1.0), ("port", 70000),
    ("host", ""),
])
def test_invalid_value_is_a_configuration_error_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=field):
        SimulatorSettings(**{field: value})  # type: ignore[arg-type]


def test_fault_rates_that_sum_above_one_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="error_rate \\+ reset_rate \\+ hang_rate"):
        SimulatorSettings(error_rate=0.5, reset_rate=0.4, hang_rate=0.2)


def test_settings_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SimulatorSettings().latency = 1.0  # type: ignore[misc]


def test_command_args_reproduce_the_settings() -> None:
    original = SimulatorSettings(latency=0.25, jitter=0.1, max_concurrency=7, rpm=100, tpm=5000, error_rate=0.1,
                                 reset_rate=0.05, hang_rate=0.01, seed=42, host="127.0.0.1", port=0)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert settings_from_args(parser.parse_args(["simulate", *original.command_args()])) == original
