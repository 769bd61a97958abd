"""Amazon Bedrock's Converse wire (``POST /model/{modelId}/converse``), non-streaming, for LiteLLM's bedrock route.

LiteLLM sends ``bedrock/converse/<model>`` calls, SigV4-signed with whatever credentials the AWS chain finds, to
``{api_base}/model/{modelId}/converse`` when an ``api_base`` is given. The simulator does not check the signature
(fake local credentials sign as well as real ones); it reads the messages, answers as the other dialects do, and
shapes errors as Bedrock does (``{"message": ...}`` with the exception name in ``x-amzn-errortype``, which LiteLLM
maps by status). ``converse-stream`` (AWS's binary event-stream framing) is not served.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sharedlm.simulator._json as _json
from sharedlm.simulator._answers import Answer, Prompt, count_tokens
from sharedlm.simulator._wire import JSON, BadRequest, Call, Dialect, complete

CONVERSE_PREFIX = b"/model/"
CONVERSE_SUFFIX = b"/converse"


def converse_model(path: bytes) -> str | None:
    """The model id of a Converse path (``/model/{modelId}/converse``), or None for any other path."""
    if not (path.startswith(CONVERSE_PREFIX) and path.endswith(CONVERSE_SUFFIX)):
        return None
    model = path[len(CONVERSE_PREFIX):-len(CONVERSE_SUFFIX)]
    return model.decode(errors="replace") if model else None


def _texts(blocks: Any, where: str) -> str:
    if not isinstance(blocks, list):
        raise BadRequest(f"{where}: expected a list of content blocks", param=where)
    texts = []
    for index, block in enumerate(blocks):
        if not isinstance(block, Mapping):
            raise BadRequest(f"{where}.{index}: expected an object", param=f"{where}.{index}")
        text = block.get("text")
        if isinstance(text, str):
            texts.append(text)
    return "\n".join(texts)


class BedrockConverse(Dialect):
    """``POST /model/{modelId}/converse``."""

    name = "bedrock"

    def parse(self, body: bytes, *, model: str | None = None, query: bytes = b"") -> Call:
        try:
            data = _json.loads(body)
        except ValueError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(data, dict):
            raise BadRequest("The request body must be a JSON object.")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: at least one message is required", param="messages")
        user, chars = "", 0
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise BadRequest(f"messages.{index}: expected an object", param=f"messages.{index}")
            text = _texts(message.get("content"), f"messages.{index}.content")
            chars += len(text)
            if message.get("role") == "user":
                user = text
        system = _texts(data.get("system") or [], "system")
        chars += len(system)
        config = data.get("inferenceConfig") or {}
        max_tokens = config.get("maxTokens") if isinstance(config, dict) else None
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens < 1):
            raise BadRequest(f"inferenceConfig.maxTokens: expected a whole number of at least 1, got {max_tokens!r}",
                             param="inferenceConfig.maxTokens")
        prompt = Prompt(system, user, False, None, None, count_tokens(chars))
        return Call(model or "bedrock-model", prompt, False, True, 1, max_tokens)

    def answer(self, call: Call, answers: Sequence[Answer], seq: int) -> tuple[bytes, bytes]:
        c = complete(answers[0], call.max_tokens)
        prompt_tokens = call.prompt.prompt_tokens
        return JSON, _json.dumps({
            "output": {"message": {"role": "assistant", "content": [{"text": c.content}]}},
            "stopReason": "max_tokens" if c.truncated else "end_turn",
            "usage": {"inputTokens": prompt_tokens, "outputTokens": c.tokens, "totalTokens": prompt_tokens + c.tokens},
            "metrics": {"latencyMs": 0},
        })

    def error(self, status: int, message: str, *, reason: str | None = None, param: str | None = None,
              code: str | None = None) -> bytes:
        return _json.dumps({"message": message})


BEDROCK = BedrockConverse()

__all__ = ["BEDROCK", "BedrockConverse", "converse_model"]
