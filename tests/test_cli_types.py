"""Command-line number types accept their range and name it when they refuse a value."""

from __future__ import annotations

import argparse

import pytest

from sharedlm._cli_types import real_number, whole_number


def test_whole_number_accepts_the_range_ends() -> None:
    port = whole_number(low=0, high=65535)
    assert port("0") == 0
    assert port("65535") == 65535


@pytest.mark.parametrize("text", ["65536", "-1", "8.5", "eight"])
def test_whole_number_refusal_names_the_range(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="a whole number from 0 to 65535"):
        whole_number(low=0, high=65535)(text)


@pytest.mark.parametrize("text", ["-0.1", "nan", "inf", "soon"])
def test_real_number_refuses_out_of_range_and_non_finite_values(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="a number of seconds >= 0"):
        real_number("a number of seconds", low=0)(text)


def test_real_number_accepts_a_probability() -> None:
    assert real_number("a probability", low=0, high=1)("0.25") == 0.25
