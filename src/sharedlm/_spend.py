"""The spend ledger: a hard cap in USD that no number of calls in flight can overshoot; and the spend journal.

A naive check of "spent so far" overshoots by everything in flight. Instead each call books its worst case
before it is sent (:func:`worst_case_cost`: a bound on its prompt tokens plus the most it may answer, at the
model's price) and is settled from the usage the provider reports once it returns, refunding the difference. A
booking is taken only while ``spent + booked + worst case <= cap``, under one lock, so the cap holds whatever the
concurrency and however many threads or event loops share the ledger.

A call whose worst case does not fit *now*, but would once the calls in flight settle, waits for them (their
refunds usually make room); a call whose worst case exceeds what is left even with nothing in flight raises
:class:`~sharedlm._errors.SpendCapReachedError` and is not sent. A call that fails is refunded whole (providers
do not bill refused or broken requests); a call that succeeds without reporting usage keeps its whole booking
as spent, so unknown usage never lets the ledger undercount.

:class:`SpendJournal` writes the same bookings and settlements to a file beside a run's output, one line each,
so that what an output has cost survives its runs: a resumed run counts what earlier runs paid for, including
calls whose rows were never written (a killed or interrupted run) and failed rows a resume drops.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dspy import lm15

from sharedlm._errors import SpendCapReachedError, UsageError
from sharedlm._flow._estimate import DEFAULT_OUTPUT_TOKENS, MEDIA_PART_TOKENS
from sharedlm._pricing import ModelPrice

# Float sums of many small prices drift by ulps; a booking within this of the cap fits.
_TOLERANCE_USD = 1e-12

# Tokens a provider adds around the text of a request, which the text's bytes do not cover: the reply's priming
# and a system prompt's frame (OpenAI counts 3 for the priming), each message's role marker and separators (3 to 4
# per message at OpenAI), the separators between a message's parts, and the rendering of each tool definition
# around its name, description and schema. Chosen well above what providers document, so the sum stays a bound.
REQUEST_FRAME_TOKENS = 16
MESSAGE_FRAME_TOKENS = 8
PART_FRAME_TOKENS = 4
TOOL_FRAME_TOKENS = 32

_MEDIA_TYPES = (lm15.ImagePart, lm15.AudioPart, lm15.VideoPart, lm15.DocumentPart, lm15.BinaryPart)


def _utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _json_len(value: Any) -> int:
    # ensure_ascii=False with the default ", " and ": " separators: at least as long as any rendering a provider
    # is likely to feed its tokenizer (compact JSON, or the same text); the escapes of ensure_ascii would only add.
    return _utf8_len(json.dumps(value, ensure_ascii=False, default=str))


def prompt_tokens_bound(request: lm15.Request) -> int:
    """At least as many tokens as ``request``'s prompt can be billed: the UTF-8 bytes of its text plus framing.

    Why bytes bound tokens: byte-level BPE tokenizers (OpenAI's ``cl100k``/``o200k``, Anthropic's, Llama 3's) map
    every token to one or more bytes of the UTF-8 text, so a text never has more tokens than bytes; SentencePiece
    tokenizers (Gemini's) map every token to at least one character, or to one byte through byte fallback, which is
    no more either. The ``characters / 4`` estimate of :func:`~sharedlm._flow.estimate_tokens` is right for English
    and wrong by 3x to 4x for Chinese, Japanese or Korean (about one token per character, three bytes each) and for
    emoji, so a cap booked from it could be overshot; the bytes cannot be. What the provider adds around the text
    (role markers, separators, the tool definitions' rendering) is bounded by the ``*_FRAME_TOKENS`` allowances.

    Images, audio, video and documents are the exception: what they cost in tokens depends on the provider's rules
    for each (tiles, seconds, pages), not on anything the request's bytes bound, so each is booked at
    :data:`~sharedlm._flow._estimate.MEDIA_PART_TOKENS`, an estimate.

    Args:
        request: The request about to be sent.
    """
    size = 0
    frames = REQUEST_FRAME_TOKENS
    media = 0
    system = request.system
    if isinstance(system, str):
        size += _utf8_len(system)
    elif system:
        part_size, part_media, part_count = _parts_size(system)
        size += part_size
        media += part_media
        frames += part_count * PART_FRAME_TOKENS
    for message in request.messages:
        part_size, part_media, part_count = _parts_size(message.parts)
        size += part_size
        media += part_media
        frames += MESSAGE_FRAME_TOKENS + part_count * PART_FRAME_TOKENS
    for tool in request.tools:
        frames += TOOL_FRAME_TOKENS
        size += _utf8_len(tool.name)
        if isinstance(tool, lm15.FunctionTool):
            size += _utf8_len(tool.description or "") + _json_len(tool.parameters)
    if request.config.response_format is not None:  # a structured output's schema is sent as prompt tokens
        size += _json_len(request.config.response_format)
    return size + frames + media * MEDIA_PART_TOKENS


def _parts_size(parts: Iterable[Any]) -> tuple[int, int, int]:
    """The UTF-8 bytes of ``parts``' text, how many are media, and how many parts there are (nested included)."""
    size = media = count = 0
    for part in parts:
        count += 1
        text = getattr(part, "text", None)
        if isinstance(text, str):
            size += _utf8_len(text)
        elif isinstance(part, _MEDIA_TYPES):
            media += 1
        elif isinstance(part, lm15.ToolResultPart):
            inner_size, inner_media, inner_count = _parts_size(part.content)
            size += inner_size + _utf8_len(part.name or "")
            media += inner_media
            count += inner_count
        elif isinstance(part, lm15.ToolCallPart):
            size += _utf8_len(part.name) + _json_len(part.input)
        elif isinstance(part, lm15.DataPart):
            size += _json_len(part.value)
    return size, media, count


def answer_tokens_booked(request: lm15.Request, price: ModelPrice) -> int:
    """The most tokens ``request`` may be answered with: its ``max_tokens``, else the model's largest answer.

    Without ``max_tokens`` a provider may answer up to the model's ``max_output_tokens`` (16,384 for
    ``gpt-4o-mini`` in the metadata), so that is booked; :data:`~sharedlm._flow._estimate.DEFAULT_OUTPUT_TOKENS`
    when the metadata does not say (an estimate, not a bound: :func:`answer_is_bounded` tells which). Setting
    ``max_tokens`` makes each booking, and so the wait near the cap, smaller.

    Args:
        request: The request about to be sent.
        price: The model's price (its ``max_output_tokens``).
    """
    max_tokens = request.config.max_tokens
    if max_tokens is not None:
        return max_tokens
    return price.max_output_tokens or DEFAULT_OUTPUT_TOKENS


def answer_is_bounded(request: lm15.Request, price: ModelPrice) -> bool:
    """Whether the provider cannot answer ``request`` with more than :func:`answer_tokens_booked` tokens."""
    return request.config.max_tokens is not None or price.max_output_tokens is not None


def worst_case_cost(request: lm15.Request, price: ModelPrice, *, batch: bool = False) -> float:
    """USD to book for ``request``: a bound on its prompt tokens at the prompt price plus its largest answer.

    The prompt is priced at the full prompt rate (cached prompt tokens are cheaper) and bounded by
    :func:`prompt_tokens_bound`, not by the pacer's ``characters / 4`` estimate, which undercounts CJK text.

    Args:
        request: The request about to be sent.
        price: The model's price.
        batch: The call can only be answered from a provider batch, billed at the batch rates (the ordinary rates
            where the price has none).
    """
    return price.cost(prompt_tokens_bound(request), answer_tokens_booked(request, price), batch=batch)


@dataclass(eq=False)
class SpendBooking:
    """One call's worst case, held from before it is sent until it settles.

    Args:
        amount: USD booked.
    """

    amount: float
    open: bool = True


class SpendLedger:
    """A hard spend cap shared by every call, thread and event loop that books against it.

    Args:
        cap_usd: The cap in USD (> 0).
        spent_before: USD already spent toward this cap (an earlier run that is being resumed).
    """

    def __init__(self, cap_usd: float, *, spent_before: float = 0.0) -> None:
        if isinstance(cap_usd, bool) or not isinstance(cap_usd, int | float) or not math.isfinite(cap_usd) \
                or cap_usd <= 0:
            raise UsageError(f"max_cost must be a number of USD > 0, got {cap_usd!r}")
        if not math.isfinite(spent_before) or spent_before < 0:
            raise UsageError(f"spent_before must be a number of USD >= 0, got {spent_before!r}")
        self.cap = float(cap_usd)
        self.spent_before = float(spent_before)
        self._lock = threading.Lock()
        self._spent = float(spent_before)
        self._booked = 0.0
        self._open = 0
        self._refused = 0
        self._largest = 0.0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def __repr__(self) -> str:
        return (f"SpendLedger(cap=${self.cap:.6g}, spent=${self.spent:.6g}, booked=${self.booked:.6g}, "
                f"open_bookings={self._open}, refused={self._refused})")

    @property
    def spent(self) -> float:
        """USD spent (settled calls, plus ``spent_before``)."""
        return self._spent

    @property
    def booked(self) -> float:
        """USD held by calls in flight (their worst cases)."""
        return self._booked

    @property
    def refused(self) -> int:
        """Calls refused because their worst case did not fit."""
        return self._refused

    @property
    def largest_booking(self) -> float:
        """The largest worst case any call has asked to book: the room the last call of a row may need."""
        return self._largest

    @property
    def remaining(self) -> float:
        """USD neither spent nor booked."""
        with self._lock:
            return max(self.cap - self._spent - self._booked, 0.0)

    def fits(self, amount: float) -> bool:
        """Whether a booking of ``amount`` would be taken now without waiting."""
        with self._lock:
            return self._spent + self._booked + amount <= self.cap + _TOLERANCE_USD

    def try_book(self, amount: float) -> SpendBooking | None:
        """Book ``amount`` if it fits now; None if it does not (nothing is booked or counted as refused)."""
        with self._lock:
            self._largest = max(self._largest, amount)
            if self._spent + self._booked + amount > self.cap + _TOLERANCE_USD:
                return None
            return self._take(amount)

    async def book(self, amount: float) -> SpendBooking:
        """Book ``amount``, waiting for calls in flight to settle while it could still fit after them.

        Args:
            amount: The call's worst-case cost in USD.

        Raises:
            SpendCapReachedError: When ``amount`` does not fit what is left even with nothing in flight.
        """
        while True:
            with self._lock:
                self._largest = max(self._largest, amount)
                if self._spent + amount > self.cap + _TOLERANCE_USD:
                    self._refused += 1
                    raise SpendCapReachedError(
                        f"spend cap ${self.cap:.6g} reached: ${self._spent:.6g} spent, and the next call may cost up "
                        f"to ${amount:.6g} (its prompt estimate plus max_tokens at the model's price), more than the "
                        f"${max(self.cap - self._spent, 0.0):.6g} left. Raise the cap (--max-cost / max_cost=), or set "
                        "max_tokens to book less per call",
                        cap_usd=self.cap, spent_usd=self._spent, needed_usd=amount)
                if self._spent + self._booked + amount <= self.cap + _TOLERANCE_USD:
                    return self._take(amount)
                loop = asyncio.get_running_loop()
                waiter: asyncio.Future[None] = loop.create_future()
                self._waiters.append((loop, waiter))
            try:
                await waiter
            finally:
                with self._lock:
                    if (loop, waiter) in self._waiters:
                        self._waiters.remove((loop, waiter))

    def settle(self, booking: SpendBooking, cost: float | None) -> None:
        """Close ``booking`` with what the call really cost; refund the rest of its worst case.

        Args:
            booking: The call's booking.
            cost: USD from the usage the provider reported, or None when it reported none (the whole booking
                then counts as spent: unknown is never counted as free).
        """
        spent = booking.amount if cost is None or not math.isfinite(cost) else max(cost, 0.0)
        self._close(booking, spent)

    def release(self, booking: SpendBooking) -> None:
        """Close ``booking`` of a call that failed: nothing is counted as spent."""
        self._close(booking, 0.0)

    def _take(self, amount: float) -> SpendBooking:
        self._booked += amount
        self._open += 1
        return SpendBooking(amount)

    def _close(self, booking: SpendBooking, spent: float) -> None:
        with self._lock:
            if not booking.open:
                return
            booking.open = False
            self._open -= 1
            self._booked = max(self._booked - booking.amount, 0.0) if self._open else 0.0
            self._spent += spent
            waiters, self._waiters = self._waiters, []
        for loop, waiter in waiters:
            # Every waiter checks again: a refund may make room for several, a spend may refuse them.
            with contextlib.suppress(RuntimeError):  # a waiter's loop that has closed has nobody to wake
                loop.call_soon_threadsafe(_wake, waiter)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


# The spend journal holds one JSON object per line, each written whole by a single ``os.write`` on an O_APPEND
# descriptor, so lines of threads and event loops never interleave and a crash tears at most the last one:
#   {"run": "2025-01-02T03:04:05Z", "pid": 123}                 a run starts: booking numbers start over
#   {"run": ..., "pid": ..., "rows_at": 1234}                    a run whose calls this process does not see (Ray
#                                                                workers): its rows are the output's lines from byte
#                                                                1234 on, until a "carried" line gives their cost
#   {"book": 7, "usd": 0.00123, "model": "openai/gpt-4o-mini"}   call 7 booked its worst case (null: no price)
#   {"book": 8, "usd": ..., "model": ..., "batch": "9f2c..."}    call 8 waits on a provider batch; the key names
#                                                                its request (see read_spend_journal)
#   {"settle": 7, "usd": 0.0004}                                 call 7 cost this (null: no price)
#   {"release": 7}                                               call 7 failed before anything was billed
#   {"carried": 0.0123, "unknown": 2}                            spend known from an output's lines instead: an
#                                                                older output's, or a "rows_at" run's rows
# No fsync: a line reaches the page cache in one system call (a few microseconds), which survives a killed
# process, the case the journal is for; a power cut may lose the last lines, as it may lose the output's.


def _usd_json(value: float | None) -> str:
    return "null" if value is None or not math.isfinite(value) else repr(float(value))


class SpendJournal:
    """Every call's booking and settlement, appended to a file beside a run's output as they happen.

    Each call's worst case is written before the call is sent, and its settlement (what it cost, or a release
    when it failed with nothing billed) after. So whatever ends a run, even ``kill -9``, the file tells what the
    output has cost: :func:`read_spend_journal` counts settled calls at their cost and calls never settled (in
    flight when the run died: the provider may have billed them) at their worst case.

    Args:
        path: The journal file.
        fresh: Start the file over (a new output, ``--overwrite``); otherwise append to it (``--resume``).
        carried: Spend to record first, from an output's lines: ``(usd, lines whose cost is unknown)``; see
            :meth:`carry`.
        rows_at: For a run whose calls this process does not see (Ray): the output's size when it starts, so that
            a reader can price its rows from the output if the run dies before :meth:`carry` records them.
    """

    def __init__(self, path: Path, *, fresh: bool, carried: tuple[float | None, int] | None = None,
                 rows_at: int | None = None) -> None:
        self.path = path
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | getattr(os, "O_CLOEXEC", 0) | (os.O_TRUNC if fresh else 0)
        self._fd = os.open(path, flags, 0o644)
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._models: dict[str, str] = {}
        self.booked = 0
        self.open_bookings = 0
        self.settled_usd = 0.0
        self.unknown = 0
        size = os.fstat(self._fd).st_size
        # A torn last line (an earlier run killed mid-write) must not swallow the first line of this run.
        lead = "\n" if size and os.pread(self._fd, 1, size - 1) != b"\n" else ""
        header: dict[str, Any] = {"run": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "pid": os.getpid()}
        if rows_at is not None:
            header["rows_at"] = rows_at
        opening = lead
        if carried is not None and (carried[0] or carried[1]):
            opening += self._carried_line(*carried)
        self._write(opening + json.dumps(header) + "\n")

    def __repr__(self) -> str:
        return (f"SpendJournal(path={str(self.path)!r}, booked={self.booked}, open={self.open_bookings}, "
                f"settled_usd={self.settled_usd:.6g}, unknown={self.unknown}, closed={self._fd < 0})")

    @staticmethod
    def _carried_line(usd: float | None, unknown: int) -> str:
        return f'{{"carried": {_usd_json(usd or 0.0)}, "unknown": {int(unknown) + (usd is None)}}}\n'

    def _write(self, line: str) -> None:
        data = line.encode()
        with self._lock:  # also keeps a write from reaching a descriptor closed (and reused) under it
            self._write_locked(data)

    def _write_locked(self, data: bytes) -> None:
        if self._fd < 0:
            return
        written = os.write(self._fd, data)
        while written < len(data):  # only on a full disk; the rest still follows the part written
            written += os.write(self._fd, data[written:])

    def book(self, model: str, worst_usd: float | None, *, batch_key: str | None = None) -> int:
        """Record a call's worst case before it is sent; returns the number its settlement names.

        Args:
            model: The call's model.
            worst_usd: Its worst case, or None when the model has no price.
            batch_key: For a call answered from a provider batch, a key of its request (hex digits): a later run
                that books the same request in batch mode takes over its line (see :func:`read_spend_journal`).

        Raises:
            OSError: When the line cannot be written: the call must not be sent unrecorded.
        """
        number = next(self._numbers)
        name = self._models.get(model)
        if name is None:
            name = self._models[model] = json.dumps(model)
        batch = f', "batch": "{batch_key}"' if batch_key is not None else ""
        data = f'{{"book": {number}, "usd": {_usd_json(worst_usd)}, "model": {name}{batch}}}\n'.encode()
        with self._lock:
            self._write_locked(data)
            self.booked += 1
            self.open_bookings += 1
        return number

    def settle(self, number: int, usd: float | None) -> None:
        """Record what call ``number`` cost (None: unknown, for a model without a price)."""
        self._close(f'{{"settle": {number}, "usd": {_usd_json(usd)}}}\n'.encode(), usd)

    def release(self, number: int) -> None:
        """Record that call ``number`` failed before anything was billed."""
        self._close(f'{{"release": {number}}}\n'.encode(), 0.0)

    def _close(self, data: bytes, usd: float | None) -> None:
        with self._lock:
            # The call has happened: a line that cannot be written leaves its booking open, read as its worst case.
            with contextlib.suppress(OSError):
                self._write_locked(data)
            self.open_bookings -= 1
            if usd is None:
                self.unknown += 1
            else:
                self.settled_usd += usd

    def carry(self, usd: float | None, unknown: int = 0) -> None:
        """Record spend known from an output's lines rather than from calls (a Ray run's rows, at its end).

        Args:
            usd: USD, or None when unknown.
            unknown: Lines whose cost is unknown besides.
        """
        self._write(self._carried_line(usd, unknown))

    def close(self) -> None:
        """Stop writing; a settlement that comes later (a call abandoned in a stray thread) is not recorded."""
        with self._lock:
            fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)


@dataclass(frozen=True)
class JournalSpend:
    """What a spend journal says an output has cost.

    Args:
        usd: Settled calls at their cost, calls never settled at their worst case, and carried spend.
        unknown: Calls (or carried lines) whose cost is unknown: a model without a price.
        unsettled: Bookings never settled: calls in flight when a run died, counted at their worst case.
        rows_at: The output's byte offset from which a run whose calls the journal could not see (Ray) wrote its
            rows, when that run died before recording their cost; None otherwise.
    """

    usd: float = 0.0
    unknown: int = 0
    unsettled: int = 0
    rows_at: int | None = None


@dataclass(eq=False)
class _BatchLine:
    """One provider batch line as a journal tells it: what it cost (its worst case until a call settles it)."""

    usd: float | None
    settled: bool = False
    # The call of the run being read that holds the line (created it or reattached to it), if any.
    holder: int | None = None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) \
        else None


def read_spend_journal(path: Path) -> JournalSpend:
    """Add up a spend journal (see :class:`SpendJournal`); a torn or foreign line is skipped.

    A call never settled (in flight when its run died) counts at its worst case: the provider may have billed it,
    and a resumed run sends it again, billed again. Calls answered from provider batches are counted per batch
    line instead: a later run's batch call of a request an earlier run's batch call booked reattaches to that
    call's journaled line (or, if it never went out, submits it for the first time), so the provider bills the
    line once. Each such line counts once: at what a call that settled it reported, else at its worst case.

    Args:
        path: The journal; a missing file spent nothing.
    """
    usd = 0.0
    unknown = unsettled = 0
    rows_at: int | None = None
    open_calls: dict[int, float | None] = {}  # the run's calls answered online, booked and not yet settled
    # Batch lines by request key: those of earlier runs (a call of this run may reattach to one) and this run's.
    lines: dict[str, list[_BatchLine]] = {}
    holding: dict[int, _BatchLine] = {}  # this run's batch calls not yet settled: the line each holds
    held: list[_BatchLine] = []  # every line a call of this run holds: none is free for another of its calls

    def end_run() -> None:
        nonlocal usd, unknown, unsettled
        for worst in open_calls.values():  # in flight when the run died: the provider may have billed it
            unsettled += 1
            if worst is None:
                unknown += 1
            else:
                usd += worst
        open_calls.clear()
        for line in held:
            line.holder = None
        held.clear()
        holding.clear()

    if not path.exists():
        return JournalSpend()
    with path.open("rb") as file:
        for raw in file:
            try:
                line = json.loads(raw)
            except ValueError:
                continue  # a line torn by a crash
            if not isinstance(line, dict):
                continue
            amount = _number(line.get("usd"))
            amount = None if amount is None else max(amount, 0.0)
            if "book" in line:
                key = line.get("batch")
                if not isinstance(key, str):
                    open_calls[line["book"]] = amount
                    continue
                same = lines.setdefault(key, [])
                free = next((batch_line for batch_line in same if batch_line.holder is None), None)
                if free is None:  # a new line; else this call reattaches to an earlier run's line
                    free = _BatchLine(amount)
                    same.append(free)
                free.holder = line["book"]
                holding[line["book"]] = free
                held.append(free)
            elif "settle" in line:
                settled = holding.pop(line["settle"], None)
                if settled is not None:
                    settled.usd, settled.settled = amount, True
                    continue
                open_calls.pop(line["settle"], None)
                if amount is None:
                    unknown += 1
                else:
                    usd += amount
            elif "release" in line:
                open_calls.pop(line["release"], None)
                released = holding.pop(line["release"], None)
                if released is not None and not released.settled:  # the line failed, billed nothing
                    released.usd, released.settled = 0.0, True
            elif "carried" in line:
                carried = _number(line["carried"])
                usd += max(carried or 0.0, 0.0)
                count = line.get("unknown")
                unknown += count if isinstance(count, int) and not isinstance(count, bool) and count > 0 else 0
                rows_at = None
            elif "run" in line:
                end_run()
                offset = line.get("rows_at")
                rows_at = offset if isinstance(offset, int) and not isinstance(offset, bool) and offset >= 0 \
                    else None
    end_run()
    for same in lines.values():
        for batch_line in same:
            unsettled += not batch_line.settled
            if batch_line.usd is None:
                unknown += 1
            else:
                usd += batch_line.usd
    return JournalSpend(usd=usd, unknown=unknown, unsettled=unsettled, rows_at=rows_at)


__all__ = [
    "JournalSpend",
    "SpendBooking",
    "SpendJournal",
    "SpendLedger",
    "answer_is_bounded",
    "answer_tokens_booked",
    "prompt_tokens_bound",
    "read_spend_journal",
    "worst_case_cost",
]
