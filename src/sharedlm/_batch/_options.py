"""How batch mode groups, submits and polls calls: one small frozen value object, validated on construction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from sharedlm._errors import ConfigurationError

DEFAULT_LINGER_S = 10.0
DEFAULT_POLL_INITIAL_S = 5.0
DEFAULT_POLL_MAX_S = 60.0
DEFAULT_MAX_LINE_ATTEMPTS = 5


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"batch {name} must be a number of seconds >= 0, got {value!r}")


def _check_count(name: str, value: object) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ConfigurationError(f"batch {name} must be a whole number >= 1 (or None for the provider's limit), "
                                 f"got {value!r}")


@dataclass(frozen=True, kw_only=True)
class BatchOptions:
    """How calls are grouped into batches and how batches are watched.

    Args:
        linger: Seconds without a new call after which the calls queued so far are submitted as one batch.
        max_requests: Lines per batch; the provider's limit (and never more) when None.
        max_bytes: Bytes of lines per batch; the provider's limit (and never more) when None.
        poll_initial: Seconds before the first poll of a submitted batch; doubles after each poll.
        poll_max: The longest wait between two polls.
        max_line_attempts: Batches one call may go through (failed, expired lines and failed batches are retried
            in the next batch) before the call fails.
        retry_online: Send a call whose line failed or expired (or whose batch failed whole) online at once, at the
            online price, instead of in the next batch.
        journal: Where batch ids and each line's ``custom_id`` are saved before anything is submitted, so a run
            killed after submitting reattaches to its batches; None keeps them in memory only.
    """

    linger: float = DEFAULT_LINGER_S
    max_requests: int | None = None
    max_bytes: int | None = None
    poll_initial: float = DEFAULT_POLL_INITIAL_S
    poll_max: float = DEFAULT_POLL_MAX_S
    max_line_attempts: int = DEFAULT_MAX_LINE_ATTEMPTS
    retry_online: bool = False
    journal: Path | None = None

    def __post_init__(self) -> None:
        for name in ("linger", "poll_initial", "poll_max"):
            _check_seconds(name, getattr(self, name))
        _check_count("max_requests", self.max_requests)
        _check_count("max_bytes", self.max_bytes)
        _check_count("max_line_attempts", self.max_line_attempts)
        if self.journal is not None and not isinstance(self.journal, Path):
            object.__setattr__(self, "journal", Path(self.journal))


__all__ = ["BatchOptions"]
