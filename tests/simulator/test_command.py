"""``sharedlm simulate``: prints its base URL, exits 0 on SIGINT/SIGTERM, and refuses bad options with exit 2."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import urllib.request

import pytest

from sharedlm.simulator.__main__ import main


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_prints_its_base_url_and_exits_zero_when_interrupted(signum: int) -> None:
    process = subprocess.Popen([sys.executable, "-m", "sharedlm.simulator", "--latency", "0.01"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", line)
        with urllib.request.urlopen(line.removesuffix("/v1") + "/sim/health", timeout=5) as response:
            assert response.status == 200
        os.kill(process.pid, signum)
        out, err = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert out == ""  # the URL line is the only output on stdout
    assert "serving at" in err
    assert "stopped" in err


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
