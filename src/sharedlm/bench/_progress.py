"""The progress line the suite writes on standard error while it runs (data goes to stdout and files)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """One line per job started and finished, with the position in the whole run and the elapsed time.

    Args:
        total: Jobs the run will start.
        stream: Where to write; standard error when None.
        enabled: Write nothing when False.
    """

    def __init__(self, total: int, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.total = total
        self.done = 0
        self.enabled = enabled
        self._stream = stream
        self._started = time.monotonic()

    def __repr__(self) -> str:
        return f"ProgressLine(done={self.done}, total={self.total})"

    def _write(self, text: str) -> None:
        if not self.enabled:
            return
        stream = self._stream or sys.stderr
        elapsed = time.monotonic() - self._started
        stream.write(f"bench [{self.done}/{self.total}, {elapsed:5.0f} s] {text}\n")
        stream.flush()

    def starting(self, scenario: str, variant: str, count: int, detail: str = "") -> None:
        """A job is about to start."""
        suffix = f" ({detail})" if detail else ""
        self._write(f"{scenario}: {variant} x {count:,}{suffix} ...")

    def finished(self, scenario: str, variant: str, count: int, summary: str) -> None:
        """A job ended (measured, timed out or crashed)."""
        self.done += 1
        self._write(f"{scenario}: {variant} x {count:,} -> {summary}")

    def note(self, text: str) -> None:
        """Anything else worth a line (a scenario skipped, the simulator starting)."""
        self._write(text)


__all__ = ["ProgressLine"]
