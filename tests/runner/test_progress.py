"""Behaviour of the progress snapshot, the plain progress lines and the summary table."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from _http_servers import wait_until
from sharedlm.runner._core import RunCounters
from sharedlm.runner._progress import ProgressSnapshot, format_duration, start_progress
from sharedlm.runner._summary import RunReport, print_summary


def counters(**values: int) -> RunCounters:
    c = RunCounters()
    for name, value in values.items():
        setattr(c, name, value)
    return c


def test_the_snapshot_computes_rate_and_eta_from_the_total() -> None:
    snap = ProgressSnapshot(counters(succeeded=90, failed=10, skipped=100), total=400, started=0.0, now=10.0)

    assert snap.rate == 10.0
    assert snap.eta == 20.0
    assert "200/400 rows (50%)" in snap.line()
    assert "ETA 20.0s" in snap.line()


def test_without_a_total_there_is_no_eta() -> None:
    snap = ProgressSnapshot(counters(succeeded=5), total=None, started=0.0, now=1.0)

    assert snap.eta is None
    assert "ETA" not in snap.line()
    assert "5 rows" in snap.line()


def test_the_line_shows_the_engine_when_it_reports() -> None:
    snap = ProgressSnapshot(counters(), total=None, started=0.0, now=1.0, engine={"in_flight": 7, "queued": 3})

    assert "engine in flight 7, queued 3" in snap.line()


def test_durations_are_readable() -> None:
    assert [format_duration(s) for s in (4.25, 65, 3725)] == ["4.2s", "1m05s", "1h02m05s"]


async def test_plain_progress_prints_a_line_every_interval_when_not_a_terminal() -> None:
    stream = io.StringIO()
    display = start_progress(counters(succeeded=3), total=10, label="job", stream=stream, interval=0.01,
                             engine=lambda: None)
    await wait_until(lambda: stream.getvalue().count("\n") >= 1, within=30.0)  # one line from the interval
    await display.close()  # and one at the end

    lines = stream.getvalue().splitlines()
    assert len(lines) >= 2
    assert all(line.startswith("sharedlm: job: 3/10 rows") for line in lines)


async def test_progress_off_prints_nothing() -> None:
    stream = io.StringIO()
    display = start_progress(counters(), total=1, label="job", mode="off", stream=stream, interval=0.01)
    await asyncio.sleep(0.03)
    await display.close()

    assert stream.getvalue() == ""


async def test_rich_progress_renders_counts() -> None:
    stream = io.StringIO()
    display = start_progress(counters(succeeded=2), total=4, label="job", mode="rich", stream=stream,
                             engine=lambda: None)
    await display.close()

    assert "2/4 rows" in stream.getvalue()


def test_the_summary_lists_rows_time_tokens_and_engine_stats() -> None:
    report = RunReport(succeeded=8, failed=2, skipped=5, not_run=0, wall_s=2.0, prompt_tokens=100,
                       completion_tokens=20, retries=1, interrupted=False, output=Path("out.jsonl"),
                       engine={"requests_sent": 12, "errors_by_kind": {"RateLimitedError": 2}})
    stream = io.StringIO()

    print_summary(report, stream=stream)

    text = stream.getvalue()
    for expected in ("rows ok", "rows failed", "rows skipped", "wall time", "rows/s", "5.0", "120 (100 + 20)",
                     "engine requests sent", "RateLimitedError 2", "out.jsonl"):
        assert expected in text
    assert report.exit_code == 1


def test_exit_codes_follow_the_outcome() -> None:
    def report(**changes: object) -> RunReport:
        base: dict[str, object] = {"succeeded": 1, "failed": 0, "skipped": 0, "not_run": 0, "wall_s": 1.0,
                                   "prompt_tokens": 0, "completion_tokens": 0, "retries": 0, "interrupted": False}
        return RunReport(**{**base, **changes})  # type: ignore[arg-type]

    assert report().exit_code == 0
    assert report(failed=1).exit_code == 1
    assert report(failed=1, interrupted=True).exit_code == 130
