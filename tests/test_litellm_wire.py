"""LiteLLM's OpenAI-wire providers on the pool's own wire: what LiteLLM would send, read as lm15 reads OpenAI's."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging

import dspy
import pytest

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm import MissingAPIKeyError, RequestRejectedError, RetriesExhaustedError
from sharedlm._litellm_wire import RequestShaper, plan_wire
from sharedlm._singleton import shared_engines
from sharedlm.simulator import Simulator, SimulatorSettings

SECRET = "sk-litellm-wire-0123456789-secret"
JSON = (("Content-Type", "application/json"),)


class Count(dspy.Signature):
    """Count the items of a topic."""

    topic: str = dspy.InputField()
    count: int = dspy.OutputField()


def chat_answer() -> bytes:
    return json.dumps({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "sim-model",
        "choices": [{"index": 0, "message": {"role": "assistant",
                                             "content": "[[ ## count ## ]]\n3\n\n[[ ## completed ## ]]"},
                     "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }).encode()


def answering(status: int = 200, body: bytes | None = None,
              headers: tuple[tuple[str, str], ...] = ()) -> ScriptedServer:
    async def answer(request: ServerRequest) -> None:
        await request.connection.answer(body if body is not None else chat_answer(), status=status,
                                        headers=JSON + headers)

    return ScriptedServer(answer)


@pytest.mark.parametrize("model", ["together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepinfra/meta-llama/x",
                                   "nvidia_nim/meta/llama-3.1-8b-instruct", "hosted_vllm/my-model"])
def test_providers_litellm_reads_as_openai_take_the_wire(model: str) -> None:
    provider = model.split("/")[0]
    plan = plan_wire(model, provider, api_base="http://127.0.0.1:9/v1")
    assert plan is not None
    assert plan.provider == provider
    assert plan.wire_model == model.split("/", 1)[1]


@pytest.mark.parametrize("model", ["mistral/mistral-small-latest", "fireworks_ai/accounts/x/models/y",
                                   "vertex_ai/gemini-2.5-flash", "bedrock/anthropic.claude-3", "cohere/command-r",
                                   "databricks/dbrx", "perplexity/sonar"])
def test_providers_litellm_reads_or_signs_its_own_way_keep_litellm(model: str) -> None:
    assert plan_wire(model, model.split("/")[0], api_base="http://127.0.0.1:9/v1") is None


@pytest.mark.parametrize("model", ["github_copilot/gpt-4o", "chatgpt/gpt-5"])
def test_providers_whose_key_litellm_gets_by_logging_in_keep_litellm(model: str) -> None:
    assert plan_wire(model, model.split("/")[0], api_base=None) is None


def test_the_default_base_url_is_litellms_for_the_provider() -> None:
    plan = plan_wire("together_ai/m", "together_ai", api_base=None)
    assert plan is not None
    assert plan.api_base.startswith("https://api.together")


# together_ai/ is served by LiteLLM's HTTP handler, the others by OpenAI's SDK inside LiteLLM.
@pytest.mark.parametrize("model", ["together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepinfra/meta-llama/x",
                                   "cerebras/llama3.1-8b", "nvidia_nim/meta/llama-3.1-8b-instruct"])
async def test_the_wire_sends_what_plain_dspy_sends_through_litellm(model: str) -> None:
    async with answering() as server:
        base = server.url("/v1")
        sharedlm.configure(model=model, api_key=SECRET, api_base=base, cache=False)
        shared = sharedlm.get_shared_lm()
        plain = dspy.LM(model, api_key=SECRET, api_base=base, cache=False,  # noqa: SLM005 - the reference
                        **{name: value for name, value in shared.kwargs.items() if name != "cache"})
        for lm in (plain, shared):
            with dspy.context(lm=lm):
                await dspy.Predict(Count).acall(topic="apples")
        sent_plain, sent_shared = server.requests
    assert route_of(model) == "openai-wire"
    assert sent_shared.target == sent_plain.target == "/v1/chat/completions"
    assert json.loads(sent_shared.body) == json.loads(sent_plain.body)
    assert sent_shared.header("Authorization") == sent_plain.header("Authorization") == f"Bearer {SECRET}"


async def test_top_k_reaches_the_wire_as_litellm_sends_it() -> None:
    model = "together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo"
    async with answering() as server:
        sharedlm.configure(model=model, api_key=SECRET, api_base=server.url("/v1"), cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm().copy(top_k=7)):
            await dspy.Predict(Count).acall(topic="apples")
        body = json.loads(server.requests[0].body)
    assert body["top_k"] == 7


def route_of(model: str) -> str:
    engine = shared_engines(model)[1]
    assert engine._litellm is not None
    return "openai-wire" if engine._litellm.wire is not None else "litellm"


async def test_typed_two_step_workflows_complete_within_the_cap_over_the_pools_own_sockets() -> None:
    async with Simulator(SimulatorSettings(latency=0.02)) as sim:
        sharedlm.configure(model="deepinfra/meta-llama/sim-model", api_key=SECRET, api_base=sim.base_url,
                           max_parallel_requests=3, cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            predictions = await asyncio.gather(*(dspy.Predict(Count).acall(topic=f"t{i}") for i in range(12)))
        assert all(isinstance(prediction.count, int) for prediction in predictions)
        server, engine = sim.stats(), sharedlm.stats()
    assert server.requests == 12
    assert server.peak_in_flight <= 3
    assert engine.calls_succeeded == 12
    assert 1 <= engine.connections_opened <= 3


async def test_a_429_is_retried_once_by_the_engine_with_its_retry_after() -> None:
    answers = [(429, json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode(),
                (("Retry-After", "0"),))]

    async def answer(request: ServerRequest) -> None:
        status, body, headers = answers.pop(0) if answers else (200, chat_answer(), ())
        await request.connection.answer(body, status=status, headers=JSON + headers)

    async with ScriptedServer(answer) as server:
        sharedlm.configure(model="together_ai/m", api_key=SECRET, api_base=server.url("/v1"), cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            prediction = await dspy.Predict(Count).acall(topic="x")
        assert prediction.count == 3
        assert len(server.requests) == 2
    stats = sharedlm.stats()
    assert (stats.rate_limited, stats.retries) == (1, 1)


async def test_a_429_that_keeps_coming_ends_with_the_attempts_named() -> None:
    body = json.dumps({"error": {"message": "slow down", "type": "rate_limit"}}).encode()
    async with answering(429, body, (("Retry-After", "0"),)) as server:
        sharedlm.configure(model="together_ai/m", api_key=SECRET, api_base=server.url("/v1"), cache=False,
                           max_retries=1)
        with dspy.context(lm=sharedlm.get_shared_lm()), pytest.raises(Exception, match="429") as caught:
            await dspy.Predict(Count).acall(topic="x")
        assert len(server.requests) == 2
    cause = sharedlm.sharedlm_cause(caught.value)
    assert isinstance(cause, RetriesExhaustedError)
    assert "429" in str(cause)


async def test_no_key_anywhere_fails_at_once_naming_the_variables_and_sends_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TOGETHER_API_KEY", "TOGETHERAI_API_KEY", "TOGETHER_AI_API_KEY", "TOGETHER_AI_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    async with answering() as server:
        sharedlm.configure(model="together_ai/m", api_base=server.url("/v1"), cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()), pytest.raises(Exception, match="no API key") as caught:
            await dspy.Predict(Count).acall(topic="x")
        assert server.requests == []
    cause = sharedlm.sharedlm_cause(caught.value)
    assert isinstance(cause, MissingAPIKeyError)
    assert "SHAREDLM_API_KEY" in str(cause)
    assert "TOGETHER" in str(cause)


async def test_the_key_reaches_the_wire_and_no_log_repr_or_history(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    async with answering() as server:
        sharedlm.configure(model="together_ai/m", api_key=SECRET, api_base=server.url("/v1"), cache=False)
        lm = sharedlm.get_shared_lm()
        with dspy.context(lm=lm):
            await dspy.Predict(Count).acall(topic="x")
        assert server.requests[0].header("Authorization") == f"Bearer {SECRET}"
    engine = shared_engines()[1]
    assert engine._litellm is not None
    seen = " ".join([caplog.text, repr(lm), repr(engine), repr(engine._litellm), repr(engine._litellm.wire),
                     str(lm.history)])
    assert SECRET not in seen
    assert "openai-wire" in repr(engine._litellm)


@dataclasses.dataclass(frozen=True)
class OutgoingRequest:
    """What the shaper reads of lm15's transport request."""

    method: str
    url: str
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    body: bytes = b""


def test_parameters_litellm_refuses_are_a_fatal_error_naming_them_and_nothing_is_sent() -> None:
    plan = plan_wire("deepinfra/meta-llama/x", "deepinfra", api_base="http://127.0.0.1:9/v1")
    assert plan is not None
    body = json.dumps({"model": "x", "messages": [{"role": "user", "content": "hi"}], "audio": {"voice": "a"}})
    request = OutgoingRequest(method="POST", url="http://127.0.0.1:9/v1/chat/completions", body=body.encode())
    with pytest.raises(RequestRejectedError, match="deepinfra does not support parameters") as raised:
        RequestShaper(plan, SECRET).shape(request)
    assert "nothing was sent" in str(raised.value)
    assert raised.value.__cause__ is None
    assert SECRET not in str(raised.value)
