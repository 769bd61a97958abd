"""The simulator's Bedrock Converse wire: parsing, answers, errors and its route."""

from __future__ import annotations

import json

import aiohttp
import pytest

from sharedlm.simulator import Simulator, SimulatorSettings
from sharedlm.simulator._bedrock import BEDROCK, converse_model
from sharedlm.simulator._wire import BadRequest


def converse_body(text: str = "hello", **extra: object) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": [{"text": text}]}],
                       "system": [{"text": "be brief"}], **extra}).encode()


def test_converse_model_is_read_from_the_path() -> None:
    assert converse_model(b"/model/anthropic.claude-3%3A0/converse") == "anthropic.claude-3%3A0"
    assert converse_model(b"/model/x/converse-stream") is None
    assert converse_model(b"/v1/chat/completions") is None


def test_parse_reads_user_text_and_max_tokens() -> None:
    call = BEDROCK.parse(converse_body("count sheep", inferenceConfig={"maxTokens": 7}), model="m")
    assert (call.model, call.prompt.user, call.max_tokens, call.stream) == ("m", "count sheep", 7, False)


def test_parse_refuses_a_body_without_messages() -> None:
    with pytest.raises(BadRequest, match="messages"):
        BEDROCK.parse(b"{}")


def test_errors_carry_the_message_as_bedrock_does() -> None:
    assert json.loads(BEDROCK.error(429, "Too many requests")) == {"message": "Too many requests"}


async def test_the_converse_route_answers_with_output_and_usage() -> None:
    async with Simulator(SimulatorSettings()) as sim, aiohttp.ClientSession() as session:
        origin = sim.base_url.rsplit("/v1", 1)[0]
        async with session.post(f"{origin}/model/sim-model/converse", data=converse_body()) as response:
            assert response.status == 200
            answer = await response.json()
        assert answer["output"]["message"]["role"] == "assistant"
        assert answer["stopReason"] == "end_turn"
        assert answer["usage"]["totalTokens"] == answer["usage"]["inputTokens"] + answer["usage"]["outputTokens"]
        assert sim.stats().requests == 1
