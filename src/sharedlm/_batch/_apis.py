"""The three providers' batch APIs from the client's side: which calls they take, and submit/poll/results.

A call is recognised by the HTTP request lm15 built for it (:func:`target_of`): an OpenAI Chat Completions
``POST .../chat/completions``, an Anthropic ``POST .../messages``, a Gemini ``POST .../models/{m}:generateContent``.
Its body goes into the batch unchanged, and the batch's answer for it comes back as the ``(status, body)`` the
online endpoint would have answered, so lm15 parses it as it parses any answer.

Each line's result is an :class:`Outcome`: an answer to hand back (a success, or an error retrying cannot fix,
such as a 400), or ``retry`` (a server error, a rate limit, an expired or cancelled line, a line missing from the
results) for the next batch.
"""

from __future__ import annotations

import datetime
import json
import math
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sharedlm._classify import redact
from sharedlm._errors import ConnectionFailedError, ProviderUnavailableError, UsageError
from sharedlm._http_rules import is_secret_name

# (method, url, headers, body) -> (status, body); the online transport underneath.
Send = Callable[[str, str, list[tuple[str, str]], bytes], Awaitable[tuple[int, bytes]]]

# Statuses worth another try in a later batch; anything else >= 400 is the call's answer.
_RETRY_STATUSES = frozenset({408, 409, 429}) | frozenset(range(500, 600))
_DROPPED_HEADERS = frozenset({"content-type", "content-length", "accept", "accept-encoding", "transfer-encoding"})
_JSON_HEADER = ("Content-Type", "application/json")
# Finding a batch whose id was never written down (Anthropic, by time): the provider's clock may be this far behind
# ours, and a creation (with its retries) is over this long after the journal wrote the batch down.
CLOCK_SKEW_S = 300.0
CREATE_WINDOW_S = 3600.0
# Pages of 100 batches looked through at most.
_MAX_LIST_PAGES = 20


@dataclass(frozen=True, slots=True)
class Outcome:
    """What became of one line: an answer ``(status, body)`` for its call, or ``retry`` with the reason."""

    retry: bool
    status: int = 0
    body: bytes = b""
    reason: str = ""

    @classmethod
    def answer(cls, status: int, body: Any) -> Outcome:
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
        return cls(False, status, data)

    @classmethod
    def again(cls, reason: str) -> Outcome:
        return cls(True, reason=reason)


@dataclass(frozen=True, slots=True)
class Poll:
    """One look at a batch: whether it has ended; if it failed whole, why; else each line's outcome by id."""

    ended: bool
    status: str
    failure: str | None = None
    outcomes: dict[str, Outcome] | None = None


def _epoch(value: Any) -> float | None:
    """An RFC 3339 time (``2024-08-20T18:37:24.100435Z``) as epoch seconds, or None."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


def _answer_or_retry(status: int, body: Any, what: str) -> Outcome:
    if status == 200:
        return Outcome.answer(200, body)
    if status in _RETRY_STATUSES:
        return Outcome.again(f"{what} answered {status}")
    return Outcome.answer(status, body)


def control_headers(headers: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """A captured call's headers (credentials, API version) without those describing its body."""
    return [(k, v) for k, v in headers if k.lower() not in _DROPPED_HEADERS]


async def _json_call(send: Send, method: str, url: str, headers: list[tuple[str, str]], payload: Any,
                     what: str) -> dict[str, Any]:
    body = b"" if payload is None else json.dumps(payload, ensure_ascii=False).encode()
    status, answer = await send(method, url, headers + ([_JSON_HEADER] if payload is not None else []), body)
    return _checked(status, answer, what, headers)


def _credentials(headers: Sequence[tuple[str, str]]) -> list[str]:
    """The secrets batch-management requests carry: each credential header's value, and the token after an
    Authorization scheme (what a provider that echoes a key shows), longest first."""
    found: set[str] = set()
    for name, value in headers:
        if is_secret_name(name) and value:
            found.add(value)
            scheme, space, token = value.partition(" ")
            if space and scheme.isalnum():
                found.add(token.strip())
    return sorted(found, key=len, reverse=True)


def _redacted(text: str, headers: Sequence[tuple[str, str]]) -> str:
    """``text`` from a provider's answer with the credentials the request carried replaced by ``***``."""
    for secret in _credentials(headers):
        text = redact(text, secret)
    return text


def _checked(status: int, answer: bytes, what: str, headers: Sequence[tuple[str, str]]) -> dict[str, Any]:
    # Redacted before it is cut short, so a key straddling the cut leaves no part of itself behind; every error
    # below carries this text into logs and the caller's exception, never the key an answer echoed.
    text = _redacted(answer[:4096].decode("utf-8", errors="replace"), headers)[:300]
    if status in _RETRY_STATUSES:
        raise ProviderUnavailableError(f"{what} answered {status}: {text}", status=status)
    if status >= 400:
        raise BatchRequestRefused(f"{what} was refused ({status}): {text}")
    try:
        data = json.loads(answer)
    except ValueError:
        raise ConnectionFailedError(f"{what} answered something that is not JSON: {text}") from None
    if not isinstance(data, dict):
        raise ConnectionFailedError(f"{what} answered JSON that is not an object: {text}")
    return data


@dataclass(frozen=True, slots=True)
class Sought:
    """A batch a run may have created without learning its id, as its journal describes it.

    Args:
        label: The label it was submitted with (OpenAI metadata, Gemini display name).
        custom_ids: Its lines' ids; unique to the run that made them.
        not_before: Wall-clock seconds (epoch) when it was written down, before its request left; None if unknown.
        known: Batch ids the journal already holds, never the one sought.
    """

    label: str
    custom_ids: frozenset[str]
    not_before: float | None = None
    known: frozenset[str] = frozenset()


class BatchRequestRefused(UsageError):
    """The provider refused a batch-management request (bad credentials, a batch API not enabled, ...)."""


class BatchApi:
    """One provider's batch API."""

    name = "base"
    max_requests = 1
    max_bytes = 1
    # Whether :meth:`find` names the sought batch for sure (by its label); else its candidates must be confirmed by
    # their results' custom_ids once they end.
    labelled = True

    def line_size(self, custom_id: str, body: bytes) -> int:
        """The bytes one line adds to a batch."""
        return len(body) + len(custom_id) + 80

    async def submit(self, send: Send, target: Target, headers: list[tuple[str, str]],
                     lines: Sequence[tuple[str, bytes]], label: str) -> str:
        """Submit ``lines`` (custom_id, body) as one batch; return the batch id."""
        raise NotImplementedError

    async def poll(self, send: Send, target: Target, headers: list[tuple[str, str]], batch_id: str) -> Poll:
        """Look at a batch; once it has ended, fetch every line's outcome."""
        raise NotImplementedError

    async def find(self, send: Send, target: Target, headers: list[tuple[str, str]], sought: Sought) -> list[str]:
        """Ids of recent batches that may be ``sought``: the one batch with its label when :attr:`labelled`, else
        candidates to confirm; empty when there is none."""
        return []


@dataclass(frozen=True, slots=True)
class Target:
    """Where a call's batch goes: the API, the provider's base URL and the model (one model per batch)."""

    api: BatchApi
    base_url: str
    model: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.api.name, self.base_url, self.model)


def _multipart(fields: Sequence[tuple[str, str]], filename: str, data: bytes) -> tuple[str, bytes]:
    boundary = f"sharedlm-{secrets.token_hex(12)}"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
             for name, value in fields]
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
                 "Content-Type: application/jsonl\r\n\r\n".encode() + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return f"multipart/form-data; boundary={boundary}", b"".join(parts)


class OpenAIBatches(BatchApi):
    """OpenAI Batch: a JSONL file of ``/v1/chat/completions`` bodies uploaded to ``/files``, then ``/batches``."""

    name = "openai"
    max_requests = 50_000
    max_bytes = 200 * 1024 * 1024

    def line(self, custom_id: str, body: bytes) -> bytes:
        return (b'{"custom_id":' + json.dumps(custom_id).encode() + b',"method":"POST","url":"/v1/chat/completions"'
                b',"body":' + body + b"}\n")

    def line_size(self, custom_id: str, body: bytes) -> int:
        return len(body) + len(custom_id) + 72

    async def submit(self, send: Send, target: Target, headers: list[tuple[str, str]],
                     lines: Sequence[tuple[str, bytes]], label: str) -> str:
        content_type, form = _multipart([("purpose", "batch")], f"{label}.jsonl",
                                        b"".join(self.line(c, b) for c, b in lines))
        status, answer = await send("POST", f"{target.base_url}/files", [*headers, ("Content-Type", content_type)],
                                    form)
        uploaded = _checked(status, answer, "the batch file upload", headers)
        created = await _json_call(send, "POST", f"{target.base_url}/batches", headers, {
            "input_file_id": uploaded["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h",
            "metadata": {"sharedlm_batch": label}}, "the batch creation")
        return str(created["id"])

    async def poll(self, send: Send, target: Target, headers: list[tuple[str, str]], batch_id: str) -> Poll:
        batch = await _json_call(send, "GET", f"{target.base_url}/batches/{batch_id}", headers, None, "a batch poll")
        status = str(batch.get("status"))
        if status in ("validating", "in_progress", "finalizing", "cancelling"):
            return Poll(False, status)
        if status == "failed":
            errors = (batch.get("errors") or {}).get("data") or [{}]
            reason = _redacted(str(errors[0].get("message") or "no reason given"), headers)
            return Poll(True, status, failure=f"batch failed: {reason}")
        outcomes: dict[str, Outcome] = {}
        for key in ("output_file_id", "error_file_id"):
            file_id = batch.get(key)
            if not file_id:
                continue
            code, content = await send("GET", f"{target.base_url}/files/{file_id}/content", headers, b"")
            if code != 200:
                _checked(code, content, "a batch results download", headers)
            for raw in content.splitlines():
                if raw.strip():
                    item = json.loads(raw)
                    outcomes[str(item.get("custom_id"))] = self._outcome(item)
        return Poll(True, status, outcomes=outcomes)

    async def find(self, send: Send, target: Target, headers: list[tuple[str, str]], sought: Sought) -> list[str]:
        listing = await _json_call(send, "GET", f"{target.base_url}/batches?limit=100", headers, None,
                                   "the batch listing")
        for batch in listing.get("data") or []:
            if (batch.get("metadata") or {}).get("sharedlm_batch") == sought.label:
                return [str(batch["id"])]
        return []

    @staticmethod
    def _outcome(item: dict[str, Any]) -> Outcome:
        response = item.get("response")
        if not isinstance(response, dict):
            error = item.get("error") or {}
            return Outcome.again(f"line {error.get('code') or 'not processed'}")
        return _answer_or_retry(int(response.get("status_code") or 0), response.get("body") or {}, "the line")


class AnthropicBatches(BatchApi):
    """Anthropic Message Batches: ``POST /v1/messages/batches`` of ``{custom_id, params}``, results JSONL."""

    name = "anthropic"
    max_requests = 100_000
    max_bytes = 256 * 1024 * 1024
    labelled = False

    async def submit(self, send: Send, target: Target, headers: list[tuple[str, str]],
                     lines: Sequence[tuple[str, bytes]], label: str) -> str:
        requests = b",".join(b'{"custom_id":' + json.dumps(c).encode() + b',"params":' + b + b"}" for c, b in lines)
        status, answer = await send("POST", f"{target.base_url}/messages/batches", [*headers, _JSON_HEADER],
                                    b'{"requests":[' + requests + b"]}")
        return str(_checked(status, answer, "the batch creation", headers)["id"])

    async def poll(self, send: Send, target: Target, headers: list[tuple[str, str]], batch_id: str) -> Poll:
        batch = await _json_call(send, "GET", f"{target.base_url}/messages/batches/{batch_id}", headers, None,
                                 "a batch poll")
        status = str(batch.get("processing_status"))
        if status != "ended":
            return Poll(False, status)
        url = batch.get("results_url")
        if not isinstance(url, str) or not url:
            return Poll(True, status, failure="the ended batch has no results_url")
        code, content = await send("GET", url, headers, b"")
        if code != 200:
            _checked(code, content, "a batch results download", headers)
        outcomes = {}
        for raw in content.splitlines():
            if raw.strip():
                item = json.loads(raw)
                outcomes[str(item.get("custom_id"))] = self._outcome(item.get("result") or {})
        return Poll(True, status, outcomes=outcomes)

    async def find(self, send: Send, target: Target, headers: list[tuple[str, str]], sought: Sought) -> list[str]:
        """Batches that may be ``sought``: Message Batches carry no label, so the candidates are those created from
        shortly before the journal wrote the batch down to an hour after, with as many requests, not already in the
        journal; closest in time first. Which one (if any) is the run's shows only in its results' ``custom_id``
        values, so the caller confirms a candidate once it has ended (:attr:`labelled` is False)."""
        low, high = -math.inf, math.inf
        if sought.not_before is not None:
            low, high = sought.not_before - CLOCK_SKEW_S, sought.not_before + CREATE_WINDOW_S
        found: list[tuple[float, str]] = []
        after: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            query = "limit=100" + (f"&after_id={urllib.parse.quote(after, safe='')}" if after else "")
            page = await _json_call(send, "GET", f"{target.base_url}/messages/batches?{query}", headers, None,
                                    "the batch listing")
            data = [b for b in page.get("data") or [] if isinstance(b, dict) and b.get("id")]
            for batch in data:  # newest first
                created = _epoch(batch.get("created_at"))
                if created is None or created > high or str(batch["id"]) in sought.known:
                    continue
                if created < low:
                    return [batch_id for _, batch_id in sorted(found)]
                counts = batch.get("request_counts") or {}
                total = sum(v for v in counts.values() if isinstance(v, int) and not isinstance(v, bool))
                if total == len(sought.custom_ids):
                    found.append((abs(created - (sought.not_before or created)), str(batch["id"])))
            if not page.get("has_more") or not data:
                break
            after = str(page.get("last_id") or data[-1]["id"])
        return [batch_id for _, batch_id in sorted(found)]

    @staticmethod
    def _outcome(result: dict[str, Any]) -> Outcome:
        kind = result.get("type")
        if kind == "succeeded":
            return Outcome.answer(200, result.get("message") or {})
        if kind == "errored":
            error: dict[str, Any] = result.get("error") or {}
            inner: dict[str, Any] = error["error"] if isinstance(error.get("error"), dict) else error
            if inner.get("type") in ("invalid_request_error", "not_found_error", "permission_error",
                                     "authentication_error", "request_too_large"):
                envelope = error if "error" in error else {"type": "error", "error": error}
                return Outcome.answer(400, envelope)
            return Outcome.again(f"line errored ({inner.get('type') or 'unknown'})")
        return Outcome.again(f"line {kind or 'without a result'}")


class GeminiBatches(BatchApi):
    """Gemini batch jobs with inline requests: ``POST .../models/{m}:batchGenerateContent``, then the operation."""

    name = "gemini"
    max_requests = 100_000
    # Inline requests are capped at 20 MB in total; larger batches need the File API.
    max_bytes = 19 * 1024 * 1024

    async def submit(self, send: Send, target: Target, headers: list[tuple[str, str]],
                     lines: Sequence[tuple[str, bytes]], label: str) -> str:
        requests = b",".join(b'{"request":' + b + b',"metadata":{"key":' + json.dumps(c).encode() + b"}}"
                             for c, b in lines)
        body = (b'{"batch":{"displayName":' + json.dumps(label).encode()
                + b',"inputConfig":{"requests":{"requests":[' + requests + b"]}}}}")
        model = urllib.parse.quote(target.model, safe="")
        status, answer = await send("POST", f"{target.base_url}/models/{model}:batchGenerateContent",
                                    [*headers, _JSON_HEADER], body)
        return str(_checked(status, answer, "the batch creation", headers)["name"])

    async def poll(self, send: Send, target: Target, headers: list[tuple[str, str]], batch_id: str) -> Poll:
        operation = await _json_call(send, "GET", f"{target.base_url}/{batch_id}", headers, None, "a batch poll")
        state = str((operation.get("metadata") or {}).get("state") or "")
        if not operation.get("done"):
            return Poll(False, state or "running")
        if state != "BATCH_STATE_SUCCEEDED" or not isinstance(operation.get("response"), dict):
            error = operation.get("error") or {}
            reason = _redacted(str(error.get("message") or "no results"), headers)
            return Poll(True, state, failure=f"batch {state or 'ended'}: {reason}")
        inlined = operation["response"].get("inlinedResponses") or {}
        items = inlined.get("inlinedResponses") if isinstance(inlined, dict) else inlined
        outcomes = {}
        for item in items or []:
            key = str((item.get("metadata") or {}).get("key"))
            if isinstance(item.get("response"), dict):
                outcomes[key] = Outcome.answer(200, item["response"])
            else:
                error = item.get("error") or {}
                status = int(error.get("code") or 500)
                outcomes[key] = _answer_or_retry(status if 400 <= status < 600 else 500, {"error": error}, "the line")
        return Poll(True, state, outcomes=outcomes)

    async def find(self, send: Send, target: Target, headers: list[tuple[str, str]], sought: Sought) -> list[str]:
        listing = await _json_call(send, "GET", f"{target.base_url}/batches?pageSize=100", headers, None,
                                   "the batch listing")
        for operation in listing.get("operations") or []:
            if (operation.get("metadata") or {}).get("displayName") == sought.label:
                return [str(operation["name"])]
        return []


OPENAI_BATCHES = OpenAIBatches()
ANTHROPIC_BATCHES = AnthropicBatches()
GEMINI_BATCHES = GeminiBatches()


def target_of(method: str, url: str, body: bytes) -> Target | None:
    """The batch a request lm15 built belongs to; None for a request that is not a generation (sent online).

    Raises:
        UsageError: For a stream, or a generation request of an API without a batch API in sharedlm.
    """
    if method.upper() != "POST":
        return None
    path = urllib.parse.urlsplit(url).path
    if path.endswith(":streamGenerateContent"):
        raise UsageError("batch mode cannot stream: a batch answers whole calls. Turn streaming off (no "
                         "dspy.streamify / stream=True) or run without --batch")
    if path.endswith(":generateContent"):
        base, _, rest = url.partition("/models/")
        model = urllib.parse.unquote(rest.split(":generateContent", 1)[0])
        return Target(GEMINI_BATCHES, base, model)
    if path.endswith("/chat/completions"):
        api: BatchApi = OPENAI_BATCHES
        base = url[:url.rindex("/chat/completions")]
    elif path.endswith("/messages"):
        api = ANTHROPIC_BATCHES
        base = url[:url.rindex("/messages")]
    else:
        raise UsageError(f"batch mode has no batch API for {urllib.parse.urlsplit(url).path!r}: it batches OpenAI "
                         "Chat Completions, Anthropic Messages and Gemini generateContent calls. Run without --batch")
    try:
        data = json.loads(body)
    except ValueError:
        data = {}
    if isinstance(data, dict) and data.get("stream") is True:
        raise UsageError("batch mode cannot stream: a batch answers whole calls. Turn streaming off (no "
                         "dspy.streamify / stream=True) or run without --batch")
    named = data.get("model") if isinstance(data, dict) else None
    return Target(api, base, named if isinstance(named, str) else "")


__all__ = ["ANTHROPIC_BATCHES", "CLOCK_SKEW_S", "CREATE_WINDOW_S", "GEMINI_BATCHES", "OPENAI_BATCHES", "BatchApi",
           "BatchRequestRefused", "Outcome", "Poll", "Send", "Sought", "Target", "control_headers", "target_of"]
