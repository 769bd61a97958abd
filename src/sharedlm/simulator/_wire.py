"""The wire formats the simulator speaks: OpenAI Chat Completions, Gemini generateContent, Anthropic Messages.

Each :class:`Dialect` turns a request body into a :class:`Call` (or raises :class:`BadRequest`), and renders
answers, streams and error bodies in its provider's shape, so that each provider's own client library maps a
simulated failure to the same error it would raise against the real service.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sharedlm.simulator._json as _json
from sharedlm.simulator._answers import CHARS_PER_TOKEN, Answer, Prompt, count_tokens

JSON = b"application/json"
SSE = b"text/event-stream"
# Stream answers arrive in this many content pieces (at most), like a provider's token stream.
STREAM_PIECES = 3
MAX_CHOICES = 16


class BadRequest(Exception):
    """A request the simulator refuses as a provider would: the status, a message and the offending parameter."""

    def __init__(self, message: str, *, status: int = 400, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.param = param
        self.code = code


@dataclass(frozen=True, slots=True)
class Call:
    """One parsed generation request."""

    model: str
    prompt: Prompt
    stream: bool = False
    include_usage: bool = False
    choices: int = 1
    max_tokens: int | None = None
    sse: bool = True  # Gemini's streamGenerateContent answers a JSON array unless alt=sse was asked


@dataclass(frozen=True, slots=True)
class Completion:
    """What one choice of an answer says after the ``max_tokens`` cut."""

    content: str
    tokens: int
    truncated: bool


def complete(answer: Answer, max_tokens: int | None) -> Completion:
    """Cut ``answer`` to ``max_tokens`` tokens the way a provider does (``finish_reason`` "length")."""
    if max_tokens is None or answer.completion_tokens <= max_tokens:
        return Completion(answer.content, answer.completion_tokens, False)
    return Completion(answer.content[:max_tokens * CHARS_PER_TOKEN], max_tokens, True)


def _pieces(text: str) -> list[str]:
    if not text:
        return [""]
    size = -(-len(text) // STREAM_PIECES)
    return [text[i:i + size] for i in range(0, len(text), size)]


def _text_of(content: Any, where: str) -> str:
    """Text of an OpenAI or Anthropic message content: a string, or a list of parts of which text ones count."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, Mapping):
                text = part.get("text")
                if isinstance(text, str):
                    texts.append(text)
            elif isinstance(part, str):
                texts.append(part)
            else:
                raise BadRequest(f"Invalid content part in {where}: expected an object.", param=where)
        return "\n".join(texts)
    raise BadRequest(f"Invalid type for '{where}': expected a string or an array of content parts.", param=where)


def _positive_int(body: Mapping[str, Any], name: str, *, ceiling: int | None = None) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1 or (ceiling is not None and value > ceiling):
        bound = f" and at most {ceiling}" if ceiling is not None else ""
        raise BadRequest(f"Invalid '{name}': expected a whole number of at least 1{bound}, got {value!r}.",
                         param=name, code="invalid_value")
    return value


def _object(body: bytes) -> dict[str, Any]:
    try:
        data = _json.loads(body)
    except ValueError:
        raise BadRequest("We could not parse the JSON body of your request. (HINT: This likely means you aren't "
                         "using your HTTP library correctly. The OpenAI API expects a JSON payload.)") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    return data


def _schema_key(schema: Mapping[str, Any] | None) -> str | None:
    return None if schema is None else _json.canonical(schema)


class Dialect:
    """One provider's wire format."""

    name = "base"

    def parse(self, body: bytes, *, model: str | None = None, query: bytes = b"") -> Call:
        """The call a request body asks for.

        Args:
            body: The raw request body.
            model: The model named in the path, for formats that put it there.
            query: The raw query string.
        """
        raise NotImplementedError

    def answer(self, call: Call, answers: Sequence[Answer], seq: int) -> tuple[bytes, bytes]:
        """The content type and body that deliver ``answers`` (one per choice) to ``call``."""
        raise NotImplementedError

    def error(self, status: int, message: str, *, reason: str | None = None, param: str | None = None,
              code: str | None = None) -> bytes:
        """An error body in this provider's shape.

        Args:
            status: The HTTP status.
            message: What went wrong.
            reason: For 429s, what ran out ("requests", "tokens", "concurrency").
            param: The offending request parameter.
            code: A machine-readable code.
        """
        raise NotImplementedError


# --- OpenAI Chat Completions ---------------------------------------------------------------------------------------

_OPENAI_TYPES = {400: "invalid_request_error", 401: "invalid_request_error", 404: "invalid_request_error",
                 405: "invalid_request_error", 413: "invalid_request_error", 429: "requests", 500: "server_error",
                 503: "server_error"}


class OpenAIChat(Dialect):
    """``POST /v1/chat/completions``."""

    name = "openai"

    def parse(self, body: bytes, *, model: str | None = None, query: bytes = b"") -> Call:
        data = _object(body)
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("you must provide a model parameter", param="model", code="missing_required_parameter")
        messages = data.get("messages")
        if not isinstance(messages, list):
            raise BadRequest("Missing required parameter: 'messages'.", param="messages",
                             code="missing_required_parameter")
        if not messages:
            raise BadRequest("Invalid 'messages': empty array. Expected an array with minimum length 1.",
                             param="messages", code="empty_array")
        system_parts: list[str] = []
        user = ""
        chars = 0
        for index, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("role"), str):
                raise BadRequest(f"Invalid 'messages[{index}]': expected an object with a 'role'.",
                                 param=f"messages[{index}]", code="invalid_value")
            text = _text_of(message.get("content"), f"messages[{index}].content")
            chars += len(text)
            role = message["role"]
            if role == "user":
                user = text
            elif role in ("system", "developer"):
                system_parts.append(text)
        json_mode, schema = self._response_format(data.get("response_format"))
        stream = data.get("stream") is True
        options = data.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        max_tokens = _positive_int(data, "max_completion_tokens") or _positive_int(data, "max_tokens")
        prompt = Prompt("\n\n".join(system_parts), user, json_mode, schema, _schema_key(schema), count_tokens(chars))
        return Call(model, prompt, stream, include_usage, _positive_int(data, "n", ceiling=MAX_CHOICES) or 1,
                    max_tokens)

    @staticmethod
    def _response_format(value: Any) -> tuple[bool, Mapping[str, Any] | None]:
        if value is None:
            return False, None
        kind = value.get("type") if isinstance(value, dict) else None
        if kind == "text":
            return False, None
        if kind == "json_object":
            return True, None
        if kind == "json_schema":
            inner = value.get("json_schema")
            schema = inner.get("schema") if isinstance(inner, dict) else None
            if not isinstance(schema, dict):
                raise BadRequest("Missing required parameter: 'response_format.json_schema.schema'.",
                                 param="response_format.json_schema.schema", code="missing_required_parameter")
            return True, schema
        raise BadRequest("Invalid 'response_format.type': expected one of 'text', 'json_object', 'json_schema'.",
                         param="response_format.type", code="invalid_value")

    def answer(self, call: Call, answers: Sequence[Answer], seq: int) -> tuple[bytes, bytes]:
        completions = [complete(a, call.max_tokens) for a in answers]
        prompt_tokens = call.prompt.prompt_tokens
        spent = sum(c.tokens for c in completions)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": spent, "total_tokens": prompt_tokens + spent}
        ident = f"chatcmpl-sim{seq}"
        created = int(time.time())
        if not call.stream:
            return JSON, _json.dumps({
                "id": ident, "object": "chat.completion", "created": created, "model": call.model,
                "choices": [{"index": i, "message": {"role": "assistant", "content": c.content, "refusal": None},
                             "logprobs": None, "finish_reason": "length" if c.truncated else "stop"}
                            for i, c in enumerate(completions)],
                "usage": usage, "system_fingerprint": "fp_sharedlm_sim",
            })
        head = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": call.model,
                "system_fingerprint": "fp_sharedlm_sim"}
        events = []
        for i, c in enumerate(completions):
            events.append({**head, "choices": [{"index": i, "delta": {"role": "assistant", "content": ""},
                                                "logprobs": None, "finish_reason": None}]})
            events.extend({**head, "choices": [{"index": i, "delta": {"content": piece}, "logprobs": None,
                                                "finish_reason": None}]} for piece in _pieces(c.content))
            last: dict[str, Any] = {**head, "choices": [{"index": i, "delta": {}, "logprobs": None,
                                                         "finish_reason": "length" if c.truncated else "stop"}]}
            if not call.include_usage and i == len(completions) - 1:
                last["usage"] = usage  # not asked for a usage chunk: the usage rides on the final chunk
            events.append(last)
        if call.include_usage:
            events.append({**head, "choices": [], "usage": usage})
        return SSE, b"".join(b"data: " + _json.dumps(e) + b"\n\n" for e in events) + b"data: [DONE]\n\n"

    def error(self, status: int, message: str, *, reason: str | None = None, param: str | None = None,
              code: str | None = None) -> bytes:
        kind = _OPENAI_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
        if status == 429:
            kind = reason or "requests"
            code = code or "rate_limit_exceeded"
        return _json.dumps({"error": {"message": message, "type": kind, "param": param, "code": code}})

    @staticmethod
    def models(names: Sequence[str]) -> bytes:
        """The body of ``GET /v1/models``."""
        return _json.dumps({"object": "list", "data": [OpenAIChat.model_entry(n) for n in names]})

    @staticmethod
    def model_entry(name: str) -> dict[str, Any]:
        """One model object, as in ``GET /v1/models/{model}``."""
        return {"id": name, "object": "model", "created": 1700000000, "owned_by": "sharedlm-simulator"}


# --- Gemini generateContent ----------------------------------------------------------------------------------------

_GEMINI_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND", 405: "INVALID_ARGUMENT",
                  413: "INVALID_ARGUMENT", 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def _gemini_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if not isinstance(content, dict):
        raise BadRequest(f"Invalid value at '{where}': expected an object with 'parts'.", param=where)
    parts = content.get("parts") or []
    if not isinstance(parts, list):
        raise BadRequest(f"Invalid value at '{where}.parts': expected an array.", param=f"{where}.parts")
    return "".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


class Gemini(Dialect):
    """``POST /v1beta/models/{model}:generateContent`` and ``:streamGenerateContent``."""

    name = "gemini"

    def parse(self, body: bytes, *, model: str | None = None, query: bytes = b"", stream: bool = False) -> Call:
        data = _object(body)
        contents = data.get("contents")
        if not isinstance(contents, list) or not contents:
            raise BadRequest("* GenerateContentRequest.contents: contents is not specified", param="contents")
        user = ""
        chars = 0
        for index, content in enumerate(contents):
            text = _gemini_text(content, f"contents[{index}]")
            chars += len(text)
            if isinstance(content, dict) and content.get("role", "user") == "user":
                user = text
        system = _gemini_text(data.get("systemInstruction", data.get("system_instruction")), "systemInstruction")
        chars += len(system)
        config = data.get("generationConfig", data.get("generation_config")) or {}
        if not isinstance(config, dict):
            raise BadRequest("Invalid value at 'generation_config': expected an object.", param="generationConfig")
        schema = next((config[k] for k in ("responseJsonSchema", "response_json_schema", "responseSchema",
                                           "response_schema") if isinstance(config.get(k), dict)), None)
        mime = config.get("responseMimeType", config.get("response_mime_type"))
        json_mode = mime == "application/json" or schema is not None
        prompt = Prompt(system, user, json_mode, schema, _schema_key(schema), count_tokens(chars))
        choices = _positive_int(config, "candidateCount", ceiling=MAX_CHOICES) or 1
        return Call(model or "gemini", prompt, stream, True, choices, _positive_int(config, "maxOutputTokens"),
                    sse=b"alt=sse" in query)

    def answer(self, call: Call, answers: Sequence[Answer], seq: int) -> tuple[bytes, bytes]:
        completions = [complete(a, call.max_tokens) for a in answers]
        spent = sum(c.tokens for c in completions)
        usage = {"promptTokenCount": call.prompt.prompt_tokens, "candidatesTokenCount": spent,
                 "totalTokenCount": call.prompt.prompt_tokens + spent}
        head = {"modelVersion": call.model, "responseId": f"sim{seq}"}
        if not call.stream:
            candidates = [self._candidate(c.content, i, c) for i, c in enumerate(completions)]
            return JSON, _json.dumps({"candidates": candidates, "usageMetadata": usage, **head})
        chunks: list[dict[str, Any]] = []
        for i, c in enumerate(completions):
            pieces = _pieces(c.content)
            chunks.extend({"candidates": [self._candidate(p, i, None)], **head} for p in pieces[:-1])
            chunks.append({"candidates": [self._candidate(pieces[-1], i, c)], **head})
        chunks[-1]["usageMetadata"] = usage
        if call.sse:
            return SSE, b"".join(b"data: " + _json.dumps(c) + b"\r\n\r\n" for c in chunks)
        return JSON, _json.dumps(chunks)

    @staticmethod
    def _candidate(text: str, index: int, finished: Completion | None) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"parts": [{"text": text}], "role": "model"}, "index": index}
        if finished is not None:
            candidate["finishReason"] = "MAX_TOKENS" if finished.truncated else "STOP"
        return candidate

    def error(self, status: int, message: str, *, reason: str | None = None, param: str | None = None,
              code: str | None = None) -> bytes:
        return _json.dumps({"error": {"code": status, "message": message,
                                      "status": _GEMINI_STATUS.get(status, "INTERNAL" if status >= 500 else
                                                                   "INVALID_ARGUMENT")}})

    @staticmethod
    def models(names: Sequence[str]) -> bytes:
        """The body of ``GET /v1beta/models``."""
        return _json.dumps({"models": [{"name": f"models/{n}", "displayName": n, "inputTokenLimit": 1048576,
                                        "outputTokenLimit": 65536,
                                        "supportedGenerationMethods": ["generateContent", "streamGenerateContent"]}
                                       for n in names]})


# --- Anthropic Messages --------------------------------------------------------------------------------------------

_ANTHROPIC_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                    405: "invalid_request_error", 413: "request_too_large", 429: "rate_limit_error",
                    500: "api_error", 503: "overloaded_error"}


class Anthropic(Dialect):
    """``POST /v1/messages``."""

    name = "anthropic"

    def parse(self, body: bytes, *, model: str | None = None, query: bytes = b"") -> Call:
        data = _object(body)
        model = data.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("model: Field required", param="model")
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadRequest("messages: Field required", param="messages")
        user = ""
        chars = 0
        for index, message in enumerate(messages):
            if not isinstance(message, dict):
                raise BadRequest(f"messages.{index}: Input should be an object", param=f"messages.{index}")
            text = _text_of(message.get("content"), f"messages.{index}.content")
            chars += len(text)
            if message.get("role") == "user":
                user = text
        system = _text_of(data.get("system"), "system")
        chars += len(system)
        prompt = Prompt(system, user, False, None, None, count_tokens(chars))
        return Call(model, prompt, data.get("stream") is True, True, 1, _positive_int(data, "max_tokens"))

    def answer(self, call: Call, answers: Sequence[Answer], seq: int) -> tuple[bytes, bytes]:
        c = complete(answers[0], call.max_tokens)
        stop = "max_tokens" if c.truncated else "end_turn"
        ident = f"msg_sim{seq}"
        if not call.stream:
            return JSON, _json.dumps({
                "id": ident, "type": "message", "role": "assistant", "model": call.model,
                "content": [{"type": "text", "text": c.content}], "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": call.prompt.prompt_tokens, "output_tokens": c.tokens},
            })
        events: list[tuple[bytes, dict[str, Any]]] = [
            (b"message_start", {"type": "message_start", "message": {
                "id": ident, "type": "message", "role": "assistant", "model": call.model, "content": [],
                "stop_reason": None, "stop_sequence": None,
                "usage": {"input_tokens": call.prompt.prompt_tokens, "output_tokens": 1}}}),
            (b"content_block_start", {"type": "content_block_start", "index": 0,
                                      "content_block": {"type": "text", "text": ""}}),
        ]
        events.extend((b"content_block_delta", {"type": "content_block_delta", "index": 0,
                                                "delta": {"type": "text_delta", "text": piece}})
                      for piece in _pieces(c.content))
        events += [
            (b"content_block_stop", {"type": "content_block_stop", "index": 0}),
            (b"message_delta", {"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": None},
                                "usage": {"output_tokens": c.tokens}}),
            (b"message_stop", {"type": "message_stop"}),
        ]
        return SSE, b"".join(b"event: " + name + b"\ndata: " + _json.dumps(e) + b"\n\n" for name, e in events)

    def error(self, status: int, message: str, *, reason: str | None = None, param: str | None = None,
              code: str | None = None) -> bytes:
        kind = _ANTHROPIC_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return _json.dumps({"type": "error", "error": {"type": kind, "message": message}})


OPENAI = OpenAIChat()
GEMINI = Gemini()
ANTHROPIC = Anthropic()

__all__ = ["ANTHROPIC", "GEMINI", "JSON", "OPENAI", "SSE", "Anthropic", "BadRequest", "Call", "Completion",
           "Dialect", "Gemini", "OpenAIChat", "complete"]
