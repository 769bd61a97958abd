"""The batch transport: lm15's transport interface, answering each generation request from a provider batch.

lm15 (DSPy's provider layer) builds every provider's request and hands it to ``transport.stream(request)``.
:class:`BatchTransport` takes that request's body as one line of a batch instead of sending it, waits for the
batch, and hands lm15 the line's answer as the ``(status, body)`` the online endpoint would have given, so lm15
reads every provider's format unchanged and a DSPy program's Python between calls runs as usual: a two-step
program becomes two rounds of batches.

The transport owns the batches' life: queues per target (:mod:`sharedlm._batch._queue`), the journal written
before each submission (:mod:`sharedlm._batch._journal`), polling with backoff, and the retries: a line that fails
or expires, and every line of a batch that fails whole, go into the next batch, up to ``max_line_attempts``
batches per call. Each call's answer is applied once; answers for lines nobody waits for are ignored. Batch
management requests (uploads, creations, polls, downloads) go over the ``online`` transport underneath.

A run that finds a journal reattaches: a new call whose body matches a journaled line of a submitted batch waits
for that line's answer instead of being submitted again, so a run killed after submitting never pays twice. A
journaled batch without an id (the run stopped while submitting it), and a creation whose answer was lost, are
looked for at the provider before their lines go again (:meth:`BatchTransport._find`): by label, or, for
Anthropic, among same-sized recent batches, taken only once their results carry the batch's custom_ids.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import hashlib
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

from sharedlm._batch._apis import (
    ANTHROPIC_BATCHES,
    GEMINI_BATCHES,
    OPENAI_BATCHES,
    BatchApi,
    BatchRequestRefused,
    Outcome,
    Poll,
    Sought,
    Target,
    control_headers,
    target_of,
)
from sharedlm._batch._journal import ENDED, SUBMITTED, Journal, JournalBatch, JournalLine
from sharedlm._batch._options import BatchOptions
from sharedlm._batch._progress import BatchProgress
from sharedlm._batch._queue import BatchQueue, WaitingCall
from sharedlm._errors import ProviderUnavailableError, RetriesExhaustedError, RetryableError
from sharedlm._http_rules import shown_url
from sharedlm._transport import CURRENT_ATTEMPT

logger = logging.getLogger("sharedlm")
T = TypeVar("T")
_APIS: dict[str, BatchApi] = {api.name: api for api in (OPENAI_BATCHES, ANTHROPIC_BATCHES, GEMINI_BATCHES)}
# Tries of one batch-management request (upload, create, poll) that meets a transient failure.
_CONTROL_TRIES = 6
# The shortest wait between two polls after the first (unless poll_max is shorter).
_MIN_BACKOFF_S = 0.5


@dataclass(slots=True)
class RowTag:
    """The row the calls of the running task belong to, and how many calls it has made (set by the runner)."""

    row: str
    calls: int = 0


CURRENT_ROW: contextvars.ContextVar[RowTag | None] = contextvars.ContextVar("sharedlm_batch_row", default=None)


@dataclass(slots=True)
class _ControlRequest:
    """A batch-management request, in the shape the online transport takes (lm15's TransportRequest's)."""

    method: str
    url: str
    headers: list[tuple[str, str]] = field(repr=False)
    body: bytes = field(default=b"", repr=False)
    connect_timeout: float | None = None
    read_timeout: float | None = None
    write_timeout: float | None = None


class BatchResponse:
    """One call's batch answer, as lm15 reads a response from an async transport."""

    __slots__ = ("_body", "headers", "http_version", "reason", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.reason = "OK" if status == 200 else "Batch line error"
        self.headers = [("content-type", "application/json")]
        self.http_version = "1.1"
        self._body = body

    def __repr__(self) -> str:
        return f"BatchResponse(status={self.status}, body={len(self._body)} bytes)"

    def header(self, name: str) -> str | None:
        return "application/json" if name.lower() == "content-type" else None

    def headers_all(self, name: str) -> list[str]:
        value = self.header(name)
        return [value] if value is not None else []

    async def read(self) -> bytes:
        return self._body

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[bytes]:
        yield self._body

    async def aclose(self) -> None:
        return None


@dataclass(eq=False)
class _Batch:
    """A batch of this run (submitted by it, or found in the journal) and the calls waiting on its lines."""

    record: JournalBatch
    target: Target
    calls: dict[str, WaitingCall] = field(default_factory=dict)
    poll: Poll | None = None
    task: asyncio.Task[None] | None = None


class _Exchange:
    """What ``BatchTransport.stream(request)`` returns: an async context manager yielding the answer."""

    __slots__ = ("_online", "_request", "_transport")

    def __init__(self, transport: BatchTransport, request: Any) -> None:
        self._transport = transport
        self._request = request
        self._online: Any = None

    async def __aenter__(self) -> Any:
        request = self._request
        body = request.body or b""
        target = target_of(request.method, request.url, body)
        if target is None:  # not a generation (a model listing, ...): the online transport answers it
            self._online = self._transport.online.stream(request)
            return await self._online.__aenter__()
        outcome = await self._transport.call(target, body, list(request.headers), url=request.url)
        record = CURRENT_ATTEMPT.get()
        if record is not None:
            record.status = outcome.status
            record.headers = []
        return BatchResponse(outcome.status, outcome.body)

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if self._online is not None:
            await self._online.__aexit__(exc_type, exc, tb)


class BatchTransport:
    """An lm15 async transport that answers generation requests from provider batches.

    Args:
        online: The transport batch-management requests (and non-generation requests) go over.
        options: Linger, limits, polling, retries and the journal's path.
    """

    def __init__(self, online: Any, options: BatchOptions | None = None) -> None:
        self.online = online
        self.options = options if options is not None else BatchOptions()
        self.progress = BatchProgress()
        self.journal = Journal(self.options.journal)
        self._queues: dict[tuple[str, str, str], BatchQueue] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._run = secrets.token_hex(3)
        self._serial = itertools.count(1)
        # digest -> journaled lines of submitted batches not yet claimed by a call of this run
        self._reattach: dict[str, deque[tuple[_Batch, str]]] = {}
        for record in self.journal.reattachable():
            api = _APIS.get(record.api)
            if api is None:
                continue
            batch = _Batch(record, Target(api, record.base_url, record.model))
            for custom_id, line in record.lines.items():
                self._reattach.setdefault(line.digest, deque()).append((batch, custom_id))

    def __repr__(self) -> str:
        return f"BatchTransport({self.progress!r}, queues={len(self._queues)})"

    def stream(self, request: Any) -> _Exchange:
        return _Exchange(self, request)

    # --- calls ------------------------------------------------------------------------------------------------

    async def call(self, target: Target, body: bytes, headers: list[tuple[str, str]], *, url: str = "") -> Outcome:
        """Wait for the batch answer to one call.

        Args:
            target: The batch it goes into.
            body: The request body lm15 built.
            headers: The request's headers (credentials for the batch-management requests).
            url: Where the request would have gone online (used by ``retry_online``).
        """
        loop = asyncio.get_running_loop()
        tag = CURRENT_ROW.get()
        number = None
        if tag is not None:
            number = tag.calls
            tag.calls += 1
        digest = hashlib.sha256(body).hexdigest()[:32]
        call = WaitingCall(body, digest, loop.create_future(), tag.row if tag else None, number,
                           url=url, headers=control_headers(headers))
        progress = self.progress
        progress.calls_waiting += 1
        progress.changed()
        try:
            if not self._claim(call, target):
                self._queue(target).add(call)
            return await call.future
        finally:
            progress.calls_waiting -= 1
            progress.changed()

    def _queue(self, target: Target) -> BatchQueue:
        queue = self._queues.get(target.key)
        if queue is None:
            queue = self._queues[target.key] = BatchQueue(target, self.options, self._launch)
        return queue

    def _claim(self, call: WaitingCall, target: Target) -> bool:
        """Attach ``call`` to a journaled line with the same body, if one is left; True when it was.

        The newest line goes first: when a line was retried in a later batch, that later line holds the answer.

        Args:
            call: The call.
            target: Where the call's own batch would go; its base URL replaces the journal's masked one (the
                journal keeps no credential, so one in the URL comes from the call that claims the line).
        """
        entries = self._reattach.get(call.digest)
        if not entries:
            return False
        batch, custom_id = entries.pop()
        if not entries:
            del self._reattach[call.digest]
        known = batch.target
        if known.base_url != target.base_url and known.base_url == shown_url(target.base_url):
            batch.target = Target(known.api, target.base_url, known.model)
        call.attempts = max(call.attempts, 1)
        batch.calls[custom_id] = call
        self.progress.lines_reattached += 1
        if batch.poll is not None:
            self._apply(batch, custom_id, call)
        elif batch.task is None:
            self.progress.batches_submitted += 1
            batch.task = self._spawn(self._recover(batch, call.headers) if batch.record.batch_id is None
                                     else self._watch(batch, call.headers))
        return True

    async def _recover(self, batch: _Batch, headers: list[tuple[str, str]]) -> None:
        """A journaled batch a run was submitting when it stopped: find it at the provider, or submit it again."""
        target, record = batch.target, batch.record
        try:
            found = await self._find(batch, headers)
        except Exception as exc:
            self._fail(batch, exc)
            return
        if isinstance(found, str):
            record.batch_id = found
            record.state = SUBMITTED
            self.journal.save()
            await self._watch(batch, headers)
            return
        if found is not None:  # an unlabelled candidate proved to be this batch, and has ended
            record.state = ENDED
            self.journal.save()
            self._ended(batch, found)
            return
        logger.warning("batch %s (%d lines for %s) was being submitted when an earlier run stopped and was not found "
                       "among the provider's recent %s batches: its lines are submitted again",
                       record.label, len(record.lines), target.model or shown_url(target.base_url), target.api.name)
        record.state = ENDED  # never created: its lines go into a new batch as their calls come
        self.journal.save()
        self._ended(batch, Poll(True, "never submitted", failure="the batch was never submitted"))

    async def _find(self, batch: _Batch, headers: list[tuple[str, str]]) -> str | Poll | None:
        """Find ``batch`` at the provider when its id was never learned: its id (found by label), the ended poll of
        the candidate whose results carry its custom_ids (APIs without labels), or None when it was never created.
        """
        target, record = batch.target, batch.record
        known = frozenset(b.batch_id for b in self.journal.batches.values() if b.batch_id)
        sought = Sought(record.label, frozenset(record.lines), record.submitting_at, known)
        try:
            candidates = await self._control(lambda: target.api.find(self._send, target, headers, sought))
        except BatchRequestRefused as exc:
            # Without the listing the batch cannot be looked for: this is the one case that may pay twice.
            logger.warning("cannot look for batch %s at the provider (%s); its %d lines are submitted again, and if "
                           "the provider did create it (its answer lost, or a run stopped before writing its id) they "
                           "are paid twice", record.label, exc, len(record.lines))
            return None
        if not candidates:
            return None
        if target.api.labelled:
            return candidates[0]
        return await self._confirm(batch, candidates, headers)

    async def _confirm(self, batch: _Batch, candidates: list[str], headers: list[tuple[str, str]]) -> Poll | None:
        """Watch unlabelled candidates until one ends with results for ``batch``'s custom_ids (it is the batch: its
        id is recorded and its poll returned) or every one has ended without them (None: never created).

        A candidate that is another client's batch is only polled, never applied: its custom_ids are not this run's.
        """
        target, record = batch.target, batch.record
        pending = list(candidates)
        delay = self.options.poll_initial
        while pending:
            for candidate in list(pending):
                poll = await self._control(functools.partial(target.api.poll, self._send, target, headers, candidate))
                if not poll.ended:
                    continue
                pending.remove(candidate)
                if poll.outcomes and any(custom_id in poll.outcomes for custom_id in record.lines):
                    record.batch_id = candidate
                    return poll
            if pending:
                await asyncio.sleep(delay)
                delay = self._backoff(delay)
        return None

    # --- batches ----------------------------------------------------------------------------------------------

    def _launch(self, target: Target, calls: list[WaitingCall]) -> None:
        label = f"slm{self._run}n{next(self._serial)}"
        # The journal is a file a user may share: a credential in the base URL (user:password@, ?key=) is masked.
        record = JournalBatch(label, target.api.name, shown_url(target.base_url), target.model,
                              submitting_at=time.time())
        batch = _Batch(record, target)
        for index, call in enumerate(calls):
            custom_id = f"{label}-{index}"
            call.attempts += 1
            record.lines[custom_id] = JournalLine(call.digest, call.row, call.call)
            batch.calls[custom_id] = call
        self.journal.record(record)  # written down before anything is sent
        batch.task = self._spawn(self._submit_and_watch(batch, calls[-1].headers))

    def _spawn(self, work: Awaitable[None]) -> asyncio.Task[None]:
        # A fresh context: batch-management requests must not write onto a caller's attempt record.
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(work,  # type: ignore[arg-type]
                                                                          context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _submit_and_watch(self, batch: _Batch, headers: list[tuple[str, str]]) -> None:
        record = batch.record
        lines = [(custom_id, call.body) for custom_id, call in batch.calls.items()]
        try:
            submitted = await self._submit(batch, headers, lines)
        except Exception as exc:
            self._fail(batch, exc)
            return
        if isinstance(submitted, str):
            record.batch_id = submitted
        record.state = SUBMITTED if isinstance(submitted, str) else ENDED
        self.journal.save()
        progress = self.progress
        progress.batches_submitted += 1
        progress.lines_submitted += len(lines)
        progress.changed()
        if isinstance(submitted, str):
            await self._watch(batch, headers)
        else:
            self._ended(batch, submitted)

    async def _submit(self, batch: _Batch, headers: list[tuple[str, str]],
                      lines: list[tuple[str, bytes]]) -> str | Poll:
        """Submit one batch: its id, or (an answer was lost, see below) the ended poll of the batch found instead.

        A transient failure may hide a batch the provider did create (the answer was lost), and submitting again
        would pay twice; so before each new try the batch is looked for (:meth:`_find`), by label or, for APIs
        without labels, among candidates confirmed by their results.
        """
        target = batch.target
        delay = max(self.options.poll_initial, 0.0)
        for attempt in range(1, _CONTROL_TRIES + 1):
            try:
                return await target.api.submit(self._send, target, headers, lines, batch.record.label)
            except (RetryableError, OSError):
                if attempt == _CONTROL_TRIES:
                    raise
            await asyncio.sleep(delay)
            delay = self._backoff(delay)
            found = await self._find(batch, headers)
            if found is not None:
                return found
        raise AssertionError("unreachable")

    async def _watch(self, batch: _Batch, headers: list[tuple[str, str]]) -> None:
        target, record = batch.target, batch.record
        assert record.batch_id is not None
        batch_id = record.batch_id
        delay = self.options.poll_initial
        try:
            while True:
                await asyncio.sleep(delay)
                poll = await self._control(lambda: target.api.poll(self._send, target, headers, batch_id))
                if poll.ended:
                    break
                delay = self._backoff(delay)
        except Exception as exc:
            self._fail(batch, exc)
            return
        record.state = ENDED
        self.journal.save()
        self._ended(batch, poll)

    def _ended(self, batch: _Batch, poll: Poll) -> None:
        batch.poll = poll
        progress = self.progress
        progress.batches_done += 1
        if poll.failure is not None:
            progress.batches_failed += 1
        for custom_id in list(batch.calls):
            self._apply(batch, custom_id, batch.calls[custom_id])
        if poll.outcomes:
            progress.results_ignored += sum(1 for c in poll.outcomes if c not in batch.calls and
                                            c not in batch.record.lines)
        progress.changed()

    def _apply(self, batch: _Batch, custom_id: str, call: WaitingCall) -> None:
        """Hand ``call`` its line's outcome, or queue it again for the next batch."""
        poll = batch.poll
        assert poll is not None
        if call.future.done():  # answered already, or its caller gave up: an answer is applied once
            self.progress.results_ignored += 1
            return
        if poll.failure is not None:
            self._again(batch.target, call, poll.failure)
            return
        outcome = (poll.outcomes or {}).get(custom_id) or Outcome.again("line missing from the batch results")
        if outcome.retry:
            self._again(batch.target, call, outcome.reason)
        else:
            call.future.set_result(outcome)

    def _again(self, target: Target, call: WaitingCall, reason: str) -> None:
        progress = self.progress
        if call.attempts >= self.options.max_line_attempts:
            progress.lines_failed += 1
            last = ProviderUnavailableError(f"batch line: {reason}", provider=target.api.name)
            call.future.set_exception(RetriesExhaustedError(
                f"gave up after {call.attempts} batches: {reason}. Raise max_line_attempts or run without --batch",
                last=last, attempts=call.attempts))
            return
        progress.lines_retried += 1
        if self._claim(call, target):  # an older journaled line with the same body may still hold an answer
            return
        if self.options.retry_online and call.url:
            progress.lines_sent_online += 1
            self._spawn(self._send_online(call))
        else:
            self._queue(target).add(call)

    async def _send_online(self, call: WaitingCall) -> None:
        """Answer ``call`` with one online request, whatever it answers (retry_online)."""
        try:
            status, body = await self._send("POST", call.url, [*call.headers, ("Content-Type", "application/json")],
                                            call.body)
        except Exception as exc:
            if not call.future.done():
                call.future.set_exception(exc)
            return
        if not call.future.done():
            call.future.set_result(Outcome.answer(status, body))

    def _fail(self, batch: _Batch, exc: Exception) -> None:
        for call in batch.calls.values():
            if not call.future.done():
                call.future.set_exception(exc)
        self.progress.changed()

    async def _control(self, request: Callable[[], Awaitable[T]]) -> T:
        """One batch-management step, tried again with backoff on transient failures."""
        delay = max(self.options.poll_initial, 0.0)
        for attempt in range(1, _CONTROL_TRIES + 1):
            try:
                return await request()
            except (RetryableError, OSError):
                if attempt == _CONTROL_TRIES:
                    raise
            await asyncio.sleep(delay)
            delay = self._backoff(delay)
        raise AssertionError("unreachable")

    def _backoff(self, delay: float) -> float:
        """The wait after ``delay``: doubled, at least half a second (a first poll at once must not become a busy
        loop), at most ``poll_max``."""
        return min(max(delay * 2, _MIN_BACKOFF_S), self.options.poll_max)

    async def _send(self, method: str, url: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
        async with self.online.stream(_ControlRequest(method, url, headers, body)) as response:
            return int(response.status), bytes(await response.read())

    # --- life -------------------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Submit every queue now, without waiting for its linger."""
        for queue in list(self._queues.values()):
            queue.flush()

    async def aclose(self) -> None:
        """Stop every timer and poller (a crash stand-in): submitted batches stay in the journal to reattach."""
        for queue in self._queues.values():
            queue.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


__all__ = ["CURRENT_ROW", "BatchResponse", "BatchTransport", "RowTag"]
