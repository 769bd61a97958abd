"""Turning what a program returns, and what it raises, into JSON-ready output.

- A ``dspy.Prediction`` (or any ``dspy.Example``) becomes a dict of its fields; a dict stays a dict; a
  pydantic model or dataclass becomes its fields; anything else is wrapped as ``{"result": value}``.
- Values are made JSON-ready recursively (pydantic models dumped, sets and tuples listed, dates in ISO
  form); what JSON cannot hold becomes its ``str``, so writing a row never fails because of its output.
- An exception becomes a :class:`RowError`; when DSPy wraps a sharedlm error, the sharedlm cause is named.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import math
from collections.abc import Mapping
from typing import Any

from sharedlm._errors import sharedlm_cause
from sharedlm.runner._results import RowError, TokenUsage

# Long adapter-parse messages repeat the whole LM answer; the head is what a reader needs.
MAX_ERROR_MESSAGE_CHARS = 2000
_MAX_DEPTH = 32


def output_dict(value: Any) -> dict[str, Any]:
    """The ``"output"`` object for what a program returned.

    Args:
        value: The program's return value.
    """
    fields: Any
    if value is None:
        return {}
    if hasattr(value, "toDict") and callable(value.toDict):
        fields = value.toDict()
    elif isinstance(value, Mapping):
        fields = dict(value)
    elif hasattr(value, "model_dump") and callable(value.model_dump):
        fields = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    else:
        return {"result": json_ready(value)}
    if not isinstance(fields, Mapping):
        return {"result": json_ready(fields)}
    return {str(key): json_ready(item) for key, item in fields.items()}


def json_ready(value: Any, _depth: int = 0) -> Any:
    """``value`` as data ``json.dumps`` writes as standard JSON (never raises).

    Args:
        value: Any value from a program's output.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _depth > _MAX_DEPTH:
        return str(value)
    depth = _depth + 1
    if isinstance(value, Mapping):
        return {str(k): json_ready(v, depth) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_ready(v, depth) for v in value]
    if isinstance(value, enum.Enum):
        return json_ready(value.value, depth)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    try:
        if hasattr(value, "model_dump") and callable(value.model_dump):
            return json_ready(value.model_dump(mode="json"), depth)
        if hasattr(value, "toDict") and callable(value.toDict):
            return json_ready(value.toDict(), depth)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            return json_ready({f.name: getattr(value, f.name) for f in dataclasses.fields(value)}, depth)
    except Exception:
        return str(value)
    return str(value)


def row_error(exc: BaseException) -> RowError:
    """The :class:`RowError` for an exception a row's program raised.

    Args:
        exc: The exception.
    """
    message = _text(exc) or type(exc).__name__
    cause = sharedlm_cause(exc)
    if cause is not None and cause is not exc:
        cause_text = _text(cause)
        if cause_text and cause_text not in message:
            message = f"{message} (caused by {type(cause).__name__}: {cause_text})"
    if len(message) > MAX_ERROR_MESSAGE_CHARS:
        message = message[:MAX_ERROR_MESSAGE_CHARS] + f"... [{len(message) - MAX_ERROR_MESSAGE_CHARS} more characters]"
    return RowError(type=type(exc).__name__, message=message)


def _text(exc: BaseException) -> str:
    # An exception whose __str__ fails still has to become a row's error line.
    try:
        return str(exc) or repr(exc)
    except Exception:
        return f"<{type(exc).__name__} whose message cannot be shown>"


def usage_from_tracker(usage_by_lm: Mapping[str, list[Mapping[str, Any]]]) -> TokenUsage:
    """Prompt and completion tokens summed over the entries of a DSPy ``UsageTracker``.

    Args:
        usage_by_lm: ``UsageTracker.usage_data``: model name to a list of usage entries.
    """
    prompt = completion = 0
    for entries in usage_by_lm.values():
        for entry in entries:
            prompt += _count(entry.get("prompt_tokens"))
            completion += _count(entry.get("completion_tokens"))
    return TokenUsage(prompt_tokens=prompt, completion_tokens=completion)


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


__all__ = ["MAX_ERROR_MESSAGE_CHARS", "json_ready", "output_dict", "row_error", "usage_from_tracker"]
