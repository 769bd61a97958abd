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


BATCHES = {"submitted": 3, "in_progress": 1, "done": 2, "calls_waiting": 250}
TWO_MODELS = {"in_flight": 0, "queued": 0, "models": {
    "openai/a": {"calls": 1200, "tokens_used": 34000, "rate_limited": 7},
    "anthropic/b": {"calls": 30, "tokens_used": 900, "rate_limited": 0}}}


def test_in_batch_mode_progress_shows_batches_submitted_in_progress_done_and_calls_waiting() -> None:
    snap = ProgressSnapshot(counters(), total=None, started=0.0, now=1.0, batch=BATCHES)

    assert snap.details() == ["batches 3 submitted, 1 in progress, 2 done | 250 calls waiting"]


def test_outside_batch_mode_with_one_model_progress_has_no_detail_lines() -> None:
    engine = {"in_flight": 0, "queued": 0, "models": {"openai/a": {"calls": 5, "tokens_used": 9, "rate_limited": 0}}}
    snap = ProgressSnapshot(counters(), total=None, started=0.0, now=1.0, engine=engine)

    assert snap.details() == []


def test_with_several_models_progress_shows_calls_tokens_and_429s_per_model() -> None:
    snap = ProgressSnapshot(counters(), total=None, started=0.0, now=1.0, engine=TWO_MODELS)

    assert snap.details() == ["anthropic/b: 30 calls | 900 tokens | 0 429s",
                              "openai/a: 1,200 calls | 34,000 tokens | 7 429s"]


async def test_plain_progress_prints_the_batch_and_model_lines_under_the_counts() -> None:
    stream = io.StringIO()
    display = start_progress(counters(succeeded=1), total=2, label="job", stream=stream, interval=3600.0,
                             engine=lambda: TWO_MODELS, batch=lambda: BATCHES)
    await display.close()

    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("sharedlm: job: 1/2 rows")
    assert lines[1:] == ["sharedlm: job:   batches 3 submitted, 1 in progress, 2 done | 250 calls waiting",
                         "sharedlm: job:   anthropic/b: 30 calls | 900 tokens | 0 429s",
                         "sharedlm: job:   openai/a: 1,200 calls | 34,000 tokens | 7 429s"]


async def test_rich_progress_renders_the_batch_and_model_lines() -> None:
    stream = io.StringIO()
    display = start_progress(counters(succeeded=2), total=4, label="job", mode="rich", stream=stream,
                             engine=lambda: TWO_MODELS, batch=lambda: BATCHES)
    await display.close()

    text = stream.getvalue()
    assert "250 calls waiting" in text
    assert "openai/a: 1,200 calls | 34,000 tokens | 7 429s" in text


def test_batch_progress_is_none_without_a_shared_lm_in_batch_mode() -> None:
    from sharedlm.runner._progress import batch_progress

    assert batch_progress() is None


def test_progress_shows_a_line_per_model_from_the_shared_lms_stats() -> None:
    import sharedlm
    from sharedlm.runner._progress import engine_stats
    from sharedlm.simulator import BackgroundSimulator

    with BackgroundSimulator() as sim:
        sharedlm.configure(model="openai/sim-a", api_key="k", api_base=sim.base_url, cache=False)
        sharedlm.get_shared_lm()("one call")
        second = sharedlm.get_shared_lm("openai/sim-b")
        second("two")
        second("calls")
        snap = ProgressSnapshot(counters(), total=None, started=0.0, now=1.0, engine=engine_stats())

    details = snap.details()
    assert [line.split(":")[0] for line in details] == ["openai/sim-a", "openai/sim-b"]
    assert "1 calls" in details[0]
    assert "2 calls" in details[1]
    assert all(" tokens | 0 429s" in line for line in details)
