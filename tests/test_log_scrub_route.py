"""The LiteLLM route tells the log filter every secret it knows, by value, as soon as it knows it.

Each test logs a secret afterwards where no credential's shape gives it away (a bare value, a PEM line), so only a
secret known by value is redacted. Every secret is unique to its test: the filter is the process's, and remembers.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from dspy import lm15

from _http_servers import ScriptedServer, ServerRequest
from sharedlm._litellm_route import LiteLLMRoute
from sharedlm._transport import PooledTransport
from sharedlm.simulator import Simulator, SimulatorSettings
from test_litellm_clouds import origin, service_account_file


def logged_at(caplog: pytest.LogCaptureFixture, logger: str, msg: str, *args: object) -> str:
    """What ``logger`` (one the filter watches) shows for a DEBUG record made now. Never a ``google`` logger:
    google-auth stops those propagating to the root, where caplog listens, unless the application configured them."""
    caplog.set_level(logging.DEBUG)
    logging.getLogger(logger).debug(msg, *args)
    return caplog.records[-1].getMessage()


def typed_request(model: str, **extensions: object) -> lm15.Request:
    """One question, with LiteLLM keywords in ``config.extensions`` (the one way a call hands LiteLLM a keyword of
    its own in DSPy 3.4.1: ``dspy.LM(aws_session_token=...)`` is refused before any engine sees it)."""
    return lm15.Request(model=model, messages=(lm15.Message.user("How many?"),),
                        config=lm15.Config(extensions=extensions))


def route(model: str, provider: str, api_base: str) -> LiteLLMRoute:
    return LiteLLMRoute(model=model, provider=provider, api_key=None, api_base=api_base, timeout=5,
                        transport=PooledTransport(max_connections=2, connect_timeout=5))


async def test_aws_credentials_a_call_passes_as_keywords_are_redacted_by_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    secret, token = "kwarg-aws-secret-access-key-0123456789", "kwarg-aws-session-token-0123456789"
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    async with Simulator(SimulatorSettings()) as sim:
        bedrock = route("bedrock/converse/sim-model", "bedrock", origin(sim))
        try:
            await bedrock.complete(typed_request(
                "bedrock/converse/sim-model", aws_access_key_id="AKIAKWARGKWARGKWARG0", aws_secret_access_key=secret,
                aws_session_token=token, aws_region_name="us-east-1"))
        finally:
            await bedrock.transport.aclose()
    assert logged_at(caplog, "botocore.credentials", "using %s and %s", secret, token) == "using *** and ***"


async def test_a_vertex_service_accounts_private_key_and_the_token_litellm_fetched_are_redacted_by_value(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The service account is a keyword (vertex_credentials, its JSON as text), not a file the route could read.
    token = "ya29.fetched-by-litellm-0123456789"
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))

    async def answer_token(request: ServerRequest) -> None:
        body = json.dumps({"access_token": token, "expires_in": 3600, "token_type": "Bearer"}).encode()
        await request.connection.answer(body, headers=(("Content-Type", "application/json"),))

    async with ScriptedServer(answer_token) as tokens, Simulator(SimulatorSettings()) as sim:
        account_file = service_account_file(tmp_path, tokens.url("/token"))
        account = account_file.read_text()
        account_file.unlink()
        vertex = route("vertex_ai/gemini-2.5-flash", "vertex_ai", f"{origin(sim)}/v1beta/models/gemini-2.5-flash")
        try:
            await vertex.complete(typed_request("vertex_ai/gemini-2.5-flash", vertex_credentials=account,
                                                vertex_project="sim-project", vertex_location="us-central1"))
        finally:
            await vertex.transport.aclose()
    assert tokens.requests
    pem = json.loads(account)["private_key"]
    shown = logged_at(caplog, "httpcore.http11", "key %r, token %s", pem, token)
    assert shown == "key '-----BEGIN PRIVATE KEY-----\\n" + "***\\n" * (len(pem.splitlines()) - 2) \
        + "-----END PRIVATE KEY-----\\n', token ***"


def test_the_key_litellm_reads_from_the_environment_is_redacted_by_value(monkeypatch: pytest.MonkeyPatch,
                                                                        caplog: pytest.LogCaptureFixture) -> None:
    # deepinfra/ has no variable of sharedlm's: the route has no configured key, LiteLLM reads DEEPINFRA_API_KEY.
    key = "deepinfra-env-key-0123456789"
    monkeypatch.setenv("DEEPINFRA_API_KEY", key)
    LiteLLMRoute(model="deepinfra/sim-model", provider="deepinfra", api_key=None, api_base="http://127.0.0.1:9/v1",
                 transport=PooledTransport(max_connections=1, connect_timeout=1), timeout=1)
    assert logged_at(caplog, "LiteLLM", "sending with %s", key) == "sending with ***"


def test_a_vertex_route_learns_the_service_account_file_it_will_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    path = service_account_file(tmp_path, "http://127.0.0.1:9/token")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path / "no-gcloud"))
    LiteLLMRoute(model="vertex_ai/gemini-2.5-flash", provider="vertex_ai", api_key=None, api_base=None,
                 transport=PooledTransport(max_connections=1, connect_timeout=1), timeout=1)
    line = json.loads(path.read_text())["private_key"].splitlines()[1]
    assert logged_at(caplog, "litellm.vertex", "signing with %s", line) == "signing with ***"
