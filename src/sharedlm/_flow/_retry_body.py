"""Reading a retry hint a provider put in the body (or message) of its error rather than in a header.

This module owns one question: given the text of a 429's body or error message, how long did the provider say to
wait? Providers that send no ``Retry-After`` often say it in words or in structured details:

- OpenAI and Groq: "Rate limit reached for ... on tokens per min (TPM): Limit 30000, Used 28039, Requested 3906.
  Please try again in 3.89s." (durations like ``1.898s``, ``20ms``, ``1m3.5s``).
- Gemini: ``RESOURCE_EXHAUSTED`` with "Please retry in 38.86s." in the message and a
  ``{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "26s"}`` entry in ``error.details``
  (https://ai.google.dev/gemini-api/docs/troubleshooting; protobuf's JSON form of a Duration is seconds with an
  ``s`` suffix). The structured delay wins over the words when both are there.

A hint that cannot be read is no hint: the caller falls back to backoff.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from sharedlm._flow._limit_headers import parse_duration

_RETRY_INFO = "google.rpc.RetryInfo"
# "try again in 1.898s", "retry in 38.86s", "retry after 2s": the duration is one token after the phrase.
_PHRASE = re.compile(r"(?:try\s+again|retry)\s+(?:in|after)\s+([0-9][0-9a-zµ.]*)", re.IGNORECASE)
_BARE_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
# Longest prefixes first: "ms" before "m", "min" before "m".
_UNIT_WORDS = (("ms", 1e-3), ("millisecond", 1e-3), ("sec", 1.0), ("s", 1.0), ("min", 60.0), ("h", 3600.0))
# A body longer than this is not an error envelope worth scanning.
_MAX_BODY = 64 * 1024


def parse_body_retry_hint(body: str | bytes | None, *, max_delay: float) -> float | None:
    """Seconds the provider's error body or message asked us to wait, or None when it gave no readable hint.

    Args:
        body: The error body (JSON or text) or the error's message; None or empty gives None.
        max_delay: The longest wait a hint may impose; longer hints are clamped to it.
    """
    if body is None:
        return None
    if isinstance(body, bytes | bytearray):
        if len(body) > _MAX_BODY:
            return None
        text = bytes(body).decode("utf-8", errors="replace")
    elif isinstance(body, str):
        text = body
    else:
        return None
    if not text or len(text) > _MAX_BODY:
        return None
    seconds = _structured(text)
    if seconds is None:
        seconds = _spoken(text)
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return None
    return min(seconds, max_delay)


def _structured(text: str) -> float | None:
    stripped = text.lstrip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        data = json.loads(stripped)
    except ValueError:
        return None
    for detail in _details(data):
        kind = detail.get("@type")
        if isinstance(kind, str) and kind.endswith(_RETRY_INFO):
            delay = detail.get("retryDelay")
            if isinstance(delay, str):
                seconds = parse_duration(delay)
                if seconds is not None:
                    return seconds
            elif isinstance(delay, dict):  # the proto3 object form {"seconds": 26, "nanos": 0}
                seconds = _proto_duration(delay)
                if seconds is not None:
                    return seconds
    message = _message(data)
    return _spoken(message) if message else None


def _details(data: Any) -> list[dict[str, Any]]:
    envelopes = data if isinstance(data, list) else [data]  # Gemini's streaming errors come as a one-item list
    found: list[dict[str, Any]] = []
    for envelope in envelopes:
        error = envelope.get("error") if isinstance(envelope, dict) else None
        details = error.get("details") if isinstance(error, dict) else None
        if isinstance(details, list):
            found.extend(d for d in details if isinstance(d, dict))
    return found


def _message(data: Any) -> str | None:
    envelope = data[0] if isinstance(data, list) and data else data
    error = envelope.get("error") if isinstance(envelope, dict) else None
    message = error.get("message") if isinstance(error, dict) else None
    return message if isinstance(message, str) else None


def _proto_duration(value: dict[str, Any]) -> float | None:
    seconds, nanos = value.get("seconds", 0), value.get("nanos", 0)
    try:
        total = float(seconds) + float(nanos) / 1e9
    except (TypeError, ValueError):
        return None
    return total if math.isfinite(total) and total >= 0 else None


def _spoken(text: str) -> float | None:
    for match in _PHRASE.finditer(text):
        token = match.group(1).rstrip(".").lower()
        if _BARE_NUMBER.fullmatch(token):
            # "in 3 seconds", "in 20 ms", "in 2 minutes": the unit is the next word
            word = text[match.end():match.end() + 16].lstrip().lower()
            unit = next((scale for prefix, scale in _UNIT_WORDS if word.startswith(prefix)), None)
            if unit is None:
                continue
            return float(token) * unit
        seconds = parse_duration(token)
        if seconds is not None:
            return seconds
    return None


__all__ = ["parse_body_retry_hint"]
