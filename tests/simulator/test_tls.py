"""The simulator over HTTPS, as every hosted provider is: settings, command line, and sharedlm calls through it."""

from __future__ import annotations

import argparse
import asyncio
import re
from pathlib import Path

import dspy
import pytest

import sharedlm
from _http_servers import TLSFiles, self_signed_tls
from sharedlm._errors import ConfigurationError
from sharedlm.simulator import Simulator, SimulatorProcess, SimulatorSettings
from sharedlm.simulator._command import register, settings_from_args

pytestmark = pytest.mark.timeout(60)

KEY = "sk-tls-test-0123456789"


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return self_signed_tls(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trusted(tls: TLSFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> TLSFiles:
    """The certificate trusted the way a user trusts a private CA: ``SSL_CERT_FILE``."""
    monkeypatch.setenv("SSL_CERT_FILE", tls.cert_path)
    monkeypatch.setenv("SHAREDLM_STATE_DIR", str(tmp_path / "state"))
    return tls


def _settings(tls: TLSFiles, **options: object) -> SimulatorSettings:
    return SimulatorSettings(tls_cert=tls.cert_path, tls_key=tls.key_path, **options)  # type: ignore[arg-type]


def test_a_certificate_without_its_key_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="tls_cert and tls_key go together"):
        SimulatorSettings(tls_cert="/tmp/cert.pem")


def test_the_tls_files_survive_the_command_line_round_trip(tls: TLSFiles) -> None:
    original = _settings(tls, latency=0.5)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert settings_from_args(parser.parse_args(["simulate", *original.command_args()])) == original


async def test_a_key_file_that_cannot_be_read_is_a_configuration_error_naming_it(tls: TLSFiles,
                                                                                  tmp_path: Path) -> None:
    missing = str(tmp_path / "missing-key.pem")
    with pytest.raises(ConfigurationError, match=re.escape(missing)):
        async with Simulator(SimulatorSettings(tls_cert=tls.cert_path, tls_key=missing)):
            pass


async def test_base_urls_are_https_and_a_shared_lm_workflow_completes_over_tls(trusted: TLSFiles) -> None:
    class QA(dspy.Signature):
        question: str = dspy.InputField()
        answer: str = dspy.OutputField()

    async with Simulator(_settings(trusted, latency=0.01)) as sim:
        assert sim.base_url.startswith("https://127.0.0.1:")
        sharedlm.configure(model="openai/sim-model", api_key=KEY, api_base=sim.base_url, cache=False)
        predict = dspy.Predict(QA)
        predict.set_lm(sharedlm.get_shared_lm())
        answers = await asyncio.gather(*(predict.acall(question=f"q{i}") for i in range(20)))
        server = sim.stats()
    assert all(answer.answer for answer in answers)
    assert server.ok == 20
    assert sharedlm.stats().calls_failed == 0


async def test_a_client_that_does_not_trust_the_certificate_fails_without_retrying(
        tls: TLSFiles, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.setenv("SHAREDLM_STATE_DIR", str(tmp_path / "state"))
    async with Simulator(_settings(tls)) as sim:
        sharedlm.configure(model="openai/sim-model", api_key=KEY, api_base=sim.base_url, cache=False)
        with pytest.raises(Exception, match="SSL_CERT_FILE") as caught:
            await sharedlm.get_shared_lm().acall("hello")
        server = sim.stats()
    assert isinstance(sharedlm.sharedlm_cause(caught.value), ConfigurationError)  # fatal: a retry cannot help
    assert sharedlm.stats().retries == 0
    assert server.requests == 0


def test_a_simulator_process_serves_https_and_reports_its_stats(tls: TLSFiles) -> None:
    with SimulatorProcess(_settings(tls)) as sim:
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+/v1", sim.base_url)
        assert sim.stats().requests == 0
