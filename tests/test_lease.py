"""The leased in-flight budget: the coordinator's ledger on a fake clock, and the gate that leases from it."""

from __future__ import annotations

import asyncio

import pytest

from sharedlm._admission import InFlightGate
from sharedlm._lease import (
    LeasedGate,
    LeaseLedger,
    LocalBudgetSource,
    SharedBudget,
    give_back_all,
    install_shared_budget,
    make_gate,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


# --- the ledger ---


def test_a_grant_never_exceeds_what_is_free() -> None:
    ledger = LeaseLedger(10, clock=FakeClock())

    assert (ledger.grant("a", 8), ledger.grant("b", 8), ledger.grant("c", 8)) == (8, 2, 0)
    assert ledger.free == 0


def test_slots_given_back_can_be_granted_to_another_holder() -> None:
    ledger = LeaseLedger(10, clock=FakeClock())
    ledger.grant("a", 10)

    ledger.give_back("a", 6)

    assert ledger.grant("b", 8) == 6
    assert ledger.holdings() == {"a": 4, "b": 6}


def test_a_holder_that_gives_everything_back_leaves_the_books() -> None:
    ledger = LeaseLedger(10, clock=FakeClock())
    ledger.grant("a", 3)

    ledger.give_back("a", 5)

    assert ledger.holdings() == {}
    assert ledger.free == 10


def test_a_holder_above_its_fair_share_is_told_to_give_back_the_excess_while_another_waits() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    ledger.grant("busy", 16)

    assert ledger.grant("late", 4) == 0
    assert ledger.grant("busy", 4) == -8  # two holders want slots: 8 each


def test_while_another_holder_is_short_a_grant_stops_at_the_fair_share() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    ledger.grant("busy", 16)
    ledger.grant("late", 4)

    ledger.give_back("busy", 8)

    assert (ledger.grant("busy", 8), ledger.grant("late", 16)) == (0, 8)


def test_a_holder_that_stops_renewing_loses_its_slots_after_the_lease_time() -> None:
    clock = FakeClock()
    ledger = LeaseLedger(10, lease_s=5.0, clock=clock)
    ledger.grant("lost", 7)
    clock.now += 4.0
    ledger.grant("alive", 1)

    clock.now += 1.5

    assert ledger.grant("alive", 9) == 9
    assert ledger.holdings() == {"alive": 10}
    assert ledger.expired == 7


def test_a_renewed_lease_outlives_the_lease_time() -> None:
    clock = FakeClock()
    ledger = LeaseLedger(10, lease_s=5.0, clock=clock)
    ledger.grant("a", 4)

    for _ in range(4):
        clock.now += 4.0
        assert ledger.renew("a") == 4

    assert ledger.holdings() == {"a": 4}


def test_renewing_an_expired_lease_reports_nothing_held() -> None:
    clock = FakeClock()
    ledger = LeaseLedger(10, lease_s=5.0, clock=clock)
    ledger.grant("a", 4)
    clock.now += 6.0

    assert ledger.renew("a") == 0
    assert ledger.free == 10


@pytest.mark.parametrize("total", [0, -1, True, 2.5])
def test_a_budget_that_is_not_a_positive_whole_number_is_refused(total: object) -> None:
    with pytest.raises(ValueError, match="total"):
        LeaseLedger(total)  # type: ignore[arg-type]


# --- the gate ---


def leased_gate(ledger: LeaseLedger, holder: str, *, limit: int = 100, block: int = 4) -> LeasedGate:
    return LeasedGate(limit, source=LocalBudgetSource(ledger), holder=holder, block=block, lease_s=60.0)


async def settle() -> None:
    """Let the gate's background lease requests (instant, on a local ledger) run."""
    for _ in range(20):
        await asyncio.sleep(0)


async def test_a_gate_with_no_lease_admits_nothing_until_a_block_arrives() -> None:
    ledger = LeaseLedger(8, clock=FakeClock())
    gate = leased_gate(ledger, "a")

    assert gate.try_acquire() is False
    await asyncio.wait_for(gate.acquire(), 5)

    assert gate.in_flight == 1
    assert gate.leased == 4
    assert ledger.holdings() == {"a": 4}


async def test_a_busy_gate_leases_the_whole_budget_and_never_more() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gate = leased_gate(ledger, "a")

    await asyncio.wait_for(asyncio.gather(*(gate.acquire() for _ in range(16))), 5)
    extra = asyncio.ensure_future(gate.acquire())
    await settle()

    assert gate.in_flight == 16
    assert gate.leased == 16
    assert not extra.done()
    gate.release()
    await asyncio.wait_for(extra, 5)
    assert gate.in_flight == 16
    assert ledger.free == 0


async def test_an_idle_gate_gives_back_all_but_one_block() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gate = leased_gate(ledger, "a")
    await asyncio.wait_for(asyncio.gather(*(gate.acquire() for _ in range(16))), 5)

    for _ in range(16):
        gate.release()
    await settle()

    assert gate.in_flight == 0
    assert gate.leased == 4
    assert ledger.free == 12


async def test_slots_one_gate_gives_back_serve_another_that_waits() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    first, second = leased_gate(ledger, "first"), leased_gate(ledger, "second")
    await asyncio.wait_for(asyncio.gather(*(first.acquire() for _ in range(16))), 5)
    waiting = [asyncio.ensure_future(second.acquire()) for _ in range(10)]
    await settle()
    assert not any(task.done() for task in waiting)

    for _ in range(16):
        first.release()
    await asyncio.wait_for(asyncio.gather(*waiting), 5)

    assert second.in_flight == 10
    assert first.leased + second.leased <= 16


async def test_two_busy_gates_end_up_sharing_the_budget_evenly() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    first, second = leased_gate(ledger, "first"), leased_gate(ledger, "second")
    await asyncio.wait_for(asyncio.gather(*(first.acquire() for _ in range(16))), 5)
    late = [asyncio.ensure_future(second.acquire()) for _ in range(16)]
    more = [asyncio.ensure_future(first.acquire()) for _ in range(16)]  # the first still has work
    await settle()

    for _ in range(8):
        first.release()
    await asyncio.wait_for(asyncio.gather(*late[:8]), 5)

    assert (first.in_flight, second.in_flight) == (8, 8)
    assert not any(task.done() for task in more)
    for task in [*late, *more]:
        task.cancel()


async def test_the_gate_admits_no_more_than_its_own_limit_whatever_it_leased() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gate = leased_gate(ledger, "a", limit=5)

    await asyncio.wait_for(asyncio.gather(*(gate.acquire() for _ in range(5))), 5)
    await settle()

    assert gate.try_acquire() is False
    assert gate.limit == 5
    assert gate.leased <= 5


async def test_closing_the_gate_gives_its_whole_lease_back() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gate = leased_gate(ledger, "a")
    await asyncio.wait_for(gate.acquire(), 5)
    gate.release()

    await gate.close()

    assert gate.leased == 0
    assert ledger.free == 16


async def test_a_gate_gives_its_whole_lease_back_at_once_on_a_clean_shutdown() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gate = leased_gate(ledger, "a")
    await asyncio.wait_for(gate.acquire(), 5)
    gate.release()

    gate.give_back_now()  # no await: from reset_shared_lm, an atexit hook or another thread

    assert (gate.leased, ledger.free) == (0, 16)


async def test_a_gate_that_gave_its_lease_back_leases_again_for_the_next_call() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gate = leased_gate(ledger, "a")
    await asyncio.wait_for(gate.acquire(), 5)
    gate.release()
    gate.give_back_now()

    await asyncio.wait_for(gate.acquire(), 5)

    assert (gate.in_flight, gate.leased) == (1, 4)


async def test_at_exit_every_live_gate_of_the_process_gives_its_lease_back() -> None:
    ledger = LeaseLedger(16, clock=FakeClock())
    gates = [leased_gate(ledger, "first"), leased_gate(ledger, "second")]
    for gate in gates:
        await asyncio.wait_for(gate.acquire(), 5)
        gate.release()

    give_back_all()

    assert ledger.holdings() == {}


class FlakySource(LocalBudgetSource):
    """A local ledger that cannot be reached until ``reachable`` is set."""

    def __init__(self, ledger: LeaseLedger) -> None:
        super().__init__(ledger)
        self.reachable = asyncio.Event()
        self.refused = asyncio.Event()

    async def grant(self, holder: str, want: int) -> int:
        if not self.reachable.is_set():
            self.refused.set()
            raise ConnectionError("budget server down")
        return await super().grant(holder, want)


async def test_calls_wait_while_the_budget_cannot_be_reached_and_go_once_it_can() -> None:
    source = FlakySource(LeaseLedger(8, clock=FakeClock()))
    gate = LeasedGate(8, source=source, holder="a", block=4)
    gate.unreachable_retry_s = 0.001
    waiting = asyncio.ensure_future(gate.acquire())
    await asyncio.wait_for(source.refused.wait(), 5)
    assert not waiting.done()
    assert gate.unreachable

    source.reachable.set()
    await asyncio.wait_for(waiting, 5)

    assert gate.in_flight == 1
    assert not gate.unreachable


def test_without_a_shared_budget_an_engine_gets_a_plain_local_gate(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHAREDLM_BUDGET_URL", raising=False)
    install_shared_budget(None)

    assert type(make_gate(8)) is InFlightGate


def test_with_a_shared_budget_installed_an_engine_gets_a_leased_gate() -> None:
    source = LocalBudgetSource(LeaseLedger(8))
    install_shared_budget(SharedBudget(source=source, holder="p1", block=2))
    try:
        gate = make_gate(8)
    finally:
        install_shared_budget(None)

    assert isinstance(gate, LeasedGate)
    assert gate.lease_stats() == {
        "lease_held": 0, "lease_block": 2, "budget_owner": "this process"}
