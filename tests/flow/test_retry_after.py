"""parse_retry_after: which hint wins, how each form reads, and what is no hint at all."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import pytest
from multidict import CIMultiDict

from sharedlm._errors import ConfigurationError
from sharedlm._flow import parse_retry_after

MAX = 60.0
IMF_DATE = "Sun, 06 Nov 1994 08:49:37 GMT"
RFC850_DATE = "Sunday, 06-Nov-94 08:49:37 GMT"
ASCTIME_DATE = "Sun Nov  6 08:49:37 1994"
DATE_EPOCH = parsedate_to_datetime(IMF_DATE).timestamp()


def parse(headers, *, now_epoch: float = DATE_EPOCH - 1000.0, max_delay: float = MAX) -> float | None:
    return parse_retry_after(headers, now_epoch=now_epoch, max_delay=max_delay)


def test_delta_seconds_are_read_as_seconds():
    assert parse({"Retry-After": "5"}) == 5.0


def test_decimal_seconds_are_read():
    assert parse({"Retry-After": "1.5"}) == 1.5


@pytest.mark.parametrize("date", [IMF_DATE, RFC850_DATE, ASCTIME_DATE], ids=["imf-fixdate", "rfc850", "asctime"])
def test_http_date_in_the_future_is_measured_from_now_epoch(date: str):
    assert parse({"Retry-After": date}, now_epoch=DATE_EPOCH - 30.0) == pytest.approx(30.0)


def test_http_date_in_the_past_means_now():
    assert parse({"Retry-After": IMF_DATE}, now_epoch=DATE_EPOCH + 3600.0) == 0.0


def test_milliseconds_are_converted_to_seconds():
    assert parse({"retry-after-ms": "1500"}) == 1.5


def test_azure_millisecond_header_is_understood():
    assert parse({"x-ms-retry-after-ms": "250"}) == 0.25


def test_milliseconds_win_over_seconds():
    assert parse([("Retry-After", "10"), ("retry-after-ms", "250")]) == 0.25


def test_invalid_milliseconds_fall_back_to_seconds():
    assert parse([("retry-after-ms", "soon"), ("Retry-After", "7")]) == 7.0


def test_zero_means_retry_now():
    assert parse({"Retry-After": "0"}) == 0.0


@pytest.mark.parametrize("value", ["-5", "-0.5"])
def test_negative_seconds_are_no_hint(value: str):
    assert parse({"Retry-After": value}) is None


def test_negative_milliseconds_are_no_hint():
    assert parse({"retry-after-ms": "-100"}) is None


@pytest.mark.parametrize("value", ["99999999999", "9" * 400])
def test_huge_seconds_are_clamped_to_max_delay(value: str):
    assert parse({"Retry-After": value}) == MAX


def test_huge_milliseconds_are_clamped_to_max_delay():
    assert parse({"retry-after-ms": "86400000"}) == MAX


def test_a_date_far_in_the_future_is_clamped_to_max_delay():
    assert parse({"Retry-After": IMF_DATE}, now_epoch=DATE_EPOCH - 86400.0) == MAX


@pytest.mark.parametrize("value", ["", "   ", "soon", "nan", "NaN", "inf", "-inf", "Infinity", "1e3", "0x10",
                                   "5 seconds", "Sun, 99 Foo 1994 25:61:61 GMT"])
def test_unreadable_values_are_no_hint(value: str):
    assert parse({"Retry-After": value}) is None


@pytest.mark.parametrize("value", ["nan", "inf", "", "1e3"])
def test_unreadable_milliseconds_are_no_hint(value: str):
    assert parse({"retry-after-ms": value}) is None


def test_without_any_retry_header_there_is_no_hint():
    assert parse({"Content-Type": "application/json", "x-ratelimit-remaining-requests": "0"}) is None


def test_empty_headers_give_no_hint():
    assert parse({}) is None
    assert parse([]) is None


def test_header_names_are_case_insensitive():
    assert parse([("RETRY-AFTER", "3")]) == 3.0
    assert parse([("Retry-After-Ms", "3000")]) == 3.0


def test_surrounding_whitespace_is_ignored():
    assert parse({"Retry-After": "  4 "}) == 4.0


def test_of_duplicate_headers_the_first_valid_wins():
    assert parse([("Retry-After", "3"), ("retry-after", "9")]) == 3.0


def test_an_unreadable_duplicate_does_not_hide_a_readable_one():
    assert parse([("Retry-After", "soon"), ("retry-after", "9")]) == 9.0


def test_a_case_insensitive_multidict_with_duplicates_is_read_in_order():
    headers = CIMultiDict([("Retry-After", "garbage"), ("retry-after", "2")])
    assert parse(headers) == 2.0


def test_max_delay_must_be_a_finite_non_negative_number():
    with pytest.raises(ConfigurationError, match="max_delay"):
        parse({"Retry-After": "1"}, max_delay=float("nan"))
