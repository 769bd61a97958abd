"""SimulatorStats snapshots and the counters behind them."""

from __future__ import annotations

import json

from sharedlm.simulator import SimulatorStats
from sharedlm.simulator._stats import FAULT_KINDS, RATE_LIMIT_REASONS, Counters


def test_as_dict_survives_json_and_from_dict() -> None:
    stats = SimulatorStats(requests=5, responses_by_status={200: 3, 429: 2}, in_flight=1, peak_in_flight=4,
                           distinct_connections=2, rate_limited=2, rate_limited_by={"concurrency": 2, "rpm": 0,
                                                                                    "tpm": 0},
                           faults={"error_500": 0, "error_503": 0, "reset": 0, "hang": 1}, abandoned=1,
                           prompt_tokens=10, completion_tokens=20)
    assert SimulatorStats.from_dict(json.loads(json.dumps(stats.as_dict()))) == stats


def test_empty_snapshot_lists_every_fault_kind_and_rate_limit_reason() -> None:
    data = Counters().snapshot().as_dict()
    assert set(data["faults"]) == set(FAULT_KINDS)
    assert set(data["rate_limited_by"]) == set(RATE_LIMIT_REASONS)
    assert data["responses_by_status"] == {}
    assert data["requests"] == 0


def test_reset_keeps_requests_in_flight_and_makes_them_the_new_peak() -> None:
    counters = Counters()
    for _ in range(3):
        counters.enter()
    counters.in_flight -= 1
    counters.requests = 9
    counters.reset()
    snapshot = counters.snapshot()
    assert (snapshot.in_flight, snapshot.peak_in_flight, snapshot.requests) == (2, 2, 0)


def test_rate_limited_is_the_sum_over_reasons() -> None:
    counters = Counters()
    counters.rate_limited_by["rpm"] += 2
    counters.rate_limited_by["tpm"] += 1
    assert counters.snapshot().rate_limited == 3


def test_snapshot_is_a_copy() -> None:
    counters = Counters()
    snapshot = counters.snapshot()
    counters.count_status(200)
    assert snapshot.responses_by_status == {}
    assert counters.snapshot().ok == 1
