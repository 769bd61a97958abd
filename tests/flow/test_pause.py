"""ProviderPause: a hint pauses new sends, longer hints extend, shorter never shorten, max_pause bounds."""

from __future__ import annotations

import pytest

from sharedlm._errors import ConfigurationError
from sharedlm._flow import ProviderPause


def test_not_paused_means_zero_remaining(clock):
    assert ProviderPause(clock=clock, max_pause=60).remaining() == 0.0


def test_a_pause_counts_down_with_the_clock(clock):
    pause = ProviderPause(clock=clock, max_pause=60)
    assert pause.pause_for(5) == 5.0
    clock.advance(2)
    assert pause.remaining() == pytest.approx(3.0)
    clock.advance(3)
    assert pause.remaining() == 0.0


def test_a_shorter_hint_never_shortens_a_pause(clock):
    pause = ProviderPause(clock=clock, max_pause=60)
    pause.pause_for(10)
    assert pause.pause_for(2) == 10.0
    assert pause.extensions == 0


def test_a_longer_hint_extends_a_pause(clock):
    pause = ProviderPause(clock=clock, max_pause=60)
    pause.pause_for(10)
    clock.advance(5)
    assert pause.pause_for(20) == 20.0
    assert (pause.pauses, pause.extensions) == (1, 1)


def test_a_hint_is_bounded_by_max_pause(clock):
    pause = ProviderPause(clock=clock, max_pause=30)
    assert pause.pause_for(3600) == 30.0
    assert pause.pause_for(float("inf")) == 30.0


def test_a_pause_after_the_last_one_ended_counts_as_a_new_pause(clock):
    pause = ProviderPause(clock=clock, max_pause=60)
    pause.pause_for(1)
    clock.advance(1)
    pause.pause_for(1)
    assert pause.pauses == 2


def test_a_zero_hint_does_not_pause(clock):
    pause = ProviderPause(clock=clock, max_pause=60)
    assert pause.pause_for(0) == 0.0
    assert pause.pauses == 0


@pytest.mark.parametrize("seconds", [-1.0, float("nan")])
def test_a_negative_or_nan_hint_is_refused(clock, seconds: float):
    with pytest.raises(ValueError, match="seconds"):
        ProviderPause(clock=clock, max_pause=60).pause_for(seconds)


def test_max_pause_must_be_finite_seconds(clock):
    with pytest.raises(ConfigurationError, match="max_pause"):
        ProviderPause(clock=clock, max_pause=float("inf"))


def test_repr_shows_the_remaining_pause_and_counts(clock):
    pause = ProviderPause(clock=clock, max_pause=60)
    pause.pause_for(4)
    assert repr(pause) == "ProviderPause(remaining=4.000s, max_pause=60s, pauses=1, extensions=0)"
