"""The LiteLLM route against servers on 127.0.0.1: pooled, capped, retried by one layer, classified, secret-free."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Mapping
from typing import Any

import aiohttp
import dspy
import httpx
import pytest
from dspy.utils.exceptions import LMProviderError

import sharedlm
from _http_servers import ScriptedServer, ServerRequest
from sharedlm import (
    AuthenticationError,
    CallTimeoutError,
    ConnectionFailedError,
    ProviderUnavailableError,
    RateLimitedError,
    RequestRejectedError,
)
from sharedlm._errors import ContextTooLongError, RetriesExhaustedError
from sharedlm._singleton import shared_engines
from sharedlm.runner._progress import engine_stats
from sharedlm.simulator import BackgroundSimulator, Simulator, SimulatorSettings

SECRET = "sk-litellm-route-0123456789-secret"
# Three providers LiteLLM reaches over OpenAI's wire with an api_base, and that lm15 refuses. together_ai's answers
# LiteLLM reads as OpenAI's, so sharedlm sends it on the pool's own wire, shaped by LiteLLM (sharedlm._litellm_wire);
# fireworks_ai's and mistral's LiteLLM reads its own way, so they go through litellm.acompletion.
PREFIXES = ("together_ai/meta-llama/sim-model", "fireworks_ai/accounts/sim/models/sim-model", "mistral/sim-model")
# One of each: the rules of errors, retries and timeouts hold on both.
BOTH_ROUTES = (PREFIXES[0], PREFIXES[2])
ACOMPLETION = PREFIXES[2]


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
    """A typed two-step workflow: the second step takes the first step's integer."""
    counted = await dspy.Predict(Count).acall(topic=topic)
    described = await dspy.Predict(Describe).acall(topic=topic, count=counted.count)
    return counted.count, described.summary


def chat_answer(text: str = "[[ ## count ## ]]\n3\n\n[[ ## completed ## ]]") -> bytes:
    return json.dumps({
        "id": "c1", "object": "chat.completion", "created": 0, "model": "sim-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10},
    }).encode()


JSON = (("Content-Type", "application/json"),)


def error_body(message: str, code: str | None = None) -> bytes:
    return json.dumps({"error": {"message": message, "type": "error", "code": code}}).encode()


def scripted(answers: list[tuple[int, bytes, tuple[tuple[str, str], ...]]]) -> ScriptedServer:
    """A server answering the given (status, body, headers) in order, then 200s."""
    queue = list(answers)

    async def answer(request: ServerRequest) -> None:
        status, body, headers = queue.pop(0) if queue else (200, chat_answer(), ())
        await request.connection.answer(body, status=status, headers=JSON + headers)

    return ScriptedServer(answer)


async def count_once(model: str, api_base: str, **configure: object) -> dspy.Prediction:
    sharedlm.configure(model=model, api_key=SECRET, api_base=api_base, cache=False, **configure)  # type: ignore[arg-type]
    with dspy.context(lm=sharedlm.get_shared_lm()):
        return await dspy.Predict(Count).acall(topic="x")


@pytest.mark.parametrize("model", PREFIXES)
async def test_a_litellm_prefix_completes_typed_two_step_workflows_within_the_cap(model: str) -> None:
    async with Simulator(SimulatorSettings(latency=0.02)) as sim:
        sharedlm.configure(model=model, api_key=SECRET, api_base=sim.base_url, max_parallel_requests=3, cache=False)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            results = await asyncio.gather(*(two_steps(f"topic {i}") for i in range(10)))
        assert all(isinstance(count, int) and isinstance(summary, str) for count, summary in results)
        server, engine = sim.stats(), sharedlm.stats()
        assert server.requests == 20
        assert server.peak_in_flight <= 3
        assert engine.calls_succeeded == 20
        assert engine.peak_in_flight <= 3
        # Every call went over the shared pool's own sockets, within the cap.
        assert 1 <= engine.connections_opened <= 3


async def test_calls_share_one_http_session_per_event_loop() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        await count_once(ACOMPLETION, sim.base_url)
        engine = shared_engines()[1]
        route = engine._route(None)[0]
        first, second = await route.engine(), await route.engine()
        assert first is second
        assert first.pool_arguments["shared_session"] is await engine.transport.session()
        assert first.pool_arguments["client"].shared_session is first.pool_arguments["shared_session"]


def test_each_event_loop_gets_its_own_shared_session() -> None:
    with BackgroundSimulator(SimulatorSettings()) as sim:
        sharedlm.configure(model=ACOMPLETION, api_key=SECRET, api_base=sim.base_url, cache=False)
        route = shared_engines()[1]._route(None)[0]

        async def session_of_this_loop() -> aiohttp.ClientSession:
            return (await route.engine()).pool_arguments["shared_session"]

        first, second = asyncio.run(session_of_this_loop()), asyncio.run(session_of_this_loop())
        assert first is not second
        assert first.closed


@pytest.mark.parametrize("model", PREFIXES)
async def test_a_429_is_retried_once_by_one_layer_honouring_retry_after(model: str) -> None:
    async with scripted([(429, error_body("slow down"), (("Retry-After", "0"),))]) as server:
        counted = await count_once(model, server.url("/v1"))
        assert counted.count == 3
        engine = sharedlm.stats()
        assert len(server.requests) == 2  # neither LiteLLM nor DSPy retried on top of the engine
        assert (engine.requests_sent, engine.retries, engine.rate_limited) == (2, 1, 1)


async def test_a_503_is_retried_by_the_engine() -> None:
    async with scripted([(503, error_body("overloaded"), ())]) as server:
        await count_once(PREFIXES[1], server.url("/v1"), backoff_base=0.01, backoff_max=0.01)
        assert len(server.requests) == 2
        assert sharedlm.stats().retries == 1


# perplexity/ goes through OpenAI's SDK inside LiteLLM (its own retry loop), mistral/ and fireworks_ai/ through
# LiteLLM's HTTP handler, together_ai/ on the pool's own wire.
@pytest.mark.parametrize("model", [*PREFIXES, "perplexity/sim-model"])
async def test_litellm_never_retries_on_its_own(model: str) -> None:
    async with scripted([(503, error_body("overloaded"), ())] * 5) as server:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, server.url("/v1"), max_retries=0)
        cause = sharedlm.sharedlm_cause(raised.value)
        assert isinstance(cause, RetriesExhaustedError)
        assert isinstance(cause.last, ProviderUnavailableError)
        assert cause.attempts == 1
        assert len(server.requests) == 1


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_retries_exhausted_names_the_attempts(model: str) -> None:
    async with scripted([(429, error_body("slow down"), (("Retry-After", "0"),))] * 5) as server:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, server.url("/v1"), max_retries=2)
        cause = sharedlm.sharedlm_cause(raised.value)
        assert isinstance(cause, RetriesExhaustedError)
        assert isinstance(cause.last, RateLimitedError)
        assert cause.attempts == 3
        assert len(server.requests) == 3


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, error_body("invalid api key"), AuthenticationError),
    (403, error_body("permission denied"), AuthenticationError),
    (400, error_body("bad request: unknown field"), RequestRejectedError),
])
@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_fatal_answers_fail_at_once(model: str, status: int, body: bytes, kind: type[Exception]) -> None:
    async with scripted([(status, body, ())] * 3) as server:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, server.url("/v1"))
        assert isinstance(sharedlm.sharedlm_cause(raised.value), kind)
        assert len(server.requests) == 1
        assert sharedlm.stats().retries == 0


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_a_context_length_answer_is_fatal_at_once(model: str) -> None:
    body = error_body("This model's maximum context length is 8192 tokens. However, your messages resulted in "
                      "9000 tokens.", code="context_length_exceeded")
    async with scripted([(400, body, ())] * 3) as server:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, server.url("/v1"))
        assert isinstance(sharedlm.sharedlm_cause(raised.value), ContextTooLongError)
        assert len(server.requests) == 1


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_a_connection_refused_is_retryable(model: str) -> None:
    async with scripted([]) as server:
        url = server.url("/v1")
    with pytest.raises(LMProviderError) as raised:  # the server is gone: every attempt is refused
        await count_once(model, url, max_retries=1, backoff_base=0.01, backoff_max=0.01)
    cause = sharedlm.sharedlm_cause(raised.value)
    assert isinstance(cause, RetriesExhaustedError)
    assert cause.attempts == 2


@pytest.mark.parametrize("model", PREFIXES)
async def test_the_key_reaches_the_wire_and_nowhere_else(model: str, caplog: pytest.LogCaptureFixture) -> None:
    echoed = error_body(f"invalid api key {SECRET}")
    async with scripted([(401, echoed, ())]) as server:
        caplog.set_level(logging.DEBUG)
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, server.url("/v1"))
        await count_once(model, server.url("/v1"))
        assert server.requests[0].header("authorization") == f"Bearer {SECRET}"
        lm = sharedlm.get_shared_lm()
        shown = [caplog.text, repr(lm), repr(shared_engines()[1]), repr(shared_engines()[1]._litellm),
                 repr(lm.history), str(raised.value), repr(raised.value)]
        cause: BaseException | None = raised.value
        while cause is not None:
            shown += [str(cause), repr(cause)]
            cause = cause.__cause__ or cause.__context__
        assert lm.history
        assert not any(SECRET in text for text in shown)


async def test_building_the_shared_lm_sends_nothing() -> None:
    async with scripted([]) as server:
        sharedlm.configure(model=PREFIXES[0], api_key=SECRET, api_base=server.url("/v1"))
        sharedlm.get_shared_lm()
        await asyncio.sleep(0)
        assert server.requests == []


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_a_stream_goes_through_the_same_route(model: str) -> None:
    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model=model, api_key=SECRET, api_base=sim.base_url, cache=False)
        program = dspy.streamify(dspy.Predict(Count), include_final_prediction_in_output_stream=True)
        with dspy.context(lm=sharedlm.get_shared_lm()):
            outputs = [chunk async for chunk in program(topic="x")]
        assert isinstance(outputs[-1], dspy.Prediction)
        assert isinstance(outputs[-1].count, int)
        assert sharedlm.stats().calls_succeeded == 1
        assert sim.stats().requests == 1


class TwoSteps(sharedlm.SharedLMModule):
    """The typed two-step workflow as a module on the shared LM."""

    def __init__(self, shared_lm: dspy.LM) -> None:
        super().__init__(shared_lm)
        self.count = dspy.Predict(Count)
        self.describe = dspy.Predict(Describe)

    async def aforward(self, topic: str) -> dspy.Prediction:
        counted = await self.count.acall(topic=topic)
        return await self.describe.acall(topic=topic, count=counted.count)


async def test_runner_rows_count_in_the_engine_stats_like_native_calls() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model=PREFIXES[2], api_key=SECRET, api_base=sim.base_url, cache=False)
        program = TwoSteps(sharedlm.get_shared_lm())
        rows = [{"id": i, "topic": f"t{i}"} for i in range(6)]
        results = [result async for result in sharedlm.arun_many(program, rows, concurrency=3)]
        assert all(result.error is None for result in results)
        shown = engine_stats()
        assert shown is not None
        assert shown["calls_succeeded"] == 12
        assert sim.stats().requests == 12


async def test_the_guard_reports_a_foreign_lm_beside_a_litellm_route_shared_lm() -> None:
    async with Simulator(SimulatorSettings()) as sim:
        sharedlm.configure(model=PREFIXES[0], api_key=SECRET, api_base=sim.base_url, cache=False)
        program = TwoSteps(sharedlm.get_shared_lm())
        program.count.set_lm(dspy.LM(PREFIXES[0], api_key=SECRET, api_base=sim.base_url, cache=False))
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            await program.acall(topic="x")
        found = [str(w.message) for w in record if issubclass(w.category, sharedlm.GuardWarning)]
        assert any("foreign-lm" in message for message in found)
        assert sharedlm.stats().calls_succeeded == 1  # the shared step only


@pytest.mark.parametrize("model", [PREFIXES[0], PREFIXES[1]])
def test_sync_calls_take_the_same_route_and_pool(model: str) -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.01)) as sim:
        sharedlm.configure(model=model, api_key=SECRET, api_base=sim.base_url, max_parallel_requests=2,
                           cache=False)
        predict = dspy.Predict(Count)
        predict.set_lm(sharedlm.get_shared_lm())
        assert all(isinstance(predict(topic=f"t{i}").count, int) for i in range(3))
        assert sim.stats().requests == 3
        assert sharedlm.stats().calls_succeeded == 3
        assert 1 <= sharedlm.stats().connections_opened <= 2


def test_litellm_is_imported_with_its_price_map_kept_local() -> None:
    script = (
        "import os, sys\n"
        "import sharedlm\n"
        "before = 'litellm' in sys.modules\n"
        "sharedlm.configure(model='together_ai/meta-llama/x', api_key='k', api_base='http://127.0.0.1:9/v1')\n"
        "sharedlm.get_shared_lm()\n"
        "print(before, 'litellm' in sys.modules, os.environ.get('LITELLM_LOCAL_MODEL_COST_MAP'))\n"
    )
    env = {name: value for name, value in os.environ.items() if name != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "true"]


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_a_hung_attempt_times_out_and_is_retried(model: str) -> None:
    async with Simulator(SimulatorSettings(hang_rate=1.0)) as sim:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, sim.base_url, timeout=0.5, max_retries=1, backoff_base=0.01,
                             backoff_max=0.01)
        cause = sharedlm.sharedlm_cause(raised.value)
        assert isinstance(cause, RetriesExhaustedError)
        assert isinstance(cause.last, CallTimeoutError)
        assert cause.attempts == 2
        assert sharedlm.stats().errors_by_kind == {"CallTimeoutError": 2}
        assert sim.stats().requests >= 1


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_a_reset_connection_is_retried_by_the_engine(model: str) -> None:
    async with Simulator(SimulatorSettings(reset_rate=1.0)) as sim:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, sim.base_url, max_retries=1, backoff_base=0.01, backoff_max=0.01)
        cause = sharedlm.sharedlm_cause(raised.value)
        assert isinstance(cause, RetriesExhaustedError)
        assert isinstance(cause.last, ConnectionFailedError)
        assert cause.attempts == 2
        assert sim.stats().requests == 2


# --- the credentials LiteLLM's errors hold (the httpx request that carried them) do not leave sharedlm ---

ACOMPLETION_PREFIXES = ("mistral/sim-model", "fireworks_ai/accounts/sim/models/sim-model", "perplexity/sim-model",
                        "cohere/sim-model")
AWS_SECRET = "fake-aws-secret-access-key-0123456789"
AWS_TOKEN = "fake-aws-session-token-0123456789"


def reachable_text(exc: BaseException) -> str:
    """Every text reachable from an error: its chain, their args and attributes, the containers and objects those
    hold, and the httpx requests and responses among them (headers, URL, body)."""
    texts: list[str] = []
    seen: set[int] = set()

    def visit(value: Any, depth: int) -> None:
        if value is None or depth > 12 or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, str):
            texts.append(value)
            return
        if isinstance(value, bytes | bytearray):
            texts.append(bytes(value).decode("latin-1"))
            return
        if isinstance(value, BaseException):
            texts.extend((str(value), repr(value)))
            for linked in (value.__cause__, value.__context__, value.args):
                visit(linked, depth + 1)
        if isinstance(value, httpx.Request | httpx.Response):
            visit(list(value.headers.multi_items()), depth + 1)
            with contextlib.suppress(Exception):  # a body never read
                visit(value.content, depth + 1)
        if isinstance(value, httpx.Request):
            visit(str(value.url), depth + 1)
        if isinstance(value, Mapping):
            for key, item in list(value.items()):
                visit(key, depth + 1)
                visit(item, depth + 1)
        elif isinstance(value, list | tuple | set | frozenset):
            for item in value:
                visit(item, depth + 1)
        with contextlib.suppress(TypeError):  # no __dict__
            for item in list(vars(value).values()):
                visit(item, depth + 1)

    visit(exc, 0)
    return "\n".join(texts)


@pytest.mark.parametrize("model", ACOMPLETION_PREFIXES)
async def test_an_acompletion_error_holds_the_key_nowhere_in_its_chain(model: str) -> None:
    # The answer does not echo the key: it is only in the request LiteLLM's httpx error keeps.
    async with scripted([(401, error_body("invalid api key"), ())]) as server:
        with pytest.raises(LMProviderError) as raised:
            await count_once(model, server.url("/v1"), max_retries=0)
    assert SECRET in (server.requests[0].header("authorization") or "")
    assert SECRET not in reachable_text(raised.value)


async def test_an_acompletion_error_that_echoes_the_key_keeps_its_type_status_and_message() -> None:
    echoing = (401, error_body(f"Incorrect API key provided: {SECRET}"), (("x-echo-key", SECRET),))
    async with scripted([echoing]) as server:
        with pytest.raises(LMProviderError) as raised:
            await count_once(ACOMPLETION, server.url("/v1"), max_retries=0)
    cause = sharedlm.sharedlm_cause(raised.value)
    assert isinstance(cause, AuthenticationError)
    assert cause.status == 401
    assert "Incorrect API key provided: ***" in str(cause)
    assert SECRET not in reachable_text(raised.value)


async def echo_aws_headers(request: ServerRequest) -> None:
    """A 403 whose body quotes the AWS credential headers it was sent."""
    sent = {name: request.header(name) for name in ("authorization", "x-amz-security-token")}
    body = json.dumps({"message": f"The security token included in the request is invalid: {sent}"}).encode()
    await request.connection.answer(body, status=403, headers=JSON)


async def test_a_bedrock_error_holds_no_aws_credential_anywhere_in_its_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFAKEFAKEFAKEFAKE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", AWS_TOKEN)
    monkeypatch.setenv("AWS_REGION_NAME", "us-east-1")
    async with ScriptedServer(echo_aws_headers) as server:
        sharedlm.configure(model="bedrock/converse/sim-model", api_base=server.url("").rstrip("/"), cache=False,
                           max_retries=0)
        with pytest.raises(LMProviderError) as raised, dspy.context(lm=sharedlm.get_shared_lm()):
            await dspy.Predict(Count).acall(topic="x")
    signature = (server.requests[0].header("authorization") or "").rpartition("Signature=")[2]
    assert server.requests[0].header("x-amz-security-token") == AWS_TOKEN
    assert len(signature) == 64
    shown = reachable_text(raised.value)
    assert AWS_TOKEN not in shown
    assert signature not in shown


# A credential header as logged ("Authorization: ...", "'x-api-key': '...'"): the value it shows.
CREDENTIAL_SHOWN = re.compile(r"(?i)(?:authorization|x-api-key|api-key)['\"]?[ \t]*[:=][ \t]*"
                              r"(?-i:b)?['\"]?([^'\"\n]*)")


@pytest.mark.parametrize("model", BOTH_ROUTES)
async def test_a_call_logs_no_credential_at_debug(model: str, caplog: pytest.LogCaptureFixture) -> None:
    # LiteLLM logs each acompletion request as a curl command with its Authorization header (shortened, not removed).
    caplog.set_level(logging.DEBUG)
    async with Simulator(SimulatorSettings()) as sim:
        await count_once(model, sim.base_url)
    assert SECRET not in caplog.text
    assert set(CREDENTIAL_SHOWN.findall(caplog.text)) <= {"***", "Bearer ***"}
