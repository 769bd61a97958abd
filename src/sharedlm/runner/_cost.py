"""The cost of one run: each row priced from its usage, totals per model, and the decision to take another row
under a spend cap (``--max-cost`` / ``max_cost=``).

Two layers keep a capped run under its cap. Every shared engine (one per model, including those built during the
run) books every call's worst case in the run's :class:`~sharedlm._spend.SpendLedger` before sending it
(:meth:`RunCost.attach`), so no concurrency can overshoot.
And :meth:`RunCost.next_row` stops taking rows once the next one may not fit: what was spent, plus every row in
flight and the next one at the costliest row seen so far, plus room for one call's worst case, must stay within
the cap. Rows in flight then finish (their calls still book against the ledger), the run ends, and the caller
exits with code 3. Until the first row has finished its cost is unknown, so a capped run starts with one row.
"""

from __future__ import annotations

import enum
import math
import threading
from collections.abc import Callable, Mapping
from typing import Any

from sharedlm._errors import UsageError
from sharedlm._pricing import ModelPrice, model_price, parse_price, usage_cost
from sharedlm._spend import SpendJournal, SpendLedger


class NextRow(enum.Enum):
    """What the runner may do about the next input row."""

    TAKE = "take"
    WAIT = "wait"  # a row in flight must finish first (its cost is not known yet)
    STOP = "stop"  # the next row may not fit under the cap


class RunCost:
    """Prices a run's rows and decides, under a cap, whether another row may start.

    Args:
        max_cost: The cap in USD for everything this output has cost, or None for no cap.
        price: A user-supplied price (``--price``) for ``model``, or None to use the bundled prices.
        model: The shared LM's model string, which ``price`` applies to and the cap requires a price for.
        spent_before: USD earlier runs of the same output spent (``--resume``); it counts toward the cap.
        batch: Whether ``model``'s calls are answered from provider batches, priced at the batch rates.
        journal: Where every call's booking and settlement is recorded (beside the output), or None.
    """

    def __init__(self, *, max_cost: float | None = None, price: ModelPrice | None = None, model: str | None = None,
                 spent_before: float = 0.0, batch: bool = False, journal: SpendJournal | None = None) -> None:
        self.model = model
        self.journal = journal
        # Calls earlier runs left in flight (killed), counted in spent_before at their worst case.
        self.unsettled_before = 0
        # In batch mode the shared model's calls are answered from provider batches, at the batch rates.
        self.batch = batch
        self.user_price = price
        self.spent_before = spent_before
        self._prices: dict[str, ModelPrice | None] = {}
        self._lock = threading.Lock()
        self.ledger = SpendLedger(max_cost, spent_before=spent_before) if max_cost is not None else None
        if self.ledger is not None and (model is None or self.price_for(model) is None):
            raise UsageError(
                f"a spend cap (--max-cost, max_cost=) needs a price for {model!r}, and DSPy's bundled model metadata "
                "has none: supply one with --price prompt=USD,completion=USD (USD per million tokens; price= in "
                "run_many)")
        self.cost_by_model: dict[str, float] = {}
        self.unpriced_models: set[str] = set()
        self.cost_usd = 0.0
        self.max_row_cost: float | None = None
        self.stopped = False

    def __repr__(self) -> str:
        return (f"RunCost(cost_usd={self.cost_usd:.6g}, spent_before={self.spent_before:.6g}, "
                f"max_row_cost={self.max_row_cost}, stopped={self.stopped}, ledger={self.ledger!r}, "
                f"journal={self.journal!r})")

    @property
    def max_cost(self) -> float | None:
        """The cap, or None."""
        return self.ledger.cap if self.ledger is not None else None

    @property
    def known(self) -> bool:
        """Whether every model the run used had a price."""
        return not self.unpriced_models

    @property
    def total_usd(self) -> float:
        """What this output has cost: earlier runs plus this one's rows."""
        return self.spent_before + self.cost_usd

    @property
    def spent_usd(self) -> float:
        """What this output has cost, the calls of rows that were never written included: under a cap, what the
        ledger counts (earlier runs, and every call of this run settled, or at its worst case when abandoned in
        flight), else :attr:`total_usd`; never less than the rows' own cost."""
        return max(self.total_usd, self.ledger.spent) if self.ledger is not None else self.total_usd

    def check_prices(self, models: list[str]) -> None:
        """Refuse a cap when one of ``models`` (the shared LMs the program is bound to) has no price.

        Raises:
            UsageError: Naming the model, and that ``--price`` prices only the default model.
        """
        if self.ledger is None:
            return
        for model in models:
            if model != self.model and self.price_for(model) is None:
                raise UsageError(
                    f"a spend cap (--max-cost, max_cost=) needs a price for every model the run calls, and DSPy's "
                    f"bundled model metadata has none for {model!r}. --price (price= in run_many) prices only the "
                    f"default model ({self.model!r}); run without a cap, or use a model the metadata prices")

    @property
    def capped(self) -> bool:
        """Whether the cap stopped the run (rows were left, or a call was refused)."""
        return self.stopped or (self.ledger is not None and self.ledger.refused > 0)

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of ``model``'s tokens: the user's for the shared model, else the bundled one, else None."""
        if self.user_price is not None and (self.model is None or model == self.model):
            return self.user_price
        with self._lock:
            if model not in self._prices:
                self._prices[model] = model_price(model)
            return self._prices[model]

    def row_cost(self, usage_by_model: Mapping[str, list[Mapping[str, Any]]]) -> float | None:
        """Price one attempt of a row from its DSPy usage tracker data and add it to the run's totals.

        Args:
            usage_by_model: ``UsageTracker.usage_data``: model string to the usage entries of its calls.

        Returns:
            The attempt's cost in USD, or None when a model it used has no price.
        """
        total: float | None = 0.0
        for model, entries in usage_by_model.items():
            price = self.price_for(model)
            cost = 0.0
            batch = self.batch and model == self.model
            for entry in entries:
                cost += usage_cost(price, entry, batch=batch) or 0.0
            with self._lock:
                if price is None:
                    self.unpriced_models.add(model)
                    total = None
                    continue
                self.cost_by_model[model] = self.cost_by_model.get(model, 0.0) + cost
                self.cost_usd += cost
            if total is not None:
                total += cost
        return total

    def row_finished(self, cost: float | None) -> None:
        """Learn from a finished row's whole cost (over its attempts) what the next row may cost."""
        if cost is not None and (self.max_row_cost is None or cost > self.max_row_cost):
            self.max_row_cost = cost

    def next_row(self, in_flight: int) -> NextRow:
        """Whether the runner may start another row now, with ``in_flight`` rows running.

        Args:
            in_flight: Rows started whose results are not in yet.
        """
        ledger = self.ledger
        if ledger is None:
            return NextRow.TAKE
        if self.stopped or ledger.refused or ledger.spent >= ledger.cap:
            self.stopped = True
            return NextRow.STOP
        estimate = self.max_row_cost
        if estimate is None:
            return NextRow.TAKE if in_flight == 0 else NextRow.WAIT
        # Every row in flight and the next at the costliest row so far, plus room for one call's worst case: the
        # last call of a row books its worst case before it is sent, so without that room it would be refused.
        if ledger.spent + (in_flight + 1) * estimate + ledger.largest_booking > ledger.cap:
            if in_flight:
                return NextRow.WAIT  # rows in flight may cost less than the estimate; decide when they finish
            self.stopped = True
            return NextRow.STOP
        return NextRow.TAKE

    def suggested_cap(self, rows_left: int | None) -> float | None:
        """A cap that should let the rest of the run finish, or None without a cap: what the output has spent
        (earlier runs included), plus the rows left at the costliest row so far with 10% to spare, plus room for
        one call's worst case; rounded up to two significant digits. When the rows left or a row's cost are not
        known: what was spent plus the cap again (at least twice the cap). Always more than what was spent.

        Args:
            rows_left: Rows the run has not finished (failed rows run again on resume), or None when unknown.
        """
        ledger = self.ledger
        if ledger is None:
            return None
        spent = self.spent_usd
        if rows_left is None or self.max_row_cost is None:
            return _round_up(max(2 * ledger.cap, spent + max(ledger.cap, ledger.largest_booking)))
        room = max(rows_left, 1) * self.max_row_cost * 1.1 + ledger.largest_booking
        return _round_up(max(spent + (room or ledger.cap), ledger.cap * 1.1))

    def attach(self) -> Callable[[], None]:
        """Make every shared engine (one per model: those that exist and those built while the run lasts) book
        its calls against the cap and record them in the journal, and the default model's price its calls at
        this run's ``--price``; returns the function that undoes it (call it after the rows in flight are done or
        cancelled).

        A model without a price is attached too: under a cap its calls then fail before they are sent.
        """
        if self.ledger is None and self.journal is None and self.user_price is None:
            return lambda: None
        from sharedlm._singleton import watch_engines

        return watch_engines(self._attach_engine)

    def _attach_engine(self, engine: Any) -> Callable[[], None]:
        costing = engine.costing
        previous_price, previous_ledger, previous_journal = costing.price, costing.ledger, costing.journal
        if self.user_price is not None and self.model == engine.settings.model:
            costing.set_price(self.user_price)
        costing.attach(self.ledger, self.journal)

        def detach() -> None:
            costing.ledger, costing.journal, costing.price = previous_ledger, previous_journal, previous_price

        return detach

    def describe_prices(self) -> list[str]:
        """One line per model the run used: its price and where it came from, or that it has none."""
        used = set(self.cost_by_model) | self.unpriced_models
        if not used and self.model and (self.ledger is not None or self.user_price is not None):
            used = {self.model}
        lines = []
        for model in sorted(used):
            price = self.price_for(model)
            lines.append(price.describe() if price is not None else f"{model}: no known price (cost unknown)")
        return lines


def _round_up(value: float) -> float:
    """``value`` rounded up to two significant digits (``0.01234`` -> ``0.013``)."""
    if value <= 0:
        return 0.01
    scale = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / scale - 1e-9) * scale, 12)


def report_fields(cost: RunCost | None, *, rows_left: int | None = None) -> dict[str, Any]:
    """The cost fields of a :class:`~sharedlm.runner._summary.RunReport` for a run priced by ``cost`` (none: {}).

    Args:
        cost: The run's cost, or None when it was not tracked here (Ray).
        rows_left: Rows of the input the run did not finish, or None when unknown.
    """
    if cost is None:
        return {}
    by_model: dict[str, float | None] = dict(cost.cost_by_model)
    by_model.update(dict.fromkeys(cost.unpriced_models))
    return {"cost_by_model": by_model, "spent_before": cost.spent_before, "cost_cap": cost.max_cost,
            "spend_capped": cost.capped, "prices": tuple(cost.describe_prices()),
            "suggested_cap": cost.suggested_cap(rows_left) if cost.capped else None,
            "spent_usd": cost.spent_usd if cost.ledger is not None else None,
            "unsettled_before": cost.unsettled_before}


def run_cost(*, max_cost: float | None = None, price: ModelPrice | str | None = None,
             spent_before: float = 0.0, batch: bool = False, journal: SpendJournal | None = None) -> RunCost:
    """The :class:`RunCost` of a run on the shared LM, with its model taken from the shared LM's settings.

    Args:
        max_cost: The cap in USD, or None.
        price: The shared model's price: a :class:`~sharedlm._pricing.ModelPrice`, a ``--price`` string
            (``prompt=0.15,completion=0.6``, USD per million tokens), or None for the bundled price.
        spent_before: USD earlier runs of the same output spent.
        batch: Whether the shared model's calls go through a provider batch API (priced at the batch rates).
        journal: Where every call's booking and settlement is recorded, or None.

    Raises:
        UsageError: When ``max_cost`` is set and the shared model, or another model whose shared LM exists (the
            program is bound to it), has no known price; or when ``price`` is malformed.
    """
    from sharedlm._singleton import all_engines, get_settings

    model = get_settings().model
    if isinstance(price, str):
        price = parse_price(price, model=model)
    cost = RunCost(max_cost=max_cost, price=price, model=model, spent_before=spent_before, batch=batch,
                   journal=journal)
    cost.check_prices([engine.settings.model for engine in all_engines()])
    return cost


__all__ = ["NextRow", "RunCost", "report_fields", "run_cost"]
