"""RateBudget: no 60 s window admits more than per_minute, steady throughput stays within 2 % of it,
and reservations, refunds and debits keep FIFO order and the window guarantee."""

from __future__ import annotations

import random
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharedlm._errors import ConfigurationError
from sharedlm._flow import RateBudget, book_together
from sharedlm._flow._budget import WINDOW_S

# Sums of float token amounts may drift by a few ulps; the budget allows 1e-12 of per_minute for it.
TOLERANCE = 1e-9


def busiest_window(sends: list[tuple[float, float]], window: float = WINDOW_S) -> float:
    """The largest total of any window (open at its start, closed at its end) over (time, amount) sends."""
    ordered = sorted(sends)
    best = total = 0.0
    start = 0
    for at, amount in ordered:
        total += amount
        while ordered[start][0] <= at - window:
            total -= ordered[start][1]
            start += 1
        best = max(best, total)
    return best


def test_pacing_rate_and_burst_add_up_to_per_minute(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    assert budget.rate == pytest.approx(10.0)
    assert budget.capacity == pytest.approx(10.0)
    assert budget.capacity + WINDOW_S * budget.rate == pytest.approx(610)


def test_a_fresh_budget_sends_its_burst_at_once_then_paces(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    delays = [budget.reserve(1) for _ in range(12)]
    assert delays[:10] == [0.0] * 10
    assert delays[10:] == pytest.approx([0.1, 0.2])


def test_an_idle_spell_refills_the_burst(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    for _ in range(30):
        budget.reserve(1)
    clock.advance(10)
    assert [budget.reserve(1) for _ in range(10)] == [0.0] * 10


def test_no_60s_window_admits_more_than_per_minute_under_saturation(clock):
    budget = RateBudget(per_minute=600, clock=clock)
    sends = [(clock() + budget.reserve(1), 1.0) for _ in range(5_000)]
    assert busiest_window(sends) <= 600


def test_steady_throughput_is_within_two_percent_of_per_minute(clock):
    budget = RateBudget(per_minute=600, clock=clock)
    times = [clock() + budget.reserve(1) for _ in range(5_000)]
    per_minute = (len(times) - 1) / (times[-1] - times[0]) * WINDOW_S
    assert 0.98 * 600 <= per_minute <= 600


def test_a_longer_window_keeps_every_window_of_that_length(clock):
    budget = RateBudget(per_minute=600, clock=clock, window_seconds=61.0)
    sends = [(clock() + budget.reserve(1), 1.0) for _ in range(5_000)]
    assert busiest_window(sends, window=61.0) <= 600


def test_a_longer_window_absorbs_a_second_of_jitter_in_any_60s_window(clock):
    budget = RateBudget(per_minute=600, clock=clock, window_seconds=61.0)
    start = clock()
    booked = [start + budget.reserve(1) for _ in range(5_000)]
    # The worst case for the receiver's first minute: the first half-minute's sends arrive 0.5 s late and
    # the rest 0.5 s early, squeezing 61 s of bookings into 60 s of arrivals.
    arrivals = [(at + (0.5 if at < start + 30 else -0.5), 1.0) for at in booked]
    assert busiest_window(arrivals) <= 600


def test_window_shorter_than_a_minute_is_refused(clock):
    with pytest.raises(ConfigurationError, match="window_seconds"):
        RateBudget(per_minute=600, clock=clock, window_seconds=30.0)


def test_send_times_follow_reservation_order(clock):
    budget = RateBudget(per_minute=6_100, clock=clock)
    rng = random.Random(7)
    times = []
    for _ in range(2_000):
        clock.advance(rng.random() * 0.01)
        times.append(budget.book(rng.choice([1, 50, 150, 2_000])).send_at)
    assert times == sorted(times)


def test_a_reservation_larger_than_the_burst_does_not_overfill_the_minute(clock):
    # A plain bucket lets a steady stream fill the minute, then sends 1,000 at once as soon as it is full
    # again: the minute ending at that send holds about 6,000 + 1,000.
    budget = RateBudget(per_minute=6_100, clock=clock)  # rate 100/s, burst 100
    sends = [(budget.book(10).send_at, 10.0) for _ in range(700)]
    sends.append((budget.book(1_000).send_at, 1_000.0))
    sends += [(budget.book(10).send_at, 10.0) for _ in range(700)]
    assert busiest_window(sends) <= 6_100


def _simulate(seed: int, per_minute: float, refund_share: float) -> list[list[float]]:
    """Random arrivals and amounts (some above the burst, some above per_minute) with exact refunds.

    Returns [send time, effective amount] per reservation.
    """
    rng = random.Random(seed)
    now = [0.0]
    budget = RateBudget(per_minute=per_minute, clock=lambda: now[0])
    sends: list[list[float]] = []
    bookings = []
    for _ in range(5_000):
        now[0] += rng.expovariate(1.0) * rng.choice([0.001, 0.01, 0.1, 1.0])
        booking = budget.book(rng.choice([1.0, per_minute / 100, per_minute / 20, per_minute / 3, per_minute * 1.5]))
        sends.append([booking.send_at, booking.amount])
        bookings.append(booking)
        if rng.random() < refund_share:
            index = rng.randrange(max(0, len(sends) - 50), len(sends))
            give = rng.uniform(0, sends[index][1])  # a cancellation, or an estimate above the real usage
            budget.refund(give, reservation=bookings[index])
            sends[index][1] -= give
    return sends


@pytest.mark.parametrize("seed", range(6))
def test_random_load_with_large_reservations_keeps_every_window(seed: int):
    per_minute = [30.0, 600.0, 30_000.0][seed % 3]
    sends = _simulate(seed, per_minute, refund_share=0.0)
    assert busiest_window([(t, a) for t, a in sends]) <= per_minute * (1 + TOLERANCE)


@pytest.mark.parametrize("seed", range(6))
def test_random_load_with_exact_refunds_keeps_every_window_of_real_usage(seed: int):
    per_minute = [30.0, 600.0, 30_000.0][seed % 3]
    sends = _simulate(seed, per_minute, refund_share=0.3)
    assert busiest_window([(t, a) for t, a in sends]) <= per_minute * (1 + TOLERANCE)


@settings(max_examples=60, deadline=None)
@given(
    per_minute=st.floats(min_value=1.0, max_value=1e6),
    burst=st.floats(min_value=0.05, max_value=10.0),
    steps=st.lists(st.tuples(st.floats(0.0, 5.0), st.floats(0.0, 2.0), st.floats(0.0, 1.0)), max_size=150),
)
def test_any_sequence_of_reservations_and_refunds_keeps_every_window(per_minute, burst, steps):
    now = [0.0]
    budget = RateBudget(per_minute=per_minute, clock=lambda: now[0], burst_seconds=burst)
    sends: list[list[float]] = []
    bookings = []
    for gap, share, refund in steps:
        now[0] += gap
        booking = budget.book(per_minute * share)
        sends.append([booking.send_at, booking.amount])
        bookings.append(booking)
        if refund > 0.5:  # give back part of an earlier booking, exactly
            index = int(refund * 1000) % len(sends)
            give = sends[index][1] * (refund - 0.5)
            budget.refund(give, reservation=bookings[index])
            sends[index][1] -= give
    assert busiest_window([(t, a) for t, a in sends]) <= per_minute * (1 + TOLERANCE)


def test_cancelling_a_queued_reservation_gives_its_slot_to_the_next(clock):
    budget = RateBudget(per_minute=610, clock=clock)  # rate 10/s, burst 10
    for _ in range(11):
        budget.reserve(1)
    cancelled = budget.book(1)
    budget.refund(1, reservation=cancelled)
    assert budget.book(1).send_at == cancelled.send_at


def test_without_the_cancellation_the_next_reservation_waits_longer(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    for _ in range(11):
        budget.reserve(1)
    kept = budget.book(1)
    assert budget.book(1).send_at == pytest.approx(kept.send_at + 0.1)


def test_a_refund_with_its_reservation_frees_the_minute_at_once(clock):
    budget = RateBudget(per_minute=6_100, clock=clock)  # rate 100/s, burst 100
    estimate = budget.book(6_000)
    budget.refund(5_900, reservation=estimate)  # the response used 100 tokens
    clock.advance(1)
    assert budget.reserve(200) == 0.0


def test_a_refund_without_its_reservation_leaves_the_minute_counting_the_booking(clock):
    budget = RateBudget(per_minute=6_100, clock=clock)
    estimate = budget.book(6_000)
    budget.refund(5_900)
    clock.advance(1)
    assert budget.book(200).send_at == pytest.approx(estimate.send_at + WINDOW_S)


def test_a_refund_is_capped_at_what_the_reservation_booked(clock):
    budget = RateBudget(per_minute=600, clock=clock)
    booking = budget.book(5)
    budget.refund(500, reservation=booking)
    assert budget.snapshot().refunded == 5


def test_a_refund_without_the_reservation_returns_tokens_to_the_bucket(clock):
    budget = RateBudget(per_minute=610, clock=clock)  # burst 10
    for _ in range(10):
        budget.reserve(1)
    budget.refund(10)
    assert [budget.reserve(1) for _ in range(10)] == [0.0] * 10


def test_refunds_without_the_reservation_cannot_overfill_the_minute(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    sends = []
    for _ in range(2_000):
        sends.append((clock() + budget.reserve(1), 1.0))
        budget.refund(1)  # the pacing bucket gets it back, the minute log keeps counting it
    assert busiest_window(sends) <= 610
    assert sends[610][0] - clock() >= WINDOW_S


def test_a_negative_refund_is_an_extra_debit(clock):
    budget = RateBudget(per_minute=610, clock=clock)  # rate 10/s, burst 10
    booking = budget.book(10)
    budget.refund(-10, reservation=booking)  # the request used twice its estimate
    assert budget.reserve(1) == pytest.approx(1.1)


def test_a_reservation_above_per_minute_is_booked_as_per_minute_and_goes_alone(clock):
    budget = RateBudget(per_minute=600, clock=clock)
    before = [budget.book(1) for _ in range(50)]
    huge = budget.book(10_000)
    after = budget.book(1)
    assert huge.amount == 600
    assert huge.send_at - before[-1].send_at >= WINDOW_S
    assert after.send_at - huge.send_at >= WINDOW_S


def test_a_reservation_above_per_minute_on_an_idle_budget_goes_at_once(clock):
    assert RateBudget(per_minute=600, clock=clock).reserve(10_000) == 0.0


def test_available_is_the_burst_when_idle_and_negative_while_queued(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    assert budget.available == pytest.approx(10)
    for _ in range(15):
        budget.reserve(1)
    assert budget.available == pytest.approx(-5)
    clock.advance(5)
    assert budget.available == pytest.approx(10)


def test_booking_together_gives_both_budgets_one_send_time(clock):
    requests = RateBudget(per_minute=610, clock=clock, name="requests")  # 10 per second
    tokens = RateBudget(per_minute=6_100, clock=clock, name="tokens")  # 100 per second
    request_sends, token_sends = [], []
    for _ in range(300):
        one, many = book_together([(requests, 1), (tokens, 50)])
        assert one.send_at == many.send_at
        request_sends.append((one.send_at, 1.0))
        token_sends.append((many.send_at, 50.0))
    assert busiest_window(request_sends) <= 610
    assert busiest_window(token_sends) <= 6_100


def test_booking_one_budget_together_is_an_ordinary_booking(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    for _ in range(10):
        budget.reserve(1)
    (booking,) = book_together([(budget, 1)])
    assert booking.delay == pytest.approx(0.1)


def test_a_later_common_time_does_not_let_the_other_budget_overfill(clock):
    requests = RateBudget(per_minute=61, clock=clock, name="requests")  # 1 per second
    tokens = RateBudget(per_minute=6_100, clock=clock, name="tokens")  # 100 per second
    token_sends = []
    for index in range(400):
        if index % 2:
            (alone,) = book_together([(tokens, 300)])
            token_sends.append((alone.send_at, 300.0))
        else:
            _, paired = book_together([(requests, 1), (tokens, 300)])
            token_sends.append((paired.send_at, 300.0))
    assert busiest_window(token_sends) <= 6_100


def test_three_budgets_booked_together_share_the_latest_send_time(clock):
    fast = RateBudget(per_minute=6_100, clock=clock)
    slow = RateBudget(per_minute=61, clock=clock)  # 1 per second, burst 1
    other = RateBudget(per_minute=610, clock=clock)
    slow.reserve(1)
    bookings = book_together([(fast, 1), (slow, 1), (other, 1)])
    assert [b.send_at for b in bookings] == [clock() + 1.0] * 3


def test_booking_the_same_budget_twice_together_is_refused(clock):
    budget = RateBudget(per_minute=60, clock=clock)
    with pytest.raises(ValueError, match="same budget twice"):
        book_together([(budget, 1), (budget, 1)])


def test_booking_the_same_budget_twice_among_three_is_refused(clock):
    budget = RateBudget(per_minute=60, clock=clock)
    other = RateBudget(per_minute=60, clock=clock)
    with pytest.raises(ValueError, match="same budget twice"):
        book_together([(budget, 1), (other, 1), (budget, 1)])


def test_reservations_from_several_threads_are_all_booked_within_the_windows(clock):
    budget = RateBudget(per_minute=600, clock=clock)
    results: list[list[float]] = [[] for _ in range(4)]

    def worker(out: list[float]) -> None:
        for _ in range(500):
            out.append(budget.book(1).send_at)

    threads = [threading.Thread(target=worker, args=(out,)) for out in results]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert budget.snapshot().reservations == 2_000
    assert all(out == sorted(out) for out in results)
    assert busiest_window([(t, 1.0) for out in results for t in out]) <= 600


@pytest.mark.parametrize("per_minute", [0, -1, float("inf"), float("nan"), True])
def test_per_minute_must_be_a_positive_number(clock, per_minute):
    with pytest.raises(ConfigurationError, match="tokens budget per minute"):
        RateBudget(per_minute=per_minute, clock=clock, name="tokens")


@pytest.mark.parametrize("amount", [-1, float("nan"), float("inf")])
def test_a_reservation_must_be_a_finite_amount_from_zero(clock, amount: float):
    with pytest.raises(ValueError, match="reservation of requests"):
        RateBudget(per_minute=60, clock=clock).reserve(amount)


def test_a_refund_must_be_finite(clock):
    with pytest.raises(ValueError, match="refund"):
        RateBudget(per_minute=60, clock=clock).refund(float("nan"))


def test_repr_shows_the_queue(clock):
    budget = RateBudget(per_minute=610, clock=clock)
    for _ in range(15):
        budget.reserve(1)
    assert repr(budget) == "RateBudget(name='requests', per_minute=610, reservations=15, delayed=5, queued_for=0.500s)"
