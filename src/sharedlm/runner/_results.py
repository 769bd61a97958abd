"""The outcome of one input row: :class:`RowResult`, its :class:`RowError` and :class:`TokenUsage`.

These are the records the bulk runner yields and writes, one JSON line per input row::

    {"id": 7, "output": {...} | null, "error": null | {"type": ..., "message": ...},
     "attempts": 1, "latency_s": 0.412, "usage": {"prompt_tokens": 310, "completion_tokens": 42},
     "cost_usd": 0.0000717}

``cost_usd`` is what the row's LM calls cost at the models' prices (over all attempts), or null when a model it
used has no known price.

The prediction's fields are nested under ``"output"`` so they never clash with the bookkeeping keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RowId = str | int



def id_key(row_id: RowId) -> str:
    """The key rows are matched by, for duplicates and resume: ``7`` and ``"7"`` are the same row."""
    return row_id if isinstance(row_id, str) else str(row_id)


# Bookkeeping keys of one output line, in the order they are written.
OUTPUT_KEYS = ("id", "output", "error", "attempts", "latency_s", "usage", "cost_usd")


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Tokens the provider reported for one row, summed over its LM calls and attempts.

    Args:
        prompt_tokens: Input tokens.
        completion_tokens: Output tokens.
    """

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(prompt_tokens=self.prompt_tokens + other.prompt_tokens,
                          completion_tokens=self.completion_tokens + other.completion_tokens)

    def as_json_dict(self) -> dict[str, int]:
        """The usage as the ``"usage"`` object of an output line."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any] | None) -> TokenUsage:
        """Read the ``"usage"`` object of an output line; missing counts are 0."""
        if not data:
            return cls()
        return cls(prompt_tokens=int(data.get("prompt_tokens") or 0),
                   completion_tokens=int(data.get("completion_tokens") or 0))


@dataclass(frozen=True, slots=True)
class RowError:
    """Why one row failed.

    Args:
        type: The exception class name, or a runner-specific kind such as ``"MalformedRow"``.
        message: What went wrong, naming the row's location when the input itself is at fault.
    """

    type: str
    message: str

    def as_json_dict(self) -> dict[str, str]:
        """The error as the ``"error"`` object of an output line."""
        return {"type": self.type, "message": self.message}


@dataclass(frozen=True, slots=True)
class RowResult:
    """The outcome of one input row.

    Args:
        id: The row's id: its id field, or its 1-based line (or row) number when it has none.
        output: The prediction's fields as JSON-ready data, or None when the row failed.
        error: None on success, else why the row failed.
        attempts: How many times the program was called for this row (0 when the row never ran).
        latency_s: Seconds from the first attempt's start to the last attempt's end.
        usage: Tokens spent on this row, over all attempts.
        cost_usd: USD this row's LM calls cost, over all attempts; None when a model it used has no known price.
    """

    id: RowId
    output: dict[str, Any] | None
    error: RowError | None
    attempts: int
    latency_s: float
    usage: TokenUsage = field(default_factory=TokenUsage)
    cost_usd: float | None = 0.0

    @property
    def ok(self) -> bool:
        """True when the row succeeded."""
        return self.error is None

    def as_json_dict(self) -> dict[str, Any]:
        """The result as one output line's object (keys in :data:`OUTPUT_KEYS` order)."""
        return {
            "id": self.id,
            "output": self.output,
            "error": None if self.error is None else self.error.as_json_dict(),
            "attempts": self.attempts,
            "latency_s": round(self.latency_s, 6),
            "usage": self.usage.as_json_dict(),
            "cost_usd": None if self.cost_usd is None else round(self.cost_usd, 12),
        }

    @classmethod
    def from_json_dict(cls, data: Mapping[str, Any]) -> RowResult:
        """Rebuild a result from one output line's object, for example to read a finished run back.

        Args:
            data: One parsed output line.
        """
        error = data.get("error")
        return cls(
            id=data["id"],
            output=data.get("output"),
            error=None if not error else RowError(type=str(error.get("type", "")),
                                                  message=str(error.get("message", ""))),
            attempts=int(data.get("attempts") or 0),
            latency_s=float(data.get("latency_s") or 0.0),
            usage=TokenUsage.from_json_dict(data.get("usage")),
            cost_usd=_cost(data.get("cost_usd", 0.0)),
        )


def _cost(value: Any) -> float | None:
    """An output line's ``cost_usd``: a number, or None when it was unknown (null) or is unreadable."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


__all__ = ["OUTPUT_KEYS", "RowError", "RowId", "RowResult", "TokenUsage", "id_key"]
