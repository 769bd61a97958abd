"""RunCost: rows priced from their usage per model, and the decision to start another row under a spend cap."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import sharedlm
from sharedlm._batch import BatchOptions
from sharedlm._errors import UsageError
from sharedlm._pricing import ModelPrice, model_price
from sharedlm._singleton import shared_engines
from sharedlm._spend import SpendJournal
from sharedlm.runner._cost import NextRow, Prices, RunCost, price_arguments, report_fields, resolve_prices, run_cost

PRICE = ModelPrice(model="openai/gpt-4o-mini", prompt=1e-6, completion=2e-6)


def usage(prompt: int, completion: int) -> dict[str, int]:
    return {"prompt_tokens": prompt, "completion_tokens": completion}


def capped(cap: float, **kwargs: object) -> RunCost:
    return RunCost(max_cost=cap, price=PRICE, model=PRICE.model, **kwargs)  # type: ignore[arg-type]


def test_row_cost_sums_every_call_of_every_model_at_its_price() -> None:
    cost = RunCost()
    total = cost.row_cost({"openai/gpt-4o-mini": [usage(1000, 100), usage(500, 50)]})
    assert total == pytest.approx(1500 * 0.15e-6 + 150 * 0.6e-6)
    assert cost.cost_by_model == {"openai/gpt-4o-mini": pytest.approx(total)}


def test_row_of_a_model_without_a_price_costs_unknown_not_zero() -> None:
    cost = RunCost()
    assert cost.row_cost({"openai/sim-model": [usage(10, 5)]}) is None
    assert not cost.known
    assert report_fields(cost)["cost_by_model"] == {"openai/sim-model": None}


def test_user_price_applies_to_the_shared_model() -> None:
    cost = RunCost(price=PRICE, model=PRICE.model)
    assert cost.row_cost({PRICE.model: [usage(100, 10)]}) == pytest.approx(100e-6 + 20e-6)


def test_cap_on_a_model_without_a_price_is_refused_naming_price() -> None:
    with pytest.raises(UsageError, match="--price"):
        RunCost(max_cost=1.0, model="openai/sim-model")


def test_without_a_cap_every_row_may_start() -> None:
    assert RunCost().next_row(in_flight=10_000) is NextRow.TAKE


def test_capped_run_starts_with_one_row_until_a_row_cost_is_known() -> None:
    cost = capped(1.0)
    assert cost.next_row(in_flight=0) is NextRow.TAKE
    assert cost.next_row(in_flight=1) is NextRow.WAIT


def test_rows_start_while_spent_plus_rows_in_flight_plus_the_next_fit_at_the_costliest_row() -> None:
    cost = capped(1.0)
    cost.row_finished(0.1)
    assert cost.next_row(in_flight=9) is NextRow.TAKE  # 10 rows x 0.1 fit in 1.0
    assert cost.next_row(in_flight=10) is NextRow.WAIT  # 11 do not; rows in flight may cost less


def test_no_row_starts_when_the_next_cannot_fit_with_nothing_in_flight() -> None:
    cost = capped(1.0, spent_before=0.95)
    cost.row_finished(0.1)
    assert cost.next_row(in_flight=0) is NextRow.STOP
    assert cost.capped


def test_a_refused_call_stops_the_run() -> None:
    cost = capped(1.0)
    cost.row_finished(0.01)
    assert cost.ledger is not None
    booking = cost.ledger.try_book(0.5)
    assert booking is not None
    cost.ledger._refused += 1  # what book() counts when a call's worst case does not fit
    assert cost.next_row(in_flight=0) is NextRow.STOP


def test_earlier_spend_counts_toward_the_cap_and_the_total() -> None:
    cost = capped(1.0, spent_before=1.0)
    assert cost.next_row(in_flight=0) is NextRow.STOP
    assert cost.total_usd == 1.0


def test_costliest_row_is_what_the_next_row_is_expected_to_cost() -> None:
    cost = RunCost()
    for value in (0.1, 0.3, None, 0.2):
        cost.row_finished(value)
    assert cost.max_row_cost == 0.3


def test_prices_are_described_for_the_models_used() -> None:
    cost = RunCost()
    cost.row_cost({"openai/gpt-4o-mini": [usage(1, 1)], "openai/sim-model": [usage(1, 1)]})
    lines = cost.describe_prices()
    assert lines[0].startswith("openai/gpt-4o-mini: $0.15/M prompt")
    assert lines[1] == "openai/sim-model: no known price (cost unknown)"


def test_suggested_cap_covers_the_rows_left_at_the_costliest_row_and_one_calls_worst_case() -> None:
    cost = capped(0.005)
    cost.row_cost({PRICE.model: [usage(1000, 500)]})  # $0.002
    cost.row_finished(0.002)
    assert cost.ledger is not None
    assert cost.ledger.try_book(0.001) is not None
    # $0.002 spent + 10 rows x $0.002 x 1.1 + $0.001 = $0.025
    assert cost.suggested_cap(rows_left=10) == pytest.approx(0.025)


def test_suggested_cap_without_the_rows_left_doubles_the_cap() -> None:
    assert capped(0.005).suggested_cap(rows_left=None) == pytest.approx(0.01)


def test_next_row_keeps_room_for_one_calls_worst_case() -> None:
    cost = capped(1.0)
    cost.row_finished(0.1)
    assert cost.ledger is not None
    assert cost.ledger.try_book(0.25) is not None
    assert cost.next_row(in_flight=7) is NextRow.WAIT  # 8 x 0.1 + 0.25 > 1.0
    assert cost.next_row(in_flight=6) is NextRow.TAKE  # 7 x 0.1 + 0.25 fits


def _two_models() -> None:
    sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base="http://127.0.0.1:9/v1")
    sharedlm.get_shared_lm()
    sharedlm.get_shared_lm("openai/gpt-4o")


def test_attach_books_every_shared_models_calls_against_the_cap(tmp_path: Path) -> None:
    _two_models()
    cost = capped(1.0, journal=SpendJournal(tmp_path / "j", fresh=True))
    detach = cost.attach()
    try:
        for model in ("openai/gpt-4o-mini", "openai/gpt-4o"):
            costing = shared_engines(model)[1].costing
            assert (costing.ledger, costing.journal) == (cost.ledger, cost.journal)
    finally:
        detach()


def test_attach_covers_a_shared_lm_built_while_the_run_lasts() -> None:
    sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base="http://127.0.0.1:9/v1")
    cost = capped(1.0)
    detach = cost.attach()
    try:
        sharedlm.get_shared_lm("openai/gpt-4o")  # e.g. inside the program's forward
        assert shared_engines("openai/gpt-4o")[1].costing.ledger is cost.ledger
    finally:
        detach()


def test_detach_leaves_every_engine_as_it_was_and_later_ones_alone() -> None:
    _two_models()
    detach = capped(1.0).attach()
    detach()
    sharedlm.get_shared_lm("openai/o3-mini")
    for model in ("openai/gpt-4o-mini", "openai/gpt-4o", "openai/o3-mini"):
        assert shared_engines(model)[1].costing.ledger is None


def test_user_price_applies_to_the_default_models_engine_only() -> None:
    _two_models()
    cost = RunCost(max_cost=1.0, price=PRICE, model="openai/gpt-4o-mini")
    detach = cost.attach()
    try:
        assert shared_engines("openai/gpt-4o-mini")[1].costing.price is PRICE
        assert shared_engines("openai/gpt-4o")[1].costing.price != PRICE
    finally:
        detach()
    assert shared_engines("openai/gpt-4o-mini")[1].costing.price != PRICE


def test_cap_on_a_bound_second_model_without_a_price_is_refused_naming_it_and_the_price_that_prices_it() -> None:
    sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base="http://127.0.0.1:9/v1")
    sharedlm.get_shared_lm("openai/sim-model")
    with pytest.raises(UsageError, match=r"'openai/sim-model'.*--price openai/sim-model=prompt=USD,completion=USD"):
        run_cost(max_cost=1.0)


def test_spent_counts_the_ledgers_calls_of_rows_never_written() -> None:
    cost = capped(1.0, spent_before=0.25)
    cost.row_cost({PRICE.model: [usage(1000, 0)]})  # a row written: $0.001
    assert cost.ledger is not None
    booking = cost.ledger.try_book(0.5)
    assert booking is not None
    cost.ledger.settle(booking, 0.125)  # a call of a row cancelled before it was written
    assert cost.spent_usd == pytest.approx(0.375)
    assert report_fields(cost)["spent_usd"] == pytest.approx(0.375)


def test_suggested_cap_exceeds_what_earlier_runs_spent_when_no_row_finished() -> None:
    cost = capped(0.01, spent_before=0.0297)  # a resume stopped at once: earlier runs spent more than the cap
    assert cost.next_row(in_flight=0) is NextRow.STOP
    suggested = cost.suggested_cap(rows_left=100)
    assert suggested is not None
    assert suggested >= 0.0297 + 0.01


def test_suggested_cap_leaves_room_for_the_next_row_over_what_was_spent() -> None:
    cost = capped(0.01, spent_before=0.0297)
    cost.row_finished(0.002)
    assert cost.ledger is not None
    assert cost.ledger.try_book(0.001) is None  # refused, but it is the largest call a row asked to book
    suggested = cost.suggested_cap(rows_left=0)  # every row done but the failed: one more row at least
    assert suggested is not None
    assert suggested >= 0.0297 + 0.002 * 1.1 + 0.001


# --- a price per model: --price MODEL=..., price={model: ...} ---

SIM = "openai/sim-model"  # a model the bundled metadata does not price


def test_a_price_naming_a_model_prices_that_model_and_leaves_the_default_at_its_bundled_price() -> None:
    cost = RunCost(price="openai/sim-model=prompt=1,completion=2", model="openai/gpt-4o-mini")

    total = cost.row_cost({SIM: [usage(1000, 100)], "openai/gpt-4o-mini": [usage(1000, 100)]})

    assert cost.cost_by_model[SIM] == pytest.approx(1000 * 1e-6 + 100 * 2e-6)
    assert cost.cost_by_model["openai/gpt-4o-mini"] == pytest.approx(1000 * 0.15e-6 + 100 * 0.6e-6)
    assert total == pytest.approx(sum(cost.cost_by_model.values()))


def test_a_bare_price_prices_the_default_model_beside_a_price_naming_another() -> None:
    cost = RunCost(price=("prompt=3,completion=4", "openai/sim-model=prompt=1,completion=2"), model="openai/other")

    assert cost.row_cost({"openai/other": [usage(1000, 100)]}) == pytest.approx(1000 * 3e-6 + 100 * 4e-6)
    assert cost.row_cost({SIM: [usage(1000, 100)]}) == pytest.approx(1000 * 1e-6 + 100 * 2e-6)


def test_a_mapping_prices_each_model_it_names_from_a_string_or_a_model_price() -> None:
    given = ModelPrice(model="anything", prompt=5e-6, completion=6e-6)
    cost = RunCost(price={SIM: "prompt=1,completion=2", "openai/judge": given}, model="openai/gpt-4o-mini")

    assert cost.row_cost({SIM: [usage(1000, 100)]}) == pytest.approx(1000 * 1e-6 + 100 * 2e-6)
    assert cost.row_cost({"openai/judge": [usage(1000, 100)]}) == pytest.approx(1000 * 5e-6 + 100 * 6e-6)
    assert cost.price_for("openai/judge") == ModelPrice(model="openai/judge", prompt=5e-6, completion=6e-6)


@pytest.mark.parametrize("prices", [
    ("prompt=1,completion=2", "prompt=3,completion=4"),
    ("prompt=1,completion=2", "openai/gpt-4o-mini=prompt=3,completion=4"),
    ("openai/sim-model=prompt=1,completion=2", " openai/sim-model =prompt=3,completion=4"),
])
def test_a_model_priced_twice_is_refused_naming_the_model_and_asking_for_one_price_each(
        prices: tuple[str, ...]) -> None:
    model = "openai/sim-model" if prices[0].startswith("openai/") else "openai/gpt-4o-mini"
    with pytest.raises(UsageError, match=rf"--price prices '{model}' twice .*give each model one --price"):
        RunCost(price=prices, model="openai/gpt-4o-mini")


@pytest.mark.parametrize(("value", "message"), [
    ("openai/sim-model=prompt=1", r"--price for 'openai/sim-model' needs completion; example: --price "
                                  r"openai/sim-model=prompt=0\.15,completion=0\.6"),
    ("openai/sim-model=prompt=1,completion=2,bogus=3", r"--price for 'openai/sim-model' takes .*got 'bogus=3'"),
    ("openai/sim-model=prompt=-1,completion=2", r"--price for 'openai/sim-model': prompt must be a number of USD "
                                                r"per million tokens >= 0, got '-1'"),
    ("openai/sim-model=prompt=x,completion=2", r"--price for 'openai/sim-model': prompt must be a number"),
    ("=prompt=1,completion=2", r"--price '=prompt=1,completion=2' names no model before its '='"),
])
def test_a_malformed_price_naming_a_model_is_refused_naming_the_flag_the_model_and_the_fix(
        value: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        RunCost(price=(value,), model="openai/gpt-4o-mini")


def test_a_price_that_is_only_a_model_string_is_refused_showing_how_to_name_a_model() -> None:
    with pytest.raises(UsageError, match=r"got 'openai/sim-model'.*to price a model other than the default: "
                                         r"--price MODEL=prompt=USD,completion=USD"):
        RunCost(price=("openai/sim-model",), model="openai/gpt-4o-mini")


@pytest.mark.parametrize("prices", [{"": "prompt=1,completion=2"}, {SIM: 0.5},
                                    {SIM: ModelPrice(model=SIM, prompt=-1e-6, completion=1e-6)}, 0.5])
def test_a_price_mapping_of_the_wrong_shape_is_refused_naming_price(prices: object) -> None:
    with pytest.raises(UsageError, match="price="):
        RunCost(price=prices, model="openai/gpt-4o-mini")  # type: ignore[arg-type]


def test_a_price_naming_a_model_the_metadata_does_not_price_lets_a_cap_cover_it() -> None:
    sharedlm.configure(model="openai/gpt-4o-mini", api_key="sim-key", api_base="http://127.0.0.1:9/v1")
    sharedlm.get_shared_lm(SIM)

    cost = run_cost(max_cost=1.0, price=["openai/sim-model=prompt=1,completion=2"])

    assert cost.price_for(SIM) is not None


def test_attach_prices_each_priced_models_engine_at_its_own_price() -> None:
    _two_models()
    cost = RunCost(price={"openai/gpt-4o": "prompt=7,completion=8"}, model="openai/gpt-4o-mini")
    detach = cost.attach()
    try:
        assert shared_engines("openai/gpt-4o")[1].costing.price == cost.price_for("openai/gpt-4o")
        assert shared_engines("openai/gpt-4o-mini")[1].costing.price == model_price("openai/gpt-4o-mini")
    finally:
        detach()
    assert shared_engines("openai/gpt-4o")[1].costing.price == model_price("openai/gpt-4o")


def test_prices_say_each_priced_model_took_its_price_from_the_price_option() -> None:
    cost = RunCost(price=("openai/sim-model=prompt=1,completion=2",), model="openai/gpt-4o-mini")
    cost.row_cost({SIM: [usage(1, 1)], "openai/gpt-4o-mini": [usage(1, 1)]})

    lines = cost.describe_prices()

    assert lines[0].startswith("openai/gpt-4o-mini: $0.15/M prompt, $0.6/M completion")
    assert "(from DSPy's bundled model metadata" in lines[0]
    assert lines[1] == "openai/sim-model: $1/M prompt, $2/M completion (from --price)"


def test_a_priced_model_no_call_used_is_described_as_unused_so_a_typo_shows() -> None:
    cost = RunCost(price=("openai/sim-modle=prompt=1,completion=2",), model="openai/gpt-4o-mini")
    cost.row_cost({SIM: [usage(1, 1)]})

    assert cost.describe_prices() == [
        "openai/sim-model: no known price (cost unknown)",
        "openai/sim-modle: $1/M prompt, $2/M completion (from --price); no call of this run used "
        "'openai/sim-modle' (check the model string: it must be the one the program names)"]


@pytest.mark.parametrize("prices", [
    ("prompt=0.15,completion=0.6", "openai/gpt-4o=prompt=2.5,completion=10,cached=1.25"),
    {"openai/gpt-4o": ModelPrice(model="openai/gpt-4o", prompt=2.5e-6, completion=10e-6, batch_prompt=1.25e-6,
                                 batch_completion=5e-6),
     SIM: "prompt=1,completion=2"},
    ModelPrice(model="openai/gpt-4o-mini", prompt=0.1e-6, completion=0.3e-6, cached_prompt=0.05e-6),
])
def test_price_arguments_give_the_same_prices_again(prices: Prices) -> None:
    arguments = price_arguments(prices)

    assert arguments[::2] == ["--price"] * (len(arguments) // 2)
    again = resolve_prices(tuple(arguments[1::2]), model="openai/gpt-4o-mini")
    first = resolve_prices(prices, model="openai/gpt-4o-mini")
    assert {model: pytest.approx(_rates(price)) for model, price in again.items()} == {
        model: _rates(price) for model, price in first.items()}


def _rates(price: ModelPrice) -> tuple[float | None, ...]:
    return price.prompt, price.completion, price.cached_prompt, price.batch_prompt, price.batch_completion


async def _in_batch_mode(models: list[str]) -> Callable[[], Awaitable[None]]:
    engines = [shared_engines(model)[1] for model in models]
    transports = [engine.use_batch(BatchOptions()) for engine in engines]

    async def online() -> None:
        for engine, transport in zip(engines, transports, strict=True):
            await transport.aclose()
            engine.use_online()

    return online


async def test_row_cost_prices_each_models_calls_at_its_batch_rates_while_its_engine_answers_from_batches() -> None:
    _two_models()
    cost = RunCost(batch=True, model="openai/gpt-4o-mini")
    online = await _in_batch_mode(["openai/gpt-4o-mini", "openai/gpt-4o"])
    try:
        cost.row_cost({"openai/gpt-4o-mini": [usage(1000, 100)], "openai/gpt-4o": [usage(1000, 100)]})
    finally:
        await online()

    for model in ("openai/gpt-4o-mini", "openai/gpt-4o"):
        price = model_price(model)
        assert price is not None
        assert price.batch_prompt is not None
        assert cost.cost_by_model[model] == pytest.approx(price.cost(1000, 100, batch=True))


async def test_row_cost_prices_a_model_that_went_online_in_a_batch_run_at_its_online_rates() -> None:
    _two_models()
    cost = RunCost(batch=True, model="openai/gpt-4o-mini")
    online = await _in_batch_mode(["openai/gpt-4o-mini"])  # gpt-4o first built after batch mode began: online
    try:
        cost.row_cost({"openai/gpt-4o": [usage(1000, 100)]})
    finally:
        await online()

    price = model_price("openai/gpt-4o")
    assert price is not None
    assert cost.cost_by_model["openai/gpt-4o"] == pytest.approx(price.cost(1000, 100))


@pytest.mark.parametrize(("price", "line"), [
    ("prompt=1,completion=2", "openai/gpt-4o-mini: $1/M prompt, $2/M completion (online rates: no batch prices known; "
                              "--price takes batch_prompt=USD,batch_completion=USD) (from --price)"),
    ("prompt=1,completion=2,batch_prompt=0.5", "openai/gpt-4o-mini: $0.5/M prompt, $2/M completion (batch; completion "
                                               "at the online rate: no batch_completion known) (from --price)"),
])
async def test_a_batch_runs_price_line_gives_the_online_rate_where_a_model_has_no_batch_rate_and_says_so(
        price: str, line: str) -> None:
    _two_models()
    cost = RunCost(batch=True, price=price, model="openai/gpt-4o-mini")
    online = await _in_batch_mode(["openai/gpt-4o-mini"])
    try:
        cost.row_cost({"openai/gpt-4o-mini": [usage(1000, 100)]})
    finally:
        await online()

    assert cost.describe_prices() == [line]
