"""Spacing of the requests a request budget released, by the time they are really sent rather than booked.

A :class:`~sharedlm._flow._budget.RateBudget` books each request a send time at its pacing rate, and the pacer
sleeps until then. The sends are only as smooth as the event loop is punctual: a loop that is busy (a DSPy program
formats thousands of prompts in one turn of the loop, each of which books its send on the way) wakes every sleeper
whose time has passed at once, and the provider receives seconds of booked sends as one burst. A provider that
enforces its minute limit in one-second slices (OpenAI's token buckets) refuses what exceeds the slice: measured
against the simulator's OpenAI personality (rpm 6,000 in headers, 3,000 calls), 81 of 3,081 answers were 429s, all
in the first burst after a 3.2 s turn of prompt formatting, none afterwards.

This is the generic cell rate algorithm (GCRA, ITU-T I.371; the same bucket the budget keeps) applied a second time,
to the *release* times, at the budget's rate with half its burst: a request released when the bucket of real sends
holds less than one request waits until it does. After a late turn it lets half a burst go, then the budget's rate.
Half, because a late loop is also a jittery one: released at the budget's rate, its writes still bunch by the length
of its busy turns, and a provider whose slice is the budget's burst (one second) has no room left for that after a
full burst (the same run with a full burst here: 18 of 1,018 answers refused, all in the first second). The price:
after an idle spell the budget books a full burst at once and this sends half of it, so a stream that begins that way
runs up to half a second behind its bookings (0.5 s of a 70 s run at rpm 600), and no longer: once behind, it is
spaced by the same rate its bookings are. It spaces requests only: a token booking is settled against the provider's
usage afterwards, and spacing tokens by the estimate (``max_tokens`` included) would throttle below the budget.
"""

from __future__ import annotations

import math
import threading

# The part of the budget's burst that may go at once after a late turn of the loop (see the module docstring).
RELEASE_BURST_FRACTION = 0.5
# Sums of 1/rate steps do not add up exactly; a wait shorter than this is rounding, not a wait.
_SLACK_S = 1e-9


class ReleaseSpacing:
    """When a request whose booked send time has come may really be sent.

    The caller passes the rate and burst of its request budget on every call, so a budget resized from headers
    needs no notice here.
    """

    __slots__ = ("_lock", "_tat", "released", "spaced")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # GCRA's theoretical arrival time of the release bucket: it holds a full burst whenever tat <= now.
        self._tat = -math.inf
        self.released = 0
        self.spaced = 0

    def __repr__(self) -> str:
        return f"ReleaseSpacing(released={self.released}, spaced={self.spaced})"

    def delay(self, now: float, *, rate: float, burst: float) -> float:
        """Book one release at ``now`` or later; return the seconds to wait before sending (0.0: send now).

        Args:
            now: The clock time, in seconds.
            rate: The request budget's pacing rate, requests per second (above 0).
            burst: How many requests the budget lets go at once after an idle spell (its capacity); half of it may
                go at once here.
        """
        interval = 1.0 / rate
        tolerance = max(0.0, burst * RELEASE_BURST_FRACTION - 1.0) * interval
        with self._lock:
            start = max(now, self._tat - tolerance)
            self._tat = max(self._tat, start) + interval
            self.released += 1
            if start - now <= _SLACK_S:
                return 0.0
            self.spaced += 1
            return start - now


__all__ = ["RELEASE_BURST_FRACTION", "ReleaseSpacing"]
