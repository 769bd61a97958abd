"""Reading the request and token limits an answer's headers report (OpenAI/Groq and Anthropic families)."""

from __future__ import annotations

import pytest

from sharedlm._flow._limit_headers import LimitReading, LimitReport, parse_duration, parse_limit_headers, parse_rfc3339

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
NOW_ISO = "2027-01-15T08:00:00Z"


@pytest.mark.parametrize(("text", "seconds"), [
    ("1s", 1.0), ("6m0s", 360.0), ("1m3.5s", 63.5), ("20ms", 0.02), ("7.66s", 7.66), ("2m59.56s", 179.56),
    ("2h1m", 7260.0), ("1.5", 1.5), ("0s", 0.0), ("500us", 0.0005), (" 12ms ", 0.012), ("1d", 86400.0),
])
def test_go_durations_are_read_in_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "s", "1x", "-1s", "1s garbage", "nan", "inf", "1m-3s", "ms", "1..2s", "1 s"])
def test_unreadable_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


def test_rfc3339_times_are_seconds_from_now() -> None:
    assert parse_rfc3339("2027-01-15T08:00:30Z", now_epoch=NOW) == pytest.approx(30.0)
    assert parse_rfc3339("2027-01-15T09:00:30+01:00", now_epoch=NOW) == pytest.approx(30.0)
    assert parse_rfc3339("2027-01-15T08:00:00.250Z", now_epoch=NOW) == pytest.approx(0.25)


def test_an_rfc3339_time_in_the_past_is_now() -> None:
    assert parse_rfc3339("2027-01-15T07:59:00Z", now_epoch=NOW) == 0.0


@pytest.mark.parametrize("text", ["", "tomorrow", "2027-01-15T08:00:30", "2027-13-45T08:00:30Z", "30"])
def test_unreadable_or_zoneless_rfc3339_times_are_none(text: str) -> None:
    assert parse_rfc3339(text, now_epoch=NOW) is None


def test_openai_headers_give_request_and_token_limits() -> None:
    report = parse_limit_headers([
        ("x-ratelimit-limit-requests", "5000"), ("x-ratelimit-remaining-requests", "4999"),
        ("x-ratelimit-reset-requests", "12ms"), ("x-ratelimit-limit-tokens", "160000"),
        ("x-ratelimit-remaining-tokens", "159976"), ("x-ratelimit-reset-tokens", "9ms"),
    ], now_epoch=NOW)
    assert report.requests == LimitReading(kind="requests", limit=5000, remaining=4999, reset_s=0.012)
    assert report.tokens is not None
    assert (report.tokens.limit, report.tokens.remaining) == (160000, 159976)
    assert report.tokens.reset_s == pytest.approx(0.009)


def test_header_names_are_case_insensitive() -> None:
    report = parse_limit_headers({"X-RateLimit-Limit-Requests": "60", "X-RateLimit-Remaining-Requests": "59"},
                                 now_epoch=NOW)
    assert report.requests is not None
    assert (report.requests.limit, report.requests.remaining) == (60, 59)


def test_anthropic_headers_give_every_kind_with_rfc3339_resets() -> None:
    report = parse_limit_headers({
        "anthropic-ratelimit-requests-limit": "50", "anthropic-ratelimit-requests-remaining": "49",
        "anthropic-ratelimit-requests-reset": "2027-01-15T08:00:01Z",
        "anthropic-ratelimit-input-tokens-limit": "30000", "anthropic-ratelimit-input-tokens-remaining": "29000",
        "anthropic-ratelimit-input-tokens-reset": "2027-01-15T08:00:02Z",
        "anthropic-ratelimit-output-tokens-limit": "8000", "anthropic-ratelimit-output-tokens-remaining": "8000",
        "anthropic-ratelimit-output-tokens-reset": NOW_ISO,
    }, now_epoch=NOW)
    assert report.requests is not None
    assert (report.requests.limit, report.requests.remaining) == (50, 49)
    assert report.requests.reset_s == pytest.approx(1.0)
    assert report.input_tokens is not None
    assert report.input_tokens.reset_s == pytest.approx(2.0)
    assert report.output_tokens is not None
    assert report.output_tokens.limit == 8000
    assert report.tokens is None


def test_the_token_limit_to_pace_to_is_the_tighter_of_input_and_output() -> None:
    report = LimitReport(input_tokens=LimitReading(kind="input-tokens", limit=30000),
                         output_tokens=LimitReading(kind="output-tokens", limit=8000))
    assert report.token_limit is report.output_tokens


def test_no_limit_headers_is_an_empty_report() -> None:
    report = parse_limit_headers([("content-type", "application/json"), ("retry-after", "1")], now_epoch=NOW)
    assert report.empty
    assert report.requests is None
    assert report.token_limit is None


def test_a_kind_without_a_readable_limit_is_not_reported() -> None:
    report = parse_limit_headers({"x-ratelimit-limit-requests": "lots", "x-ratelimit-remaining-requests": "3",
                                  "x-ratelimit-remaining-tokens": "100"}, now_epoch=NOW)
    assert report.empty


@pytest.mark.parametrize("limit", ["0", "-5", "nan", "1e9", ""])
def test_a_zero_negative_or_odd_limit_is_not_reported(limit: str) -> None:
    assert parse_limit_headers({"x-ratelimit-limit-requests": limit}, now_epoch=NOW).requests is None


def test_garbage_remaining_and_reset_leave_those_fields_unknown() -> None:
    report = parse_limit_headers({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "many",
                                  "x-ratelimit-reset-requests": "soon"}, now_epoch=NOW)
    assert report.requests == LimitReading(kind="requests", limit=60, remaining=None, reset_s=None)


def test_a_remaining_above_the_limit_contradicts_it_and_is_dropped() -> None:
    report = parse_limit_headers({"x-ratelimit-limit-requests": "60", "x-ratelimit-remaining-requests": "90"},
                                 now_epoch=NOW)
    assert report.requests is not None
    assert report.requests.remaining is None


def test_a_second_readable_value_wins_over_an_unreadable_first() -> None:
    report = parse_limit_headers([("x-ratelimit-limit-requests", "oops"), ("x-ratelimit-limit-requests", "60")],
                                 now_epoch=NOW)
    assert report.requests is not None
    assert report.requests.limit == 60


def test_the_first_readable_value_wins_over_a_contradicting_later_one() -> None:
    report = parse_limit_headers([("x-ratelimit-limit-requests", "60"), ("x-ratelimit-limit-requests", "600")],
                                 now_epoch=NOW)
    assert report.requests is not None
    assert report.requests.limit == 60


def test_anthropic_wins_over_openai_when_both_families_report_a_kind() -> None:
    report = parse_limit_headers({"x-ratelimit-limit-requests": "600", "anthropic-ratelimit-requests-limit": "50"},
                                 now_epoch=NOW)
    assert report.requests is not None
    assert report.requests.limit == 50


def test_a_reset_beyond_a_week_is_unreadable() -> None:
    report = parse_limit_headers({"x-ratelimit-limit-requests": "60", "x-ratelimit-reset-requests": "200h"},
                                 now_epoch=NOW)
    assert report.requests is not None
    assert report.requests.reset_s is None


def test_a_limit_full_again_within_a_minute_is_per_minute() -> None:
    reading = LimitReading(kind="requests", limit=5000, remaining=4000, reset_s=0.5)
    assert reading.per_minute == 5000


def test_a_reset_beyond_a_minute_shows_a_longer_window_and_its_rate() -> None:
    # Groq's example: 14,400 requests per day, 30 used, full again in 2m59.56s: 10 per minute.
    reading = LimitReading(kind="requests", limit=14400, remaining=14370, reset_s=179.56)
    assert reading.per_minute == pytest.approx(30 / 179.56 * 60)


def test_a_longer_window_with_nothing_used_is_taken_as_per_minute() -> None:
    assert LimitReading(kind="requests", limit=14400, remaining=14400, reset_s=86400).per_minute == 14400


def test_the_retry_hint_is_the_time_until_one_request_fits() -> None:
    report = LimitReport(requests=LimitReading(kind="requests", limit=600, remaining=0, reset_s=60.0))
    assert report.retry_hint() == pytest.approx(0.1)


def test_the_retry_hint_of_a_token_limit_scales_with_the_request() -> None:
    report = LimitReport(tokens=LimitReading(kind="tokens", limit=60000, remaining=0, reset_s=60.0))
    assert report.retry_hint(tokens=3000) == pytest.approx(3.0)


def test_there_is_no_retry_hint_while_nothing_is_exhausted() -> None:
    report = LimitReport(requests=LimitReading(kind="requests", limit=600, remaining=5, reset_s=60.0))
    assert report.retry_hint() is None
