"""The simulator over raw HTTP: wire shapes, bad input, keep-alive, statistics."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import aiohttp
import pytest

from sharedlm.simulator import Simulator, SimulatorSettings

from ._helpers import chat_body


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with http.post(url, data=data, headers={"content-type": "application/json"}) as response:
        return response.status, await response.json(content_type=None)


def _sse_events(text: str) -> list[str]:
    return [line[len("data: "):] for line in text.splitlines() if line.startswith("data: ")]


async def _raw(sim: Simulator, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(payload)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


def _raw_request(path: str, body: bytes, *, close: bool = False) -> bytes:
    connection = b"connection: close\r\n" if close else b""
    return (b"POST %s HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: %d\r\n%s\r\n%s"
            % (path.encode(), len(body), connection, body))


# --- OpenAI Chat Completions -------------------------------------------------------------------------------------


async def test_chat_completion_has_the_openai_shape_with_usage(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, data = await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    assert status == 200
    assert data["object"] == "chat.completion"
    assert data["model"] == "sim-model"
    choice = data["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert choice["message"]["content"]
    assert choice["finish_reason"] == "stop"
    usage = data["usage"]
    assert usage["prompt_tokens"] > 0
    assert usage["completion_tokens"] > 0
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


async def test_stream_sends_chunks_and_ends_with_done(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.post(f"{sim.base_url}/chat/completions", json=chat_body(stream=True)) as response:
        assert response.status == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = _sse_events(await response.text())
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert all(c["object"] == "chat.completion.chunk" for c in chunks)
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


async def test_stream_with_include_usage_ends_with_a_usage_chunk_without_choices(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    async with http.post(f"{sim.base_url}/chat/completions", json=body) as response:
        chunks = [json.loads(e) for e in _sse_events(await response.text())[:-1]]
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["total_tokens"] > 0
    assert all("usage" not in c for c in chunks[:-1])


async def test_same_request_and_seed_give_the_same_answer(http: aiohttp.ClientSession) -> None:
    contents = []
    for seed in (5, 5, 6):
        async with Simulator(SimulatorSettings(seed=seed)) as sim:
            _, data = await _post(http, f"{sim.base_url}/chat/completions", chat_body("same question"))
            contents.append(data["choices"][0]["message"]["content"])
    assert contents[0] == contents[1] != contents[2]


async def test_max_tokens_cuts_the_answer_with_finish_reason_length(sim: Simulator,
                                                                    http: aiohttp.ClientSession) -> None:
    _, data = await _post(http, f"{sim.base_url}/chat/completions", chat_body(max_tokens=2))
    assert data["choices"][0]["finish_reason"] == "length"
    assert data["usage"]["completion_tokens"] == 2
    assert len(data["choices"][0]["message"]["content"]) <= 8


async def test_n_returns_that_many_choices(sim: Simulator, http: aiohttp.ClientSession) -> None:
    _, data = await _post(http, f"{sim.base_url}/chat/completions", chat_body(n=3))
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]


async def test_chat_completions_is_served_without_the_v1_prefix_too(sim: Simulator,
                                                                     http: aiohttp.ClientSession) -> None:
    status, _ = await _post(http, f"{sim.root_url}/chat/completions", chat_body())
    assert status == 200


async def test_models_are_listed(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.base_url}/models") as response:
        data = await response.json()
    assert data["object"] == "list"
    assert {"id", "object", "owned_by"} <= set(data["data"][0])
    async with http.get(f"{sim.base_url}/models/any-model") as response:
        assert (await response.json())["id"] == "any-model"


# --- bad input ---------------------------------------------------------------------------------------------------


def _assert_openai_error(data: Any, *, param: str | None = None) -> None:
    assert set(data["error"]) == {"message", "type", "param", "code"}
    assert data["error"]["message"]
    if param is not None:
        assert data["error"]["param"] == param


@pytest.mark.parametrize(("body", "param"), [
    (b"{not json", None),
    (b"", None),
    (b"[1, 2]", None),
    ({"model": "m"}, "messages"),
    ({"model": "m", "messages": []}, "messages"),
    ({"messages": [{"role": "user", "content": "x"}]}, "model"),
    ({"model": "m", "messages": ["not an object"]}, "messages[0]"),
    ({"model": "m", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
    (chat_body(response_format={"type": "yaml"}), "response_format.type"),
    (chat_body(max_tokens=0), "max_tokens"),
])
async def test_bad_request_is_400_with_an_openai_error_body(sim: Simulator, http: aiohttp.ClientSession,
                                                            body: Any, param: str | None) -> None:
    status, data = await _post(http, f"{sim.base_url}/chat/completions", body)
    assert status == 400
    _assert_openai_error(data, param=param)


async def test_unknown_path_is_404_with_an_openai_error_body(sim: Simulator, http: aiohttp.ClientSession) -> None:
    for path in ("/v1/completions", "/v1beta/models/gemini-2.5-flash:countTokens", "/"):
        status, data = await _post(http, f"{sim.root_url}{path}", chat_body())
        assert status == 404
        _assert_openai_error(data)


async def test_wrong_method_is_405(sim: Simulator, http: aiohttp.ClientSession) -> None:
    async with http.get(f"{sim.base_url}/chat/completions") as response:
        assert response.status == 405
        assert response.headers["allow"] == "POST"
        _assert_openai_error(await response.json())


async def test_connection_stays_usable_after_a_bad_request(sim: Simulator) -> None:
    bad, good = _raw_request("/v1/chat/completions", b"{oops"), _raw_request("/v1/chat/completions",
                                                                             json.dumps(chat_body()).encode(),
                                                                             close=True)
    data = await _raw(sim, bad + good)
    assert data.count(b"HTTP/1.1 ") == 2
    assert data.startswith(b"HTTP/1.1 400")
    assert b"HTTP/1.1 200" in data


async def test_malformed_http_gets_a_400_and_the_connection_is_closed(sim: Simulator) -> None:
    data = await _raw(sim, b"NOT HTTP AT ALL\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400")
    assert b"connection: close" in data


async def test_pipelined_requests_are_answered_in_order(sim: Simulator) -> None:
    first = _raw_request("/v1/chat/completions", json.dumps(chat_body("one", n=1)).encode())
    second = _raw_request("/v1/models", b"")  # a POST to a GET route: 405, proving order of the answers
    third = _raw_request("/v1/chat/completions", json.dumps(chat_body("three", n=2)).encode(), close=True)
    data = await _raw(sim, first + second + third)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", data)
    assert statuses == [b"200", b"405", b"200"]
    assert data.rindex(b'"index":1') > data.index(b"HTTP/1.1 405")


async def test_expect_100_continue_is_honoured(sim: Simulator) -> None:
    body = json.dumps(chat_body()).encode()
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nexpect: 100-continue\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n" % len(body))
    reader, writer = await asyncio.open_connection("127.0.0.1", sim.port)
    writer.write(head)
    assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2) == b"HTTP/1.1 100 Continue\r\n\r\n"
    writer.write(body)
    assert (await asyncio.wait_for(reader.read(), 5)).startswith(b"HTTP/1.1 200")
    writer.close()


# --- Gemini and Anthropic ----------------------------------------------------------------------------------------

GEMINI_BODY = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}],
               "systemInstruction": {"parts": [{"text": "be brief"}]}}


@pytest.mark.parametrize("prefix", ["/v1beta", "", "/v1"])
async def test_gemini_generate_content_has_the_gemini_shape(sim: Simulator, http: aiohttp.ClientSession,
                                                            prefix: str) -> None:
    status, data = await _post(http, f"{sim.root_url}{prefix}/models/gemini-2.5-flash:generateContent",
                               GEMINI_BODY)
    assert status == 200
    candidate = data["candidates"][0]
    assert candidate["content"]["role"] == "model"
    assert candidate["content"]["parts"][0]["text"]
    assert candidate["finishReason"] == "STOP"
    usage = data["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]


async def test_gemini_stream_with_alt_sse_sends_events_ending_with_usage(sim: Simulator,
                                                                         http: aiohttp.ClientSession) -> None:
    url = f"{sim.gemini_base_url}/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    async with http.post(url, json=GEMINI_BODY) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        chunks = [json.loads(e) for e in _sse_events(await response.text())]
    assert len(chunks) > 1
    assert chunks[-1]["candidates"][0]["finishReason"] == "STOP"
    assert "usageMetadata" in chunks[-1]


async def test_gemini_stream_without_sse_is_a_json_array(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, data = await _post(http, f"{sim.gemini_base_url}/models/m:streamGenerateContent", GEMINI_BODY)
    assert status == 200
    assert isinstance(data, list)
    assert data[-1]["candidates"][0]["finishReason"] == "STOP"


async def test_gemini_json_schema_is_followed(sim: Simulator, http: aiohttp.ClientSession) -> None:
    schema = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    body = {**GEMINI_BODY, "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema}}
    _, data = await _post(http, f"{sim.gemini_base_url}/models/m:generateContent", body)
    assert isinstance(json.loads(data["candidates"][0]["content"]["parts"][0]["text"])["n"], int)


async def test_gemini_bad_request_has_the_gemini_error_shape(sim: Simulator, http: aiohttp.ClientSession) -> None:
    status, data = await _post(http, f"{sim.gemini_base_url}/models/m:generateContent", {"contents": []})
    assert status == 400
    assert data["error"]["status"] == "INVALID_ARGUMENT"
    assert data["error"]["code"] == 400


async def test_anthropic_messages_have_the_anthropic_shape(sim: Simulator, http: aiohttp.ClientSession) -> None:
    body = {"model": "claude", "max_tokens": 100, "system": "be brief",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}]}]}
    status, data = await _post(http, f"{sim.base_url}/messages", body)
    assert status == 200
    assert data["type"] == "message"
    assert data["content"][0]["type"] == "text"
    assert data["stop_reason"] == "end_turn"
    assert data["usage"]["input_tokens"] > 0
    assert data["usage"]["output_tokens"] > 0


async def test_anthropic_stream_sends_the_message_events(sim: Simulator, http: aiohttp.ClientSession) -> None:
    body = {"model": "claude", "max_tokens": 100, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    async with http.post(f"{sim.base_url}/messages", json=body) as response:
        kinds = [json.loads(e)["type"] for e in _sse_events(await response.text())]
    assert kinds[0] == "message_start"
    assert kinds[-1] == "message_stop"
    assert "content_block_delta" in kinds


# --- statistics --------------------------------------------------------------------------------------------------


async def test_stats_count_requests_statuses_and_tokens(sim: Simulator, http: aiohttp.ClientSession) -> None:
    _, data = await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    await _post(http, f"{sim.base_url}/chat/completions", b"{bad")
    stats = sim.stats()
    assert stats.requests == 2
    assert stats.responses_by_status == {200: 1, 400: 1}
    assert stats.prompt_tokens == data["usage"]["prompt_tokens"]
    assert stats.completion_tokens == data["usage"]["completion_tokens"]
    assert stats.in_flight == 0
    assert stats.peak_in_flight == 1


async def test_stats_endpoint_matches_the_python_snapshot_and_is_not_counted(
        sim: Simulator, http: aiohttp.ClientSession) -> None:
    await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    async with http.get(f"{sim.root_url}/sim/stats") as response:
        served = await response.json()
    assert served == sim.stats().as_dict()
    assert served["requests"] == 1
    assert served["responses_by_status"] == {"200": 1}


async def test_reset_zeroes_the_counters(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    async with http.post(f"{sim.root_url}/sim/reset") as response:
        assert response.status == 200
    stats = sim.stats()
    assert (stats.requests, stats.prompt_tokens, stats.distinct_connections, dict(stats.responses_by_status)) == (
        0, 0, 0, {})


async def test_distinct_connections_count_client_tcp_connections(sim: Simulator) -> None:
    async with aiohttp.ClientSession() as pooled:
        for _ in range(5):
            await _post(pooled, f"{sim.base_url}/chat/completions", chat_body())
    assert sim.stats().distinct_connections == 1  # keep-alive reuses one connection
    sim.reset()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh:
        for _ in range(3):
            await _post(fresh, f"{sim.base_url}/chat/completions", chat_body())
    assert sim.stats().distinct_connections == 3


async def test_a_connection_used_again_after_reset_counts_again(sim: Simulator, http: aiohttp.ClientSession) -> None:
    await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    sim.reset()
    await _post(http, f"{sim.base_url}/chat/completions", chat_body())
    assert sim.stats().distinct_connections == 1


async def test_repr_shows_the_state() -> None:
    simulator = Simulator()
    assert "stopped" in repr(simulator)
    async with simulator:
        assert f"running at {simulator.root_url}" in repr(simulator)


async def test_urls_need_a_running_simulator() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = Simulator().base_url
