"""A fake monotonic clock for the flow policies: time moves only when a test moves it."""

from __future__ import annotations

import pytest


class FakeClock:
    """Monotonic seconds that advance only through :meth:`advance` or :meth:`set`."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "a monotonic clock never goes back"
        self.now += seconds

    def set(self, when: float) -> None:
        assert when >= self.now, "a monotonic clock never goes back"
        self.now = when


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()
