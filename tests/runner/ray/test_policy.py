"""Behaviour of the Ray driver's redelivery policy, without Ray: rows of dead workers, isolation, replacements."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from sharedlm.runner._ray._policy import RedeliveryPolicy, RowFate


@dataclass
class Worker:
    name: str
    outstanding: int = 0
    ready: bool = True
    isolating: bool = False


def test_a_row_goes_out_again_after_its_first_death_alone_after_its_second_and_is_given_up_at_its_third() -> None:
    policy = RedeliveryPolicy(workers=2)

    fates = [policy.row_lost("r1") for _ in range(3)]

    assert fates == [RowFate.AGAIN, RowFate.ALONE, RowFate.GIVE_UP]
    assert policy.deaths("r1") == 3
    assert policy.deaths("r2") == 0


def test_deaths_are_counted_per_row() -> None:
    policy = RedeliveryPolicy(workers=1)

    policy.row_lost("a")

    assert policy.row_lost("b") is RowFate.AGAIN


def test_replacements_are_limited_per_worker_the_run_began_with() -> None:
    policy = RedeliveryPolicy(workers=2, replacements_per_worker=2)

    taken = [policy.take_replacement() for _ in range(5)]

    assert taken == [True, True, True, True, False]
    assert policy.replaced == 4
    assert "replacements_left=0" in repr(policy)


def test_ordinary_rows_go_to_the_least_busy_ready_worker() -> None:
    workers = [Worker("busy", 5), Worker("starting", 0, ready=False), Worker("light", 2), Worker("alone", 0,
                                                                                                  isolating=True)]

    target = RedeliveryPolicy.dispatch(workers, suspects_waiting=False)

    assert target.alone is None
    assert target.rows is workers[2]


def test_a_waiting_suspect_goes_alone_to_an_idle_worker() -> None:
    workers = [Worker("busy", 3), Worker("idle", 0)]

    target = RedeliveryPolicy.dispatch(workers, suspects_waiting=True)

    assert target.alone is workers[1]
    assert target.rows is None


def test_while_a_suspect_waits_the_least_busy_worker_takes_no_new_rows() -> None:
    workers = [Worker("a", 4), Worker("b", 1), Worker("c", 2)]

    target = RedeliveryPolicy.dispatch(workers, suspects_waiting=True)

    assert target.alone is None
    assert target.rows is workers[2]


def test_with_no_ready_worker_nothing_is_sent() -> None:
    target = RedeliveryPolicy.dispatch([Worker("down", ready=False)], suspects_waiting=True)

    assert target.alone is None
    assert target.rows is None


def test_thresholds_must_make_sense() -> None:
    with pytest.raises(ValueError, match="isolate_after"):
        RedeliveryPolicy(workers=1, max_deaths=2, isolate_after=3)
