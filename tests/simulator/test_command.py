"""``sharedlm simulate``: prints its base URL, stops cleanly on SIGINT (exit 130) and SIGTERM (exit 0), and refuses
bad options with exit 2."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from sharedlm.simulator.__main__ import main

# Bounds of the subprocess tests: they wait for the readiness line and the exit, never for a fixed time.
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
ENTRY_POINTS = {
    "python -m sharedlm.simulator": [sys.executable, "-m", "sharedlm.simulator"],
    "sharedlm simulate": [sys.executable, "-m", "sharedlm", "simulate"],
}


def _base_url(process: subprocess.Popen[str]) -> str:
    """The readiness line (the base URL), waited for at most START_TIMEOUT_S; "" if the child exits first."""
    assert process.stdout is not None
    deadline = time.monotonic() + START_TIMEOUT_S
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while time.monotonic() < deadline:
            if selector.select(timeout=0.1):
                return process.stdout.readline().strip()
            if process.poll() is not None:
                return ""
    return ""


@pytest.fixture
def serving(request: pytest.FixtureRequest) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """A simulator child started by the entry point named in the test's parameter, and its base URL once ready."""
    command = ENTRY_POINTS[getattr(request, "param", "python -m sharedlm.simulator")]
    process = subprocess.Popen([*command, "--latency", "0.01"], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        line = _base_url(process)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", line), line
        with urllib.request.urlopen(line.removesuffix("/v1") + "/sim/health", timeout=5) as response:
            assert response.status == 200
        yield process, line
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


@pytest.mark.parametrize("serving", list(ENTRY_POINTS), indirect=True)
def test_sigint_stops_it_cleanly_with_exit_130(serving: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = serving

    os.kill(process.pid, signal.SIGINT)
    out, err = process.communicate(timeout=STOP_TIMEOUT_S)

    assert process.returncode == 130
    assert out == ""  # the URL line is the only output on stdout
    assert "serving at" in err
    assert "stopped by SIGINT (Ctrl-C) after" in err  # a clean shutdown, not a KeyboardInterrupt traceback
    assert "Traceback" not in err


def test_sigterm_is_a_normal_stop_with_exit_0(serving: tuple[subprocess.Popen[str], str]) -> None:
    process, _ = serving

    os.kill(process.pid, signal.SIGTERM)
    out, err = process.communicate(timeout=STOP_TIMEOUT_S)

    assert process.returncode == 0
    assert out == ""
    assert "stopped after" in err


@pytest.mark.parametrize(("argv", "option"), [
    (["--latency", "-1"], "--latency"),
    (["--jitter", "soon"], "--jitter"),
    (["--error-rate", "1.5"], "--error-rate"),
    (["--reset-rate", "-0.1"], "--reset-rate"),
    (["--hang-rate", "2"], "--hang-rate"),
    (["--max-concurrency", "0"], "--max-concurrency"),
    (["--rpm", "1.5"], "--rpm"),
    (["--tpm", "-3"], "--tpm"),
    (["--port", "70000"], "--port"),
    (["--seed", "x"], "--seed"),
])
def test_a_bad_option_value_is_a_usage_error_naming_the_option(argv: list[str], option: str,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_fault_rates_summing_above_one_are_a_usage_error_naming_the_options(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--error-rate", "0.6", "--reset-rate", "0.6"]) == 2
    assert "--error-rate + --reset-rate + --hang-rate" in capsys.readouterr().err


def test_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    help_text = capsys.readouterr().out
    for option in ("--host", "--port", "--latency", "--jitter", "--max-concurrency", "--rpm", "--tpm",
                   "--error-rate", "--reset-rate", "--hang-rate", "--seed"):
        assert option in help_text


def test_the_top_level_command_runs_the_same_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from sharedlm._cli import main as sharedlm_main

    with pytest.raises(SystemExit) as exited:
        sharedlm_main(["simulate", "--max-concurrency", "-1"])
    assert exited.value.code == 2
    assert "argument --max-concurrency" in capsys.readouterr().err
