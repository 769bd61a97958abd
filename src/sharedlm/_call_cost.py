"""The engine's side of cost: each successful call priced, totals for ``sharedlm.stats()``, and the spend cap.

:class:`CallCosting` belongs to one :class:`~sharedlm._engine.SharedEngine`. It prices every successful call
from the usage the provider reported (:func:`~sharedlm._pricing.response_cost`, so the figure equals plain
DSPy's), sums the cost for :func:`sharedlm.stats`, and, while a run attaches them (every shared engine of the
process, see :meth:`sharedlm.runner._cost.RunCost.attach`), books each call's worst case before it is sent and
settles it after: against a :class:`~sharedlm._spend.SpendLedger` (a run with ``--max-cost`` / ``max_cost=``)
and in a :class:`~sharedlm._spend.SpendJournal` (every ``sharedlm run``).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from dspy import lm15

from sharedlm._errors import UsageError
from sharedlm._pricing import ModelPrice, model_price, plain_cost, response_cost, response_cost_details
from sharedlm._spend import SpendBooking, SpendJournal, SpendLedger, answer_is_bounded, worst_case_cost


@dataclass(slots=True, eq=False)
class CallBooking:
    """One call's worst case, held from before it is sent until it settles: in a ledger, a journal, or both.

    Args:
        worst_usd: The call's worst case in USD, or None when its model has no price.
        ledger: The ledger it is booked against (a spend cap), or None.
        hold: Its booking in ``ledger``.
        journal: The journal it is recorded in, or None.
        number: Its number in ``journal``.
    """

    worst_usd: float | None
    ledger: SpendLedger | None = None
    hold: SpendBooking | None = None
    journal: SpendJournal | None = None
    number: int = 0
    # Set as the request goes out: from then on the provider may bill the call, whatever becomes of it here.
    sent: bool = False
    open: bool = True


class CallCosting:
    """Prices the calls of one engine and books them against a spend cap when one is attached.

    Args:
        model: The DSPy model string the engine serves.
        provider: The lm15 provider it routes to (``openai-chat``).
        wire_model: The model id sent on the wire (``gpt-4o-mini``).
    """

    def __init__(self, model: str, *, provider: str, wire_model: str) -> None:
        self.model = model
        self.provider = provider
        self.wire_model = wire_model
        self.price: ModelPrice | None = model_price(model)
        self.ledger: SpendLedger | None = None
        self.journal: SpendJournal | None = None
        self._lock = threading.Lock()
        # While the engine sends through a provider batch API, calls are priced at the batch rates.
        self.batch = False
        # And booked at the batch rates too, unless a call whose line fails may be sent online (retry_online).
        self.batch_only = False
        self.cost_usd = 0.0
        self.calls_priced = 0
        self.calls_unpriced = 0
        self._priced_models: dict[str, str] = {}

    def __repr__(self) -> str:
        return (f"CallCosting(model={self.model!r}, priced={self.price is not None}, cost_usd={self.cost_usd:.6g}, "
                f"calls_priced={self.calls_priced}, calls_unpriced={self.calls_unpriced}, ledger={self.ledger!r}, "
                f"journal={self.journal!r})")

    def set_price(self, price: ModelPrice | None) -> None:
        """Use ``price`` (a ``--price``) for this engine's calls; None goes back to the bundled price."""
        self.price = price if price is not None else model_price(self.model)

    def attach(self, ledger: SpendLedger | None, journal: SpendJournal | None = None) -> None:
        """Book every call against ``ledger`` (None: no cap) and record it in ``journal`` (None: none) from now on.

        A model without a price is attached too: under a cap each of its calls then fails before it is sent
        (:meth:`book`), so none runs unbooked.
        """
        self.ledger = ledger
        self.journal = journal

    @property
    def cost_known(self) -> bool:
        """Whether every successful call so far had a price."""
        return self.calls_unpriced == 0

    async def book(self, request: lm15.Request) -> CallBooking | None:
        """Book ``request``'s worst case against the cap and record it in the journal, whichever are attached.

        Under a cap it may wait for calls in flight to settle, and raises when the call cannot be booked; the
        call is then not sent.

        Raises:
            SpendCapReachedError: When the worst case does not fit what is left of the cap.
            UsageError: Under a cap, when the model has no price or nothing bounds the answer's length.
            OSError: When the journal cannot be written.
        """
        ledger, journal, price = self.ledger, self.journal, self.price
        if ledger is None and journal is None:
            return None
        if ledger is not None:
            if price is None:
                raise UsageError(
                    f"{self.model!r} has no price, so its calls cannot be booked against the spend cap (--max-cost, "
                    "max_cost=) and none is sent: DSPy's bundled model metadata has none. Supply one with --price "
                    f"{self.model}=prompt=USD,completion=USD (USD per million tokens; price={{{self.model!r}: "
                    "'prompt=USD,completion=USD'} in run_many), or run without a cap")
            if not answer_is_bounded(request, price):
                raise UsageError(
                    f"a call to {self.model!r} sets no max_tokens and DSPy's bundled model metadata does not say how "
                    "long its answers may be, so its worst case under the spend cap (--max-cost, max_cost=) is not "
                    "known and it is not sent: set max_tokens (per predictor, or sharedlm.configure(max_tokens=...))")
        worst = worst_case_cost(request, price, batch=self.batch and self.batch_only) if price is not None else None
        hold = await ledger.book(worst) if ledger is not None and worst is not None else None
        try:
            number = 0 if journal is None else journal.book(
                self.model, worst, batch_key=_request_key(request) if self.batch else None)
        except BaseException:
            if ledger is not None and hold is not None:
                ledger.release(hold)
            raise
        return CallBooking(worst, ledger, hold, journal, number)

    @staticmethod
    def sending(booking: CallBooking | None) -> None:
        """Note that ``booking``'s request goes out now: from here on the provider may bill it."""
        if booking is not None:
            booking.sent = True

    def succeeded(self, booking: CallBooking | None, response: lm15.Response,
                  request: lm15.Request | None) -> float | None:
        """Price a successful call, settle its booking, and return its cost (None when unknown)."""
        return self._record(booking, self.cost_of(response, request))

    def stream_finished(self, booking: CallBooking | None, usage: lm15.Usage | None) -> float | None:
        """Price a stream from the usage its end event reported, settle its booking, and return its cost.

        A stream that ended without usage (or was abandoned by its reader after the provider began to answer)
        costs an unknown amount: its whole worst case stays spent under a cap, never counted as free.

        Args:
            booking: The stream's booking, if a cap is attached.
            usage: The usage of the stream's end event, or None.
        """
        cost = None
        if self.price is not None and usage is not None and usage.input_tokens is not None \
                and usage.output_tokens is not None:
            cost = self.price.cost(usage.input_tokens, usage.output_tokens, cached_tokens=usage.cache_read_tokens or 0)
        return self._record(booking, cost)

    def _record(self, booking: CallBooking | None, cost: float | None) -> float | None:
        with self._lock:
            if cost is None:
                self.calls_unpriced += 1
            else:
                self.calls_priced += 1
                self.cost_usd += cost
        _settle(booking, cost)
        return cost

    def failed(self, booking: CallBooking | None, error: BaseException | None = None) -> None:
        """Close the booking of a call that ended without an answer.

        A call the provider failed (an ``Exception``: refused, broken, timed out) is refunded whole: providers do
        not bill those. A call abandoned after it was sent (cancelled with its row, an interrupt) may have been
        billed all the same, for an unknown amount: its whole worst case stays spent, never counted as free.

        Args:
            booking: The call's booking, if any.
            error: What ended the call.
        """
        if booking is None:
            return
        if booking.sent and error is not None and not isinstance(error, Exception):
            _settle(booking, None)
            return
        if not booking.open:
            return
        booking.open = False
        if booking.ledger is not None and booking.hold is not None:
            booking.ledger.release(booking.hold)
        if booking.journal is not None:
            booking.journal.release(booking.number)

    def cost_of(self, response: lm15.Response, request: lm15.Request | None = None) -> float | None:
        """What ``response`` cost at this engine's price, as plain DSPy prices it; None when unknown."""
        if self.batch:
            return self._batch_cost(response)
        return response_cost(self.price, response, provider=self.provider, wire_model=self.wire_model,
                             request=request)

    def cost_details(self, response: lm15.Response,
                     request: lm15.Request | None = None) -> tuple[float | None, dict[str, Any]]:
        """``response``'s cost and DSPy-style ``cost_details`` (how it was priced, or why it could not be).

        For a plain answer the details are built as DSPy builds them, without its per-call metadata lookup. In batch
        mode the answer is priced at the batch rates, and the details say so.
        """
        if self.batch:
            cost = self._batch_cost(response)
            if cost is None:
                return None, {"kind": "unknown", "reason": f"no batch price for {self.wire_model!r} or no usage"}
            assert self.price is not None
            return cost, {"kind": "batch", "currency": "USD", "provider": self.provider, "model": self.wire_model,
                          "source": self.price.source}
        cost = plain_cost(self.price, response, request)
        if cost is None:
            return response_cost_details(self.price, response, provider=self.provider, wire_model=self.wire_model,
                                         request=request)
        from dspy.clients.model_metadata import source_info

        return cost, {"kind": "estimate", "currency": "USD", "provider": self.provider,
                      "model": self._priced_model(response.model), "metadata": source_info()}

    def _batch_cost(self, response: lm15.Response) -> float | None:
        usage, price = response.usage, self.price
        if price is None or usage is None or usage.input_tokens is None or usage.output_tokens is None:
            return None
        return price.cost(usage.input_tokens, usage.output_tokens, cached_tokens=usage.cache_read_tokens or 0,
                          batch=True)

    def _priced_model(self, response_model: str) -> str:
        """The model DSPy's estimate names: the one the response names when the metadata knows it, else the wire
        model (remembered per response model: a handful of names per engine)."""
        named = self._priced_models.get(response_model)
        if named is None:
            from dspy.clients.model_metadata import model_info

            named = response_model if model_info(self.provider, response_model) else self.wire_model
            self._priced_models[response_model] = named
        return named


def _request_key(request: lm15.Request) -> str:
    """A key of ``request``'s content, the same in every process: a batch call of a later run that books the same
    request takes over the batch line an earlier, killed run's call waited on (see ``read_spend_journal``)."""
    return hashlib.sha256(repr(request).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _settle(booking: CallBooking | None, cost: float | None) -> None:
    """Close ``booking`` at ``cost``; None (no usage reported, or abandoned) keeps its whole worst case spent."""
    if booking is None or not booking.open:
        return
    booking.open = False
    if booking.ledger is not None and booking.hold is not None:
        booking.ledger.settle(booking.hold, cost)
    if booking.journal is not None:
        booking.journal.settle(booking.number, cost if cost is not None else booking.worst_usd)


__all__ = ["CallBooking", "CallCosting"]
