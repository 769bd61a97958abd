"""The engine's side of cost: each successful call priced, totals for ``sharedlm.stats()``, and the spend cap.

:class:`CallCosting` belongs to one :class:`~sharedlm._engine.SharedEngine`. It prices every successful call
from the usage the provider reported (:func:`~sharedlm._pricing.response_cost`, so the figure equals plain
DSPy's), sums the cost for :func:`sharedlm.stats`, and, while a :class:`~sharedlm._spend.SpendLedger` is
attached (a run with ``--max-cost`` / ``max_cost=``), books each call's worst case before it is sent and
settles it after.
"""

from __future__ import annotations

import threading
from typing import Any

from dspy import lm15

from sharedlm._errors import UsageError
from sharedlm._pricing import ModelPrice, model_price, plain_cost, response_cost, response_cost_details
from sharedlm._spend import SpendBooking, SpendLedger, worst_case_cost


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
        self._lock = threading.Lock()
        # While the engine sends through a provider batch API, calls are priced at the batch rates.
        self.batch = False
        self.cost_usd = 0.0
        self.calls_priced = 0
        self.calls_unpriced = 0
        self._priced_models: dict[str, str] = {}

    def __repr__(self) -> str:
        return (f"CallCosting(model={self.model!r}, priced={self.price is not None}, cost_usd={self.cost_usd:.6g}, "
                f"calls_priced={self.calls_priced}, calls_unpriced={self.calls_unpriced}, ledger={self.ledger!r})")

    def set_price(self, price: ModelPrice | None) -> None:
        """Use ``price`` (a ``--price``) for this engine's calls; None goes back to the bundled price."""
        self.price = price if price is not None else model_price(self.model)

    def attach(self, ledger: SpendLedger | None) -> None:
        """Book every call against ``ledger`` from now on (None: no cap).

        Raises:
            UsageError: When a cap is attached but the model has no known price.
        """
        if ledger is not None and self.price is None:
            raise UsageError(
                f"a spend cap needs a price for {self.model!r}, and DSPy's bundled model metadata has none: supply "
                "one with --price prompt=USD,completion=USD (per million tokens), or price= in run_many")
        self.ledger = ledger

    @property
    def cost_known(self) -> bool:
        """Whether every successful call so far had a price."""
        return self.calls_unpriced == 0

    async def book(self, request: lm15.Request) -> SpendBooking | None:
        """Book ``request``'s worst case when a cap is attached (may wait; may raise SpendCapReachedError)."""
        ledger, price = self.ledger, self.price
        if ledger is None or price is None:
            return None
        return await ledger.book(worst_case_cost(request, price))

    def succeeded(self, booking: SpendBooking | None, response: lm15.Response,
                  request: lm15.Request | None) -> float | None:
        """Price a successful call, settle its booking, and return its cost (None when unknown)."""
        return self._record(booking, self.cost_of(response, request))

    def stream_finished(self, booking: SpendBooking | None, usage: lm15.Usage | None) -> float | None:
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

    def _record(self, booking: SpendBooking | None, cost: float | None) -> float | None:
        with self._lock:
            if cost is None:
                self.calls_unpriced += 1
            else:
                self.calls_priced += 1
                self.cost_usd += cost
        if booking is not None and self.ledger is not None:
            self.ledger.settle(booking, cost)
        return cost

    def failed(self, booking: SpendBooking | None) -> None:
        """Refund the booking of a call that failed."""
        if booking is not None and self.ledger is not None:
            self.ledger.release(booking)

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


__all__ = ["CallCosting"]
