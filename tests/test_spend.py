"""The spend ledger: worst cases booked before sending, refunds after, and a cap no concurrency can overshoot; and
the spend journal, which keeps every booking and settlement of an output's runs on disk."""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import threading
from pathlib import Path

import pytest
from dspy import lm15

from sharedlm._errors import FatalError, RetryableError, SpendCapReachedError, UsageError
from sharedlm._flow import estimate_tokens
from sharedlm._pricing import ModelPrice
from sharedlm._spend import (
    MESSAGE_FRAME_TOKENS,
    PART_FRAME_TOKENS,
    REQUEST_FRAME_TOKENS,
    TOOL_FRAME_TOKENS,
    JournalSpend,
    SpendJournal,
    SpendLedger,
    answer_tokens_booked,
    prompt_tokens_bound,
    read_spend_journal,
    worst_case_cost,
)

PRICE = ModelPrice(model="m", prompt=1e-6, completion=4e-6, max_output_tokens=2000)
# One user message of one text part: what the provider may add around its text.
ONE_MESSAGE_FRAME = REQUEST_FRAME_TOKENS + MESSAGE_FRAME_TOKENS + PART_FRAME_TOKENS


def _request(text: str, *, max_tokens: int | None) -> lm15.Request:
    return lm15.Request(model="m", messages=(lm15.Message.user(text),), config=lm15.Config(max_tokens=max_tokens))


def test_worst_case_is_the_prompts_utf8_bytes_and_framing_plus_max_tokens_at_the_price() -> None:
    request = _request("x" * 400, max_tokens=50)
    assert worst_case_cost(request, PRICE) == pytest.approx((400 + ONE_MESSAGE_FRAME) * 1e-6 + 50 * 4e-6)


def test_worst_case_books_a_token_per_utf8_byte_of_cjk_text_not_a_quarter_token_per_character() -> None:
    text = "東京都の天気は晴れです。" * 40  # 480 characters, 1,440 bytes: about one token per character at a provider
    request = _request(text, max_tokens=50)
    assert prompt_tokens_bound(request) == len(text.encode()) + ONE_MESSAGE_FRAME
    assert worst_case_cost(request, PRICE) >= (len(text) + 50 * 4) * 1e-6


def test_prompt_bound_counts_tool_definitions_tool_calls_and_the_response_schema() -> None:
    tool = lm15.FunctionTool(name="lookup", description="d" * 40, parameters={"type": "object", "properties": {}})
    call = lm15.Message.assistant([lm15.ToolCallPart(id="1", name="lookup", input={"q": "é"})])
    schema = {"type": "json_schema", "schema": {"type": "object", "properties": {"answer": {"type": "string"}}}}
    request = lm15.Request(model="m", messages=(lm15.Message.user("hi"), call), tools=(tool,),
                           config=lm15.Config(max_tokens=1, response_format=schema))
    text = (2 + len("lookup") + len(json.dumps({"q": "é"}, ensure_ascii=False).encode()) + len("lookup") + 40
            + len(json.dumps(tool.parameters)) + len(json.dumps(schema)))
    frames = REQUEST_FRAME_TOKENS + 2 * (MESSAGE_FRAME_TOKENS + PART_FRAME_TOKENS) + TOOL_FRAME_TOKENS
    assert prompt_tokens_bound(request) == text + frames


def test_the_pacers_token_estimate_is_still_a_quarter_token_per_character() -> None:
    text = "東京都の天気は晴れです。" * 40
    assert estimate_tokens(_request(text, max_tokens=50)) == math.ceil(len(text) / 4) + 50


def test_without_max_tokens_the_models_largest_answer_is_booked() -> None:
    assert answer_tokens_booked(_request("hi", max_tokens=None), PRICE) == 2000


def test_without_max_tokens_or_metadata_the_default_answer_is_booked() -> None:
    price = ModelPrice(model="m", prompt=1e-6, completion=4e-6)
    assert answer_tokens_booked(_request("hi", max_tokens=None), price) == 1024


def test_settled_call_counts_its_real_cost_and_refunds_the_rest() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    assert (ledger.booked, ledger.spent) == (pytest.approx(0.4), 0.0)
    ledger.settle(booking, 0.1)
    assert (ledger.booked, ledger.spent, ledger.remaining) == (0.0, pytest.approx(0.1), pytest.approx(0.9))


def test_failed_call_is_refunded_whole() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    ledger.release(booking)
    assert (ledger.booked, ledger.spent) == (0.0, 0.0)


def test_call_without_reported_usage_keeps_its_whole_booking_as_spent() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    ledger.settle(booking, None)
    assert ledger.spent == pytest.approx(0.4)


def test_settling_twice_counts_once() -> None:
    ledger = SpendLedger(1.0)
    booking = asyncio.run(ledger.book(0.4))
    ledger.settle(booking, 0.2)
    ledger.settle(booking, 0.2)
    assert ledger.spent == pytest.approx(0.2)


def test_booking_larger_than_what_is_left_is_refused_before_sending() -> None:
    ledger = SpendLedger(1.0, spent_before=0.7)
    with pytest.raises(SpendCapReachedError, match="--max-cost") as caught:
        asyncio.run(ledger.book(0.31))
    assert (caught.value.cap_usd, caught.value.spent_usd, caught.value.needed_usd) == (1.0, 0.7, 0.31)
    assert ledger.refused == 1


def test_spend_cap_error_is_fatal_not_retryable() -> None:
    assert issubclass(SpendCapReachedError, FatalError)
    assert not issubclass(SpendCapReachedError, RetryableError)


def test_earlier_spend_counts_toward_the_cap() -> None:
    ledger = SpendLedger(1.0, spent_before=0.75)
    assert ledger.try_book(0.3) is None
    assert ledger.try_book(0.25) is not None


def test_booking_that_fits_only_after_calls_in_flight_settle_waits_for_them() -> None:
    async def scenario() -> None:
        ledger = SpendLedger(1.0)
        first = await ledger.book(0.8)
        second = asyncio.ensure_future(ledger.book(0.5))
        for _ in range(5):
            await asyncio.sleep(0)
        assert not second.done()
        ledger.settle(first, 0.1)
        booking = await second
        assert booking.amount == 0.5
        assert ledger.booked == pytest.approx(0.5)

    asyncio.run(scenario())


def test_waiting_booking_is_refused_when_the_settled_spend_leaves_too_little() -> None:
    async def scenario() -> None:
        ledger = SpendLedger(1.0)
        first = await ledger.book(0.8)
        second = asyncio.ensure_future(ledger.book(0.5))
        await asyncio.sleep(0)
        ledger.settle(first, 0.7)
        with pytest.raises(SpendCapReachedError):
            await second

    asyncio.run(scenario())


def test_fits_and_try_book_do_not_wait_or_count_refusals() -> None:
    ledger = SpendLedger(1.0)
    assert ledger.try_book(0.6) is not None
    assert not ledger.fits(0.5)
    assert ledger.try_book(0.5) is None
    assert ledger.refused == 0


@pytest.mark.parametrize("cap", [0, -1.0, float("nan"), float("inf"), True, "1"])
def test_cap_must_be_a_positive_finite_number(cap: object) -> None:
    with pytest.raises(UsageError, match="max_cost"):
        SpendLedger(cap)  # type: ignore[arg-type]


def test_many_concurrent_calls_on_two_loops_never_overshoot_the_cap() -> None:
    ledger = SpendLedger(0.05)
    overshoot: list[float] = []

    async def call(rng: random.Random) -> None:
        worst = rng.uniform(0.0005, 0.003)
        try:
            booking = await ledger.book(worst)
        except SpendCapReachedError:
            return
        await asyncio.sleep(0)
        actual = worst * rng.uniform(0.05, 1.0)
        ledger.settle(booking, actual)
        if ledger.spent > ledger.cap + 1e-12:
            overshoot.append(ledger.spent)

    def loop(seed: int) -> None:
        async def many() -> None:
            rng = random.Random(seed)
            await asyncio.gather(*(call(rng) for _ in range(400)))

        asyncio.run(many())

    threads = [threading.Thread(target=loop, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overshoot == []
    assert ledger.spent <= ledger.cap
    assert ledger.spent >= ledger.cap - 0.003  # every call that could still fit was let through
    assert ledger.booked == 0.0


def test_repr_shows_cap_spent_and_booked() -> None:
    ledger = SpendLedger(2.0, spent_before=0.5)
    assert repr(ledger) == "SpendLedger(cap=$2, spent=$0.5, booked=$0, open_bookings=0, refused=0)"


# --- the spend journal ---


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_journal_counts_settled_calls_at_their_cost_and_released_ones_at_nothing(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)
    journal.settle(journal.book("m", 0.5), 0.125)
    journal.release(journal.book("m", 0.5))
    journal.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.125)


def test_journal_counts_a_booking_never_settled_at_its_worst_case(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)
    journal.book("m", 0.5)  # in flight when the run was killed: the provider may have billed it
    journal.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.5, unsettled=1)


def test_journal_records_the_booking_before_the_settlement_as_separate_lines(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)
    number = journal.book("openai/gpt-4o-mini", 0.5)
    booked = _lines(tmp_path / "j")
    journal.settle(number, 0.25)
    journal.close()
    assert booked[-1] == {"book": number, "usd": 0.5, "model": "openai/gpt-4o-mini"}
    assert _lines(tmp_path / "j")[-1] == {"settle": number, "usd": 0.25}


def test_journal_of_a_later_run_keeps_an_earlier_runs_open_booking_apart_from_its_own_numbers(tmp_path: Path) -> None:
    first = SpendJournal(tmp_path / "j", fresh=True)
    first.book("m", 0.5)  # number 1, never settled
    first.close()
    second = SpendJournal(tmp_path / "j", fresh=False)
    second.settle(second.book("m", 0.25), 0.125)  # number 1 again, in its own run
    second.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.625, unsettled=1)


def test_fresh_journal_starts_over(tmp_path: Path) -> None:
    first = SpendJournal(tmp_path / "j", fresh=True)
    first.settle(first.book("m", 0.5), 0.5)
    first.close()
    SpendJournal(tmp_path / "j", fresh=True).close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend()


def test_journal_tolerates_a_torn_last_line_and_the_next_run_starts_on_a_line_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "j"
    first = SpendJournal(path, fresh=True)
    first.settle(first.book("m", 0.5), 0.25)
    first.close()
    with path.open("a") as file:
        file.write('{"book": 9, "us')  # a crash in the middle of a line
    assert read_spend_journal(path) == JournalSpend(usd=0.25)
    second = SpendJournal(path, fresh=False)
    second.book("m", 0.5)
    second.close()
    assert read_spend_journal(path) == JournalSpend(usd=0.75, unsettled=1)


def test_journal_of_a_model_without_a_price_counts_its_calls_as_unknown_not_free(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)
    journal.settle(journal.book("m", None), None)
    journal.book("m", None)
    journal.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(unknown=2, unsettled=1)


def test_journal_records_carried_spend_first(tmp_path: Path) -> None:
    SpendJournal(tmp_path / "j", fresh=False, carried=(0.25, 2)).close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.25, unknown=2)


def test_journal_of_a_run_that_died_before_carrying_its_rows_cost_points_at_its_rows_in_the_output(
        tmp_path: Path) -> None:
    SpendJournal(tmp_path / "j", fresh=True, rows_at=1234).close()
    assert read_spend_journal(tmp_path / "j").rows_at == 1234
    finished = SpendJournal(tmp_path / "k", fresh=True, rows_at=1234)
    finished.carry(0.5)
    finished.close()
    assert read_spend_journal(tmp_path / "k") == JournalSpend(usd=0.5)


def test_journal_lines_of_many_threads_never_interleave(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)

    def calls() -> None:
        for _ in range(500):
            journal.settle(journal.book("openai/gpt-4o-mini", 0.001), 0.0005)

    threads = [threading.Thread(target=calls) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    journal.close()
    assert len(_lines(tmp_path / "j")) == 1 + 4 * 500 * 2  # every line parses
    spend = read_spend_journal(tmp_path / "j")
    assert (spend.usd, spend.unsettled) == (pytest.approx(4 * 500 * 0.0005), 0)


def test_journal_writes_nothing_after_it_is_closed(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)
    number = journal.book("m", 0.5)
    journal.close()
    size = os.path.getsize(tmp_path / "j")
    journal.settle(number, 0.25)  # a call abandoned in a stray thread, settling after its run ended
    assert os.path.getsize(tmp_path / "j") == size


def test_journal_repr_shows_its_state(tmp_path: Path) -> None:
    journal = SpendJournal(tmp_path / "j", fresh=True)
    journal.settle(journal.book("m", 0.5), 0.25)
    journal.book("m", 0.5)
    assert repr(journal) == (f"SpendJournal(path={str(tmp_path / 'j')!r}, booked=2, open=1, settled_usd=0.25, "
                             "unknown=0, closed=False)")
    journal.close()


def test_killed_runs_batch_call_is_taken_over_by_a_later_runs_batch_call_of_the_same_request(tmp_path: Path) -> None:
    killed = SpendJournal(tmp_path / "j", fresh=True)
    killed.book("m", 0.5, batch_key="ab12")  # its line waits in a batch when the run dies
    killed.close()
    resumed = SpendJournal(tmp_path / "j", fresh=False)
    resumed.settle(resumed.book("m", 0.5, batch_key="ab12"), 0.125)  # reattached: the line is billed once
    resumed.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.125)


def test_killed_runs_batch_call_no_later_run_takes_over_counts_at_its_worst_case(tmp_path: Path) -> None:
    killed = SpendJournal(tmp_path / "j", fresh=True)
    killed.book("m", 0.5, batch_key="ab12")
    killed.close()
    resumed = SpendJournal(tmp_path / "j", fresh=False)
    resumed.settle(resumed.book("m", 0.5), 0.125)  # the same request sent online: billed again
    resumed.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.625, unsettled=1)


def test_batch_line_an_earlier_run_settled_counts_once_when_a_later_run_reattaches_to_it(tmp_path: Path) -> None:
    killed = SpendJournal(tmp_path / "j", fresh=True)
    killed.settle(killed.book("m", 0.5, batch_key="ab12"), 0.125)  # answered; the row was not written
    killed.close()
    resumed = SpendJournal(tmp_path / "j", fresh=False)
    resumed.settle(resumed.book("m", 0.5, batch_key="ab12"), 0.125)  # the same line's answer, not billed again
    resumed.settle(resumed.book("m", 0.5, batch_key="ab12"), 0.125)  # the same request once more: a new line
    resumed.close()
    assert read_spend_journal(tmp_path / "j") == JournalSpend(usd=0.25)
