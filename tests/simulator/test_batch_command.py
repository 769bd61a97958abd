"""``sharedlm simulate``'s batch options: parsed into BatchSettings, reproduced by ``command_args``."""

from __future__ import annotations

import argparse

import pytest

from sharedlm.simulator import SimulatorSettings
from sharedlm.simulator.__main__ import main
from sharedlm.simulator._batch_store import BatchSettings
from sharedlm.simulator._command import register, settings_from_args


def _parse(*argv: str) -> SimulatorSettings:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return settings_from_args(parser.parse_args(["simulate", *argv]))


def test_batch_options_become_the_batch_settings() -> None:
    settings = _parse("--batch-turnaround", "2", "--batch-failure-rate", "0.1", "--batch-expiry-rate", "0.05",
                      "--batch-whole-failure-rate", "0.2", "--batch-fail-first", "1")
    assert settings.batch == BatchSettings(turnaround=2.0, line_failure_rate=0.1, line_expiry_rate=0.05,
                                           batch_failure_rate=0.2, fail_first_batches=1)


def test_command_args_reproduce_the_batch_settings() -> None:
    original = SimulatorSettings(batch=BatchSettings(turnaround=2.0, line_expiry_rate=0.25, fail_first_batches=3))
    assert _parse(*original.command_args()) == original


def test_default_batch_settings_add_no_command_args() -> None:
    assert not [a for a in SimulatorSettings().command_args() if a.startswith("--batch")]


def test_a_negative_batch_turnaround_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--batch-turnaround", "-1"])
    assert exited.value.code == 2
    assert "argument --batch-turnaround" in capsys.readouterr().err


def test_batch_line_rates_summing_above_one_are_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--batch-failure-rate", "0.6", "--batch-expiry-rate", "0.6"]) == 2
    assert "line_failure_rate + line_expiry_rate" in capsys.readouterr().err
