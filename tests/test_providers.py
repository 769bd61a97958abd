"""Route choice, and providers declared with ``dspy.lm15.register_provider`` sent through the shared pool."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from collections.abc import Iterator

import dspy
import pytest
from dspy import lm15
from dspy.utils.exceptions import LMProviderError

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm._env import find_api_key, key_variables
from sharedlm._errors import ConfigurationError
from sharedlm._providers import choose_route
from sharedlm.simulator import Simulator, SimulatorSettings

PROVIDER = "simacme"
KEY_VARIABLE = "SIMACME_API_KEY"
SECRET = "sk-simacme-0123456789-secret"


class Count(dspy.Signature):
    """Count the items of a topic."""

    topic: str = dspy.InputField()
    count: int = dspy.OutputField()


class Describe(dspy.Signature):
    """Describe a number of items."""

    topic: str = dspy.InputField()
    count: int = dspy.InputField()
    summary: str = dspy.OutputField()


def declare(base_url: str, compat: lm15.OpenAIChatCompat | None = None) -> None:
    """Declare the test provider as plain DSPy users do, at ``base_url``."""
    access = lm15.AccessPolicy(provider=PROVIDER, env_keys=(KEY_VARIABLE,), base_url=base_url)
    lm15.register_provider(lm15.ProviderDefinition.chat(access, compat=compat or lm15.OpenAIChatCompat()),
                           replace=True)


@pytest.fixture(autouse=True)
def _forget_declared_provider() -> Iterator[None]:
    yield
    lm15.unregister_provider(PROVIDER)


async def two_steps(topic: str) -> tuple[int, str]:
    """A typed two-step workflow: the second step takes the first step's integer."""
    counted = await dspy.Predict(Count).acall(topic=topic)
    described = await dspy.Predict(Describe).acall(topic=topic, count=counted.count)
    return counted.count, described.summary


def test_a_native_prefix_routes_through_lm15() -> None:
    route = choose_route("openai/gpt-4o-mini")
    assert route.kind == "native"
    assert route.resolution is not None


def test_a_prefix_only_litellm_knows_routes_through_litellm() -> None:
    route = choose_route("vertex_ai/gemini-2.5-flash")
    assert (route.kind, route.provider) == ("litellm", "vertex_ai")


@pytest.mark.parametrize("model", ["github_copilot/gpt-4o", "chatgpt/gpt-5"])
def test_building_a_shared_lm_for_a_provider_that_logs_in_reaches_no_network(
        model: str, monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[object] = []

    def no_lookup(host: object, *args: object, **kwargs: object) -> list[object]:
        looked_up.append(host)
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "getaddrinfo", no_lookup)
    assert choose_route(model).kind == "litellm"
    sharedlm.configure(model=model, api_key="k")
    sharedlm.get_shared_lm()
    assert looked_up == []


def test_a_prefix_nobody_knows_is_a_configuration_error_naming_the_model() -> None:
    with pytest.raises(ConfigurationError, match=r"nosuchprovider/x.*register_provider"):
        choose_route("nosuchprovider/x")


def test_a_declared_provider_routes_natively() -> None:
    declare("http://127.0.0.1:9/v1")
    route = choose_route(f"{PROVIDER}/sim-model")
    assert (route.kind, route.provider) == ("native", PROVIDER)


def test_a_declared_providers_key_variable_is_searched(monkeypatch: pytest.MonkeyPatch) -> None:
    declare("http://127.0.0.1:9/v1")
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    assert key_variables(f"{PROVIDER}/m") == ("SHAREDLM_API_KEY", KEY_VARIABLE)
    assert find_api_key(f"{PROVIDER}/m") == SECRET


async def test_a_declared_provider_completes_typed_two_step_workflows_within_the_cap(
        monkeypatch: pytest.MonkeyPatch) -> None:
    async with Simulator(SimulatorSettings(latency=0.02)) as sim:
        declare(sim.base_url)  # its own base URL: no api_base is configured
        monkeypatch.setenv(KEY_VARIABLE, SECRET)
        sharedlm.configure(model=f"{PROVIDER}/sim-model", max_parallel_requests=3, cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            results = await asyncio.gather(*(two_steps(f"topic {i}") for i in range(10)))
        assert all(isinstance(count, int) and isinstance(summary, str) for count, summary in results)
        server, engine = sim.stats(), sharedlm.stats()
        assert server.requests == 20
        assert server.peak_in_flight <= 3
        assert engine.calls_succeeded == 20
        assert engine.connections_opened <= 3


def _chat_answer(text: str) -> bytes:
    return json.dumps({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "sim-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }).encode()


async def test_a_declared_providers_key_and_compat_profile_reach_the_wire(monkeypatch: pytest.MonkeyPatch) -> None:
    async def answer(request: ServerRequest) -> None:
        await request.connection.answer(_chat_answer("[[ ## count ## ]]\n3\n\n[[ ## completed ## ]]"),
                                        headers=(("Content-Type", "application/json"),))

    async with ScriptedServer(answer) as server:
        declare(server.url("/v1"), compat=lm15.OpenAIChatCompat(max_tokens_field="max_completion_tokens"))
        monkeypatch.setenv(KEY_VARIABLE, SECRET)
        sharedlm.configure(model=f"{PROVIDER}/sim-model", max_tokens=100, cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            counted = await dspy.Predict(Count).acall(topic="x")
        assert counted.count == 3
        sent = server.requests[0]
        body = json.loads(sent.body)
        assert sent.target == "/v1/chat/completions"
        assert sent.header("authorization") == f"Bearer {SECRET}"
        assert body["max_completion_tokens"] == 100
        assert "max_tokens" not in body


def test_a_litellm_route_key_is_read_from_the_variable_litellm_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COHERE_API_KEY", raising=False)
    monkeypatch.setenv("CO_API_KEY", SECRET)
    assert find_api_key("cohere/command-r") == SECRET


async def test_configured_api_base_overrides_the_declared_one(monkeypatch: pytest.MonkeyPatch) -> None:
    async with Simulator(SimulatorSettings()) as sim:
        declare("http://127.0.0.1:9/v1")  # nothing listens there
        monkeypatch.setenv(KEY_VARIABLE, SECRET)
        sharedlm.configure(model=f"{PROVIDER}/sim-model", api_base=sim.base_url, cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            await dspy.Predict(Count).acall(topic="x")
        assert sim.stats().requests == 1


def _scripted(answers: list[tuple[int, bytes, tuple[tuple[str, str], ...]]]) -> ScriptedServer:
    queue = list(answers)

    async def answer(request: ServerRequest) -> None:
        status, body, headers = queue.pop(0) if queue else (200, _chat_answer("[[ ## count ## ]]\n3\n\n"
                                                                                "[[ ## completed ## ]]"), ())
        await request.connection.answer(body, status=status, headers=(("Content-Type", "application/json"), *headers))

    return ScriptedServer(answer)


async def test_a_declared_providers_429_is_retried_once_by_one_layer(monkeypatch: pytest.MonkeyPatch) -> None:
    slow_down = json.dumps({"error": {"message": "slow down", "type": "requests"}}).encode()
    async with _scripted([(429, slow_down, (("Retry-After", "0"),))]) as server:
        declare(server.url("/v1"))
        monkeypatch.setenv(KEY_VARIABLE, SECRET)
        sharedlm.configure(model=f"{PROVIDER}/sim-model", cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            assert (await dspy.Predict(Count).acall(topic="x")).count == 3
        engine = sharedlm.stats()
        assert len(server.requests) == 2
        assert (engine.retries, engine.rate_limited) == (1, 1)


async def test_a_declared_providers_key_stays_out_of_logs_reprs_and_history(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    echoed = json.dumps({"error": {"message": f"invalid api key {SECRET}", "type": "invalid_request_error"}}).encode()
    async with _scripted([(401, echoed, ())]) as server:
        caplog.set_level(logging.DEBUG)
        declare(server.url("/v1"))
        monkeypatch.setenv(KEY_VARIABLE, SECRET)
        sharedlm.configure(model=f"{PROVIDER}/sim-model", cache=False)
        lm = sharedlm.get_shared_lm()
        with dspy.context(lm=lm), pytest.raises(LMProviderError) as raised:
            await dspy.Predict(Count).acall(topic="x")
        with dspy.context(lm=lm):
            await dspy.Predict(Count).acall(topic="y")
        shown = [caplog.text, repr(lm), repr(lm.history), repr(sharedlm.get_settings()), str(raised.value),
                 repr(raised.value)]
        cause: BaseException | None = raised.value
        while cause is not None:
            shown += [str(cause), repr(cause)]
            cause = cause.__cause__ or cause.__context__
        assert server.requests[0].header("authorization") == f"Bearer {SECRET}"
        assert lm.history
        assert not any(SECRET in text for text in shown)


def test_asking_litellm_about_an_unknown_model_prints_nothing_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    import litellm

    from sharedlm._providers import litellm_provider

    before = litellm.suppress_debug_info

    assert litellm_provider("zzz/unknown-model") is None
    assert capsys.readouterr().out == ""
    assert litellm.suppress_debug_info == before
