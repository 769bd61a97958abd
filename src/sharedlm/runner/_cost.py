"""The cost of one run: each row priced from its usage, totals per model, and the decision to take another row
under a spend cap (``--max-cost`` / ``max_cost=``).

Two layers keep a capped run under its cap. Every shared engine (one per model, including those built during the
run) books every call's worst case in the run's :class:`~sharedlm._spend.SpendLedger` before sending it
(:meth:`RunCost.attach`), so no concurrency can overshoot.
And :meth:`RunCost.next_row` stops taking rows once the next one may not fit: what was spent, plus every row in
flight and the next one at the costliest row seen so far, plus room for one call's worst case, must stay within
the cap. Rows in flight then finish (their calls still book against the ledger), the run ends, and the caller
exits with code 3. Until the first row has finished its cost is unknown, so a capped run starts with one row.

Every model is priced at its own price: the user's (``--price``, ``price=``, read by :func:`resolve_prices`: a bare
``prompt=..,completion=..`` prices the run's default model, ``MODEL=prompt=..,completion=..`` prices ``MODEL``), else
DSPy's bundled one. In batch mode a call answered from a provider batch is priced at its model's batch rates, as its
engine prices it for the spend ledger and journal, and its ``price`` line gives those rates
(:func:`describe_batch_price`).

A spend cap needs a price for every model the run calls. :func:`run_cost` checks the models whose shared LM exists
when it is called; a caller that builds the program after it (``run_many``, ``arun_many``: a price malformed or
missing for the default model is refused before the program is constructed) calls
:meth:`RunCost.check_bound_models` once the program is built and bound, so a model its constructor binds is
refused before anything is sent, as ``sharedlm run`` refuses it.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sharedlm._errors import UsageError
from sharedlm._pricing import PER_MILLION, PRICE_FIELDS, ModelPrice, model_price, parse_price, usage_cost
from sharedlm._spend import SpendJournal, SpendLedger

# What ``price=`` (and ``--price``, given once or more) takes: a ``--price`` value (``prompt=..,completion=..`` for the
# run's default model, ``MODEL=prompt=..,completion=..`` for MODEL) or several, a ModelPrice of the default model, or
# a mapping of model strings to a ModelPrice or ``prompt=..,completion=..``.
Prices = ModelPrice | str | Sequence[str] | Mapping[str, ModelPrice | str]

# How a price is written on the command line, for messages.
_PRICE_FORM = "--price MODEL=prompt=USD,completion=USD (USD per million tokens)"


@dataclass(frozen=True)
class PriceEntry:
    """One price the user gave.

    Args:
        model: The model it prices, or None for the run's default model.
        value: The price: its fields (``prompt=0.15,completion=0.6``) or a :class:`ModelPrice`.
        given: The ``--price`` value that gives it, as the command line takes it (the resume command re-emits it).
    """

    model: str | None
    value: ModelPrice | str
    given: str


def split_price(text: str) -> tuple[str | None, str]:
    """The model a ``--price`` value names and its fields: ``openai/gpt-4o=prompt=2.5,completion=10`` gives
    ``("openai/gpt-4o", "prompt=2.5,completion=10")``; a bare ``prompt=0.15,completion=0.6`` gives ``(None, text)``.

    A value names a model when its first field has two ``=`` and does not start with a price field; a model string
    with ``=`` or ``,`` in it cannot be priced this way (use a mapping in Python).
    """
    first = text.split(",", 1)[0]
    name = first.partition("=")[0].strip()
    if name in PRICE_FIELDS or first.count("=") < 2:
        return None, text
    model, _, fields = text.partition("=")
    return model.strip(), fields


def price_text(price: ModelPrice) -> str:
    """``price``'s fields as ``--price`` takes them, in USD per million tokens (``prompt=0.15,completion=0.6``)."""
    rates = (("prompt", price.prompt), ("completion", price.completion), ("cached", price.cached_prompt),
             ("batch_prompt", price.batch_prompt), ("batch_completion", price.batch_completion))
    return ",".join(f"{name}={rate * PER_MILLION:.12g}" for name, rate in rates if rate is not None)


def describe_batch_price(price: ModelPrice) -> str:
    """The rates a call answered from a provider batch is priced at, and where they came from, in one line.

    Where the price has no batch rate (a ``--price`` without ``batch_prompt=``/``batch_completion=``, a model the
    metadata gives none for), the call is priced at the online rate (:meth:`ModelPrice.cost`), and the line says so;
    a cached prompt token costs its cached rate in a batch too.

    Args:
        price: The model's price.
    """
    prompt = price.batch_prompt if price.batch_prompt is not None else price.prompt
    completion = price.batch_completion if price.batch_completion is not None else price.completion
    rates = f"${prompt * PER_MILLION:g}/M prompt, ${completion * PER_MILLION:g}/M completion"
    missing = [name for name, rate in (("batch_prompt", price.batch_prompt),
                                       ("batch_completion", price.batch_completion)) if rate is None]
    if not missing:
        note = "(batch)"
    elif len(missing) == 2:
        note = "(online rates: no batch prices known; --price takes batch_prompt=USD,batch_completion=USD)"
    else:
        note = f"(batch; {missing[0].removeprefix('batch_')} at the online rate: no {missing[0]} known)"
    cached = f", ${price.cached_prompt * PER_MILLION:g}/M cached prompt" if price.cached_prompt is not None else ""
    return f"{price.model}: {rates} {note}{cached} (from {price.source})"


def price_entries(prices: Prices | None) -> list[PriceEntry]:
    """The prices the user gave, one entry each, in the order given (nothing is parsed or looked up yet).

    Args:
        prices: ``--price`` values, or what ``price=`` takes (see :data:`Prices`); None for none.

    Raises:
        UsageError: For a value of another type, a mapping key that is not a model string, or a value that names
            no model before its ``=``.
    """
    if prices is None:
        return []
    if isinstance(prices, ModelPrice):
        return [PriceEntry(None, prices, price_text(prices))]
    if isinstance(prices, Mapping):
        entries = []
        for model, value in prices.items():
            if not isinstance(model, str) or not model.strip():
                raise UsageError(f"price= maps model strings to prices; got the key {model!r}: use each model string "
                                 "as the program names it, e.g. {'openai/gpt-4o': 'prompt=2.5,completion=10'}")
            if not isinstance(value, ModelPrice | str):
                raise UsageError(f"price= for {model!r} must be a ModelPrice or 'prompt=USD,completion=USD' (USD per "
                                 f"million tokens), got a {type(value).__name__}")
            model = model.strip()
            text = value if isinstance(value, str) else price_text(value)
            entries.append(PriceEntry(model, value, f"{model}={text}"))
        return entries
    if isinstance(prices, str):
        values: Sequence[Any] = [prices]
    elif isinstance(prices, Sequence):
        values = prices
    else:
        raise UsageError(f"price= takes 'prompt=USD,completion=USD' (USD per million tokens), a ModelPrice, or a "
                         f"mapping of model strings to either; got a {type(prices).__name__}")
    entries = []
    for text in values:
        if not isinstance(text, str):
            raise UsageError(f"each --price value must be a string like 'prompt=0.15,completion=0.6', got {text!r}")
        named, fields = split_price(text)
        if named == "":
            raise UsageError(f"--price {text!r} names no model before its '=': write {_PRICE_FORM}, or "
                             "prompt=USD,completion=USD for the default model")
        entries.append(PriceEntry(named, fields, text))
    return entries


def price_arguments(prices: Prices | None) -> list[str]:
    """The ``--price`` options that give ``prices`` again on the command line (for the resume command)."""
    arguments = []
    for entry in price_entries(prices):
        arguments += ["--price", entry.given]
    return arguments


def resolve_prices(prices: Prices | None, *, model: str | None) -> dict[str, ModelPrice]:
    """Each model the user priced, and its price.

    Args:
        prices: ``--price`` values, or what ``price=`` takes (see :data:`Prices`); None for none.
        model: The run's default model, which a value without ``MODEL=`` (and a lone ModelPrice) prices.

    Raises:
        UsageError: For a malformed value, an unknown field, a negative or non-numeric price, or a model priced
            twice, naming the flag, the model and what to write instead.
    """
    resolved: dict[str, ModelPrice] = {}
    given: dict[str, str] = {}
    for entry in price_entries(prices):
        target = entry.model or model
        if target is None and isinstance(entry.value, ModelPrice):
            target = entry.value.model
        if target is None:
            raise UsageError(f"--price {entry.given!r} prices the default model, and there is none: name the model, "
                             f"{_PRICE_FORM}")
        if target in resolved:
            default = f" (a value without MODEL= prices the default model, {model!r})" if model == target else ""
            raise UsageError(f"--price prices {target!r} twice ({given[target]!r} and {entry.given!r}){default}: "
                             "give each model one --price")
        if isinstance(entry.value, ModelPrice):
            price = _checked_price(entry.value, target)
        elif entry.model is None and entry.value.partition("=")[0].strip() not in PRICE_FIELDS:
            try:  # not a price's fields: perhaps a model string, without its prices or its "="
                price = parse_price(entry.value, model=target)
            except UsageError as exc:
                raise UsageError(f"{exc}; to price a model other than the default: {_PRICE_FORM}") from None
        else:
            price = parse_price(entry.value, model=target, named=entry.model is not None)
        resolved[target] = price
        given[target] = entry.given
    return resolved


def _checked_price(price: ModelPrice, model: str) -> ModelPrice:
    """``price`` as the price of ``model`` (the key or default model it was given for), its rates checked."""
    for field in ("prompt", "completion", "cached_prompt", "batch_prompt", "batch_completion"):
        rate = getattr(price, field)
        if rate is None and field in ("prompt", "completion"):
            rate = math.nan
        if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float)
                                 or not math.isfinite(rate) or rate < 0):
            raise UsageError(f"price= for {model!r}: ModelPrice.{field} must be a number of USD per token >= 0, got "
                             f"{rate!r}")
    return price if price.model == model else dataclasses.replace(price, model=model)


class NextRow(enum.Enum):
    """What the runner may do about the next input row."""

    TAKE = "take"
    WAIT = "wait"  # a row in flight must finish first (its cost is not known yet)
    STOP = "stop"  # the next row may not fit under the cap


class RunCost:
    """Prices a run's rows and decides, under a cap, whether another row may start.

    Args:
        max_cost: The cap in USD for everything this output has cost, or None for no cap.
        price: The user's prices (``--price``, ``price=``; see :func:`resolve_prices`), or None to use the bundled
            prices; a value that names no model prices ``model``.
        model: The shared LM's (default) model string, which the cap requires a price for.
        spent_before: USD earlier runs of the same output spent (``--resume``); it counts toward the cap.
        batch: Whether the run is in batch mode: a model's calls answered from provider batches (its engine is in
            batch mode) are priced at its batch rates.
        journal: Where every call's booking and settlement is recorded (beside the output), or None.

    Raises:
        UsageError: When ``price`` is malformed, or under a cap ``model`` has no price.
    """

    def __init__(self, *, max_cost: float | None = None, price: Prices | None = None, model: str | None = None,
                 spent_before: float = 0.0, batch: bool = False, journal: SpendJournal | None = None) -> None:
        self.model = model
        self.journal = journal
        # Calls earlier runs left in flight (killed), counted in spent_before at their worst case.
        self.unsettled_before = 0
        # In batch mode the calls of models whose engine is in batch mode are answered from provider batches.
        self.batch = batch
        # The user's price of each model it names (the default model's under its name).
        self.user_prices = resolve_prices(price, model=model)
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
        # Models whose calls were priced at their batch rates (answered from provider batches), for their price lines.
        self.batch_priced_models: set[str] = set()
        self.cost_usd = 0.0
        self.max_row_cost: float | None = None
        self.stopped = False

    def __repr__(self) -> str:
        return (f"RunCost(cost_usd={self.cost_usd:.6g}, spent_before={self.spent_before:.6g}, "
                f"user_priced={sorted(self.user_prices)}, batch={self.batch}, "
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
            UsageError: Naming the model and the ``--price`` that prices it.
        """
        if self.ledger is None:
            return
        for model in models:
            if self.price_for(model) is None:
                raise UsageError(
                    f"a spend cap (--max-cost, max_cost=) needs a price for every model the run calls, and DSPy's "
                    f"bundled model metadata has none for {model!r}: supply one with --price "
                    f"{model}=prompt=USD,completion=USD (USD per million tokens; price={{{model!r}: "
                    "'prompt=USD,completion=USD'} in run_many), or run without a cap")

    def check_bound_models(self) -> None:
        """Refuse a cap when a model whose shared LM exists has no price: call it once the program is built and
        bound, so a model its constructor binds (or whose plain ``dspy.LM`` the run binds) is refused before any
        call is sent, not row by row.

        Raises:
            UsageError: Naming the model and the ``--price`` (``price=``) that prices it.
        """
        from sharedlm._singleton import all_engines

        self.check_prices([engine.settings.model for engine in all_engines()])

    @property
    def capped(self) -> bool:
        """Whether the cap stopped the run (rows were left, or a call was refused)."""
        return self.stopped or (self.ledger is not None and self.ledger.refused > 0)

    def price_for(self, model: str) -> ModelPrice | None:
        """The price of ``model``'s tokens: the user's (``--price``) when given, else the bundled one, else None."""
        user = self.user_prices.get(model)
        if user is not None:
            return user
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
        batched = self._batched_models() if self.batch else frozenset()
        for model, entries in usage_by_model.items():
            price = self.price_for(model)
            cost = 0.0
            batch = model in batched
            for entry in entries:
                cost += usage_cost(price, entry, batch=batch) or 0.0
            with self._lock:
                if price is None:
                    self.unpriced_models.add(model)
                    total = None
                    continue
                self.cost_by_model[model] = self.cost_by_model.get(model, 0.0) + cost
                self.cost_usd += cost
                if batch:
                    self.batch_priced_models.add(model)
            if total is not None:
                total += cost
        return total

    @staticmethod
    def _batched_models() -> frozenset[str]:
        """The models whose calls are answered from provider batches now: those whose engine is in batch mode, as
        the engine prices its calls for the spend ledger and journal (a model first used after batch mode began
        goes online, at the online rates)."""
        from sharedlm._singleton import all_engines

        return frozenset(engine.settings.model for engine in all_engines() if engine.costing.batch)

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
        its calls against the cap and record them in the journal, and each model the user priced price its calls
        at its ``--price``; returns the function that undoes it (call it after the rows in flight are done or
        cancelled).

        A model without a price is attached too: under a cap its calls then fail before they are sent.
        """
        if self.ledger is None and self.journal is None and not self.user_prices:
            return lambda: None
        from sharedlm._singleton import watch_engines

        return watch_engines(self._attach_engine)

    def _attach_engine(self, engine: Any) -> Callable[[], None]:
        costing = engine.costing
        previous_price, previous_ledger, previous_journal = costing.price, costing.ledger, costing.journal
        user = self.user_prices.get(engine.settings.model)
        if user is not None:
            costing.set_price(user)
        costing.attach(self.ledger, self.journal)

        def detach() -> None:
            costing.ledger, costing.journal, costing.price = previous_ledger, previous_journal, previous_price

        return detach

    def describe_prices(self) -> list[str]:
        """One line per model the run used: its price and where it came from (``--price`` or the metadata), or
        that it has none; then one per model the user priced that no call used (a model string the program does
        not name is priced for nothing). A model answered from provider batches shows the batch rates its calls
        were priced at (:func:`describe_batch_price`), not its online ones."""
        used = set(self.cost_by_model) | self.unpriced_models
        if not used and self.model and (self.ledger is not None or self.model in self.user_prices):
            used = {self.model}
        # A model no finished row priced yet is described as its engine would price it now.
        batched = (self.batch_priced_models | self._batched_models()) if self.batch else frozenset()
        lines = []
        for model in sorted(used):
            price = self.price_for(model)
            if price is None:
                lines.append(f"{model}: no known price (cost unknown)")
            else:
                lines.append(describe_batch_price(price) if model in batched else price.describe())
        for model in sorted(set(self.user_prices) - used):
            lines.append(f"{self.user_prices[model].describe()}; no call of this run used {model!r} (check the "
                         "model string: it must be the one the program names)")
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


def run_cost(*, max_cost: float | None = None, price: Prices | None = None,
             spent_before: float = 0.0, batch: bool = False, journal: SpendJournal | None = None) -> RunCost:
    """The :class:`RunCost` of a run on the shared LM, with its model taken from the shared LM's settings.

    Args:
        max_cost: The cap in USD, or None.
        price: The user's prices, or None for the bundled ones: a ``--price`` string (``prompt=0.15,completion=0.6``
            for the default model, ``MODEL=prompt=..,completion=..`` for MODEL; USD per million tokens) or several,
            a :class:`~sharedlm._pricing.ModelPrice` of the default model, or a mapping of model strings to either.
        spent_before: USD earlier runs of the same output spent.
        batch: Whether the shared model's calls go through a provider batch API (priced at the batch rates).
        journal: Where every call's booking and settlement is recorded, or None.

    Raises:
        UsageError: When ``max_cost`` is set and the shared model, or another model whose shared LM exists (the
            program is bound to it), has no known price; or when ``price`` is malformed.
    """
    from sharedlm._singleton import get_settings

    model = get_settings().model
    cost = RunCost(max_cost=max_cost, price=price, model=model, spent_before=spent_before, batch=batch,
                   journal=journal)
    cost.check_bound_models()
    return cost


__all__ = [
    "NextRow",
    "PriceEntry",
    "Prices",
    "RunCost",
    "describe_batch_price",
    "price_arguments",
    "price_entries",
    "price_text",
    "report_fields",
    "resolve_prices",
    "run_cost",
    "split_price",
]
