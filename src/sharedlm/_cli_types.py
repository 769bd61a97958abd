"""Argument types for the command line: numbers checked against their range, with messages naming the range.

argparse reports a type's ``ArgumentTypeError`` as a usage error (exit 2) that names the option.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable


def whole_number(*, low: int | None = None, high: int | None = None) -> Callable[[str], int]:
    """A type for whole numbers in ``[low, high]`` (either end open when None)."""
    wanted = _range_text("a whole number", low, high)

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    return convert


def real_number(what: str, *, low: float | None = None, high: float | None = None) -> Callable[[str], float]:
    """A type for finite numbers in ``[low, high]``; ``what`` names them in messages ("a number of seconds")."""
    wanted = _range_text(what, low, high)

    def convert(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}") from None
        if not math.isfinite(value) or (low is not None and value < low) or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {wanted}, got {text!r}")
        return value

    return convert


def _range_text(what: str, low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"{what} from {low:g} to {high:g}"
    if low is not None:
        return f"{what} >= {low:g}"
    if high is not None:
        return f"{what} <= {high:g}"
    return what


__all__ = ["real_number", "whole_number"]
