"""One queue of calls bound for the same batch target (API, base URL, model), and when it becomes a batch.

Calls wait in the queue until it holds the provider's limit of lines or bytes (the batch goes at once), or until
``linger`` seconds pass without a new call (what is queued goes then). A queue never makes a batch larger than
the provider allows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from sharedlm._batch._apis import Outcome, Target
from sharedlm._batch._options import BatchOptions


@dataclass(eq=False, slots=True)
class WaitingCall:
    """One call waiting for its batch answer: its request body and the future its caller awaits."""

    body: bytes = field(repr=False)
    digest: str
    future: asyncio.Future[Outcome]
    row: str | None = None
    call: int | None = None
    # Batches this call has been submitted in.
    attempts: int = 0
    # Where the call would have gone online (for retry_online); a Gemini URL may carry the key, so never shown.
    url: str = field(default="", repr=False)
    # The call's credentials, for the batch-management requests; never shown.
    headers: list[tuple[str, str]] = field(default_factory=list, repr=False)


class BatchQueue:
    """The calls queued for one target.

    Args:
        target: Where the batch goes.
        options: Linger and size limits.
        launch: Submits a list of calls as one batch (the transport's business).
    """

    def __init__(self, target: Target, options: BatchOptions,
                 launch: Callable[[Target, list[WaitingCall]], None]) -> None:
        self.target = target
        api = target.api
        self.max_requests = min(options.max_requests or api.max_requests, api.max_requests)
        self.max_bytes = min(options.max_bytes or api.max_bytes, api.max_bytes)
        self.linger = options.linger
        self._launch = launch
        self.pending: list[WaitingCall] = []
        self._pending_bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    def __repr__(self) -> str:
        return (f"BatchQueue({self.target.api.name}, model={self.target.model!r}, pending={len(self.pending)}, "
                f"bytes={self._pending_bytes})")

    def add(self, call: WaitingCall) -> None:
        """Queue ``call``; submit at once if the batch is full, else (re)start the linger."""
        size = self.target.api.line_size("x" * 24, call.body)
        if self.pending and self._pending_bytes + size > self.max_bytes:
            self.flush()
        self.pending.append(call)
        self._pending_bytes += size
        if len(self.pending) >= self.max_requests or self._pending_bytes >= self.max_bytes:
            self.flush()
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(self.linger, self.flush)

    def flush(self) -> None:
        """Submit what is queued (calls whose caller gave up are dropped)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        calls = [c for c in self.pending if not c.future.done()]
        self.pending = []
        self._pending_bytes = 0
        if calls:
            self._launch(self.target, calls)

    def close(self) -> None:
        """Stop the linger timer; queued calls stay unsubmitted."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


__all__ = ["BatchQueue", "WaitingCall"]
