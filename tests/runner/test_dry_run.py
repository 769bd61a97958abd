"""The dry run's sample (rows spread over the whole input, read as a stream) and its projection."""

from __future__ import annotations

import pytest

from sharedlm._pricing import ModelPrice
from sharedlm.runner._cost import RunCost
from sharedlm.runner._dry_run import Projection, count_all, project, rows_at, spread_positions
from sharedlm.runner._source import SourceRow


def source(count: int) -> list[SourceRow]:
    return [SourceRow(number=n + 1, fields={"id": n}, where=f"line {n + 1}") for n in range(count)]


def test_sample_positions_spread_from_start_to_end() -> None:
    assert spread_positions(100, 4) == [12, 37, 62, 87]


def test_sample_of_at_least_the_whole_input_is_every_row() -> None:
    assert spread_positions(3, 10) == [0, 1, 2]


def test_sample_positions_are_distinct_and_in_range() -> None:
    positions = spread_positions(7, 6)
    assert len(positions) == 6 == len(set(positions))
    assert all(0 <= p < 7 for p in positions)


def test_rows_at_takes_the_rows_at_the_positions_from_a_stream() -> None:
    taken = rows_at(iter(source(10)), [1, 5, 9])
    assert [row.fields["id"] for row in taken] == [1, 5, 9]  # type: ignore[index]


def test_rows_at_stops_reading_after_the_last_position() -> None:
    read: list[int] = []

    def rows() -> object:
        for row in source(1000):
            read.append(row.number)
            yield row

    assert len(list(rows_at(rows(), [0, 2]))) == 2  # type: ignore[arg-type]
    assert len(read) == 4


def test_count_all_counts_a_stream() -> None:
    assert count_all(iter(source(42))) == 42


def test_projection_scales_the_sample_to_the_full_run() -> None:
    cost = RunCost(price=ModelPrice(model="m", prompt=1e-6, completion=2e-6), model="m")
    cost.row_cost({"m": [{"prompt_tokens": 1000, "completion_tokens": 100}]})
    projection = project(cost=cost, sampled=10, total=1000, failed=0, prompt_tokens=1000, completion_tokens=100,
                         latency_sum_s=20.0, concurrency=50)
    assert projection.cost == pytest.approx(100 * 1.2e-3)
    assert (projection.prompt_tokens, projection.completion_tokens) == (100_000, 10_000)
    assert projection.time_s == pytest.approx(1000 * 2.0 / 50)
    assert "from --price" in "\n".join(projection.lines())


def test_projection_of_an_unpriced_model_says_cost_unknown() -> None:
    projection = Projection(sampled=1, total=10, sample_cost=None, sample_prompt_tokens=1, sample_completion_tokens=1,
                            sample_failed=0, mean_latency_s=0.1, concurrency=1, prices=())
    assert projection.cost is None
    assert any("unknown" in line and "--price" in line for line in projection.lines())


def _projection(*, sample_cost: float | None, cap: float | None) -> Projection:
    return Projection(sampled=10, total=1000, sample_cost=sample_cost, sample_prompt_tokens=1,
                      sample_completion_tokens=1, sample_failed=0, mean_latency_s=0.1, concurrency=1, prices=(),
                      cap=cap)


def test_projection_under_the_cap_says_it_fits() -> None:
    line = _projection(sample_cost=0.01, cap=1.5).cap_line()  # $1.00 projected
    assert line == "  cap     $1.5000 (--max-cost): the projected cost fits, with $0.5000 to spare"


def test_projection_over_the_cap_says_about_how_many_rows_the_cap_pays_for() -> None:
    projection = _projection(sample_cost=0.01, cap=0.25)  # $0.001 a row: the cap pays for 250 rows
    assert projection.rows_under_cap == 250
    assert projection.cap_line() == ("  cap     $0.2500 (--max-cost): the projected cost does not fit; at the sample's "
                                     "average row cost it pays for about 250 of 1,000 rows")
    assert projection.cap_line() in projection.lines()


def test_projection_without_a_cap_has_no_cap_line() -> None:
    assert _projection(sample_cost=0.01, cap=None).cap_line() is None
