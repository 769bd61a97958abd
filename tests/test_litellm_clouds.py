"""Vertex AI and Bedrock through the LiteLLM route, with fake local credentials read as LiteLLM reads them.

Vertex: a service-account file in ``GOOGLE_APPLICATION_CREDENTIALS`` whose ``token_uri`` is a token server on
127.0.0.1, and an ``api_base`` naming the model, so LiteLLM posts ``generateContent`` to the simulator. Bedrock:
AWS keys in the environment (the AWS chain's first link), signed locally, posted to the simulator's Converse route.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import dspy
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm.simulator import Simulator, SimulatorSettings

ACCESS_TOKEN = "ya29.fake-vertex-access-token-0123456789"
AWS_SECRET = "fake-aws-secret-access-key-0123456789"
AWS_TOKEN = "FwoGZXIvYXdzEfakeSessionToken0123456789"
# A credential header or field as logged ("Authorization: ...", "x-amz-security-token:...", "'X-Amz-Security-Token':
# b'...'"): the value it shows.
CREDENTIAL_SHOWN = re.compile(r"(?i)(?:authorization|x-amz-security-token|x-api-key|api-key)['\"]?[ \t]*[:=][ \t]*"
                              r"(?-i:b)?['\"]?([^'\"\n]*)")


class Count(dspy.Signature):
    """Count the items of a topic."""

    topic: str = dspy.InputField()
    count: int = dspy.OutputField()


class Describe(dspy.Signature):
    """Describe a number of items."""

    topic: str = dspy.InputField()
    count: int = dspy.InputField()
    summary: str = dspy.OutputField()


async def two_steps(topic: str) -> tuple[int, str]:
    counted = await dspy.Predict(Count).acall(topic=topic)
    described = await dspy.Predict(Describe).acall(topic=topic, count=counted.count)
    return counted.count, described.summary


def origin(sim: Simulator) -> str:
    """The simulator's scheme, host and port, without the ``/v1`` of its OpenAI base URL."""
    return sim.base_url.rsplit("/v1", 1)[0]


async def answer_token(request: ServerRequest) -> None:
    body = json.dumps({"access_token": ACCESS_TOKEN, "expires_in": 3600, "token_type": "Bearer"}).encode()
    await request.connection.answer(body, headers=(("Content-Type", "application/json"),))


def service_account_file(directory: Path, token_uri: str) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    path = directory / "service-account.json"
    path.write_text(json.dumps({
        "type": "service_account", "project_id": "sim-project", "private_key_id": "k1", "private_key": pem,
        "client_email": "sim@sim-project.iam.gserviceaccount.com", "client_id": "1", "token_uri": token_uri,
    }))
    return path


async def test_vertex_ai_completes_typed_two_step_workflows_with_a_service_account(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer(answer_token) as tokens, Simulator(SimulatorSettings(latency=0.02)) as sim:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, tokens.url("/token"))))
        monkeypatch.setenv("VERTEXAI_PROJECT", "sim-project")
        monkeypatch.setenv("VERTEXAI_LOCATION", "us-central1")
        sharedlm.configure(model="vertex_ai/gemini-2.5-flash", api_base=f"{origin(sim)}/v1beta/models/gemini-2.5-flash",
                           max_parallel_requests=3, cache=False)
        lm = sharedlm.get_shared_lm()
        with dspy.context(lm=lm):
            results = await asyncio.gather(*(two_steps(f"topic {i}") for i in range(6)))
        assert all(isinstance(count, int) for count, _ in results)
        server = sim.stats()
        assert server.requests == 12
        assert server.peak_in_flight <= 3
        assert sharedlm.stats().calls_succeeded == 12
        assert tokens.requests  # the credential came from the service account, through Google's own token flow
        shown = [caplog.text, repr(lm), repr(lm.history), repr(sharedlm.stats())]
        assert not any(ACCESS_TOKEN in text for text in shown)


async def test_bedrock_converse_completes_typed_two_step_workflows_with_the_aws_chain(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    async with Simulator(SimulatorSettings(latency=0.02)) as sim:
        sharedlm.configure(model="bedrock/converse/sim-model", api_base=origin(sim), max_parallel_requests=3,
                           cache=False)
        lm = sharedlm.get_shared_lm()
        with dspy.context(lm=lm):
            results = await asyncio.gather(*(two_steps(f"topic {i}") for i in range(6)))
        assert all(isinstance(count, int) for count, _ in results)
        server = sim.stats()
        assert server.requests == 12
        assert server.peak_in_flight <= 3
        assert sharedlm.stats().calls_succeeded == 12
        shown = [caplog.text, repr(lm), repr(lm.history), repr(sharedlm.stats())]
        assert not any(AWS_SECRET in text for text in shown)


async def test_bedrock_rate_limits_are_retried_by_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    async with Simulator(SimulatorSettings(latency=0.02, max_concurrency=2)) as sim:
        sharedlm.configure(model="bedrock/converse/sim-model", api_base=origin(sim), max_parallel_requests=8,
                           max_retries=30, cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            await asyncio.gather(*(dspy.Predict(Count).acall(topic=f"t{i}") for i in range(12)))
        engine, server = sharedlm.stats(), sim.stats()
        assert engine.calls_succeeded == 12
        assert engine.calls_failed == 0
        assert engine.rate_limited == server.responses_by_status.get(429, 0) > 0


async def test_a_bedrock_call_logs_no_aws_credential_at_debug(monkeypatch: pytest.MonkeyPatch,
                                                              caplog: pytest.LogCaptureFixture) -> None:
    # botocore.auth logs the canonical request, session token included, and the signature; LiteLLM its curl command.
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model="bedrock/converse/sim-model", api_base=origin(sim), cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            await dspy.Predict(Count).acall(topic="x")
    assert any(record.name == "botocore.auth" for record in caplog.records)
    assert AWS_TOKEN not in caplog.text
    assert AWS_SECRET not in caplog.text
    shown = set(CREDENTIAL_SHOWN.findall(caplog.text))
    assert shown  # the canonical request and LiteLLM's curl command hold the credential headers
    assert shown <= {"***", "AWS4-HMAC-SHA256 ***"}


async def test_a_vertex_ai_call_logs_no_credential_at_debug(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with ScriptedServer(answer_token) as tokens, Simulator(SimulatorSettings()) as sim:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(service_account_file(tmp_path, tokens.url("/token"))))
        monkeypatch.setenv("VERTEXAI_PROJECT", "sim-project")
        monkeypatch.setenv("VERTEXAI_LOCATION", "us-central1")
        sharedlm.configure(model="vertex_ai/gemini-2.5-flash", api_base=f"{origin(sim)}/v1beta/models/gemini-2.5-flash",
                           cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            await dspy.Predict(Count).acall(topic="x")
    shown = set(CREDENTIAL_SHOWN.findall(caplog.text))
    assert shown  # LiteLLM logged the request with its Authorization header
    assert ACCESS_TOKEN not in caplog.text
    assert shown <= {"***", "Bearer ***"}
