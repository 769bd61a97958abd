"""The in-flight ceiling of a process whose own CPU, not the provider, is the bottleneck.

When the provider answers quickly, a DSPy program spends its time formatting prompts and parsing answers,
and its event loop is busy all the time. More requests in flight then buy no throughput: answers wait in
the process's own queue, and every waiting request keeps its objects alive, which costs memory and garbage
collection. (``sharedlm bench --scenario overhead`` on 2 cores: 760.1 calls/s with 2,000 in flight, 972.3
with this ceiling holding 16.) Round-trip
times cannot show this, because in a saturated loop they grow with the number in flight whatever the
provider does; so this policy looks at what can: how busy the event loop's thread was over a round (its CPU
seconds per wall second). A loop that is busy all the time cannot take in answers any faster, so fewer
requests in flight lose nothing as long as it stays busy; the moment it has idle time, the provider's
latency needs more of them. Throughput itself is a poor guide at this time scale: a program that starts
thousands of calls at once keeps its loop busy formatting prompts for seconds while nothing completes.

A *round* lasts until at least ``limit`` calls completed on one loop thread (about one round trip of the whole
window) and at least ``min_round_s`` passed; each loop thread measures its own rounds, on its own CPU clock,
so CPU that other threads burn never counts. Rounds in which nobody waited for a slot change nothing. A round
with CPU to spare while calls wait ends early, at the first completion after ``min_round_s``: the first
answers of a slow provider then open the window at once instead of a round trip later.

- A round that was not saturated (busy below ``busy_threshold``) while calls waited for a slot lifts the
  ceiling by ``growth`` (8, as slow start does), so a slow provider gets the concurrency it needs.
- A saturated round with calls waiting steps the ceiling down by ``step`` (to half), never below ``floor``.
  The first round measured at the lower level keeps it only if the loop stayed saturated; otherwise the
  ceiling goes back up one step and stays there for ``hold_s`` before it probes down again.
- A *stall* (:meth:`SaturationCeiling.on_tick`): calls wait, nothing has come back for ``min_stall_s`` and the
  loop had CPU to spare all that time. That is a slow provider, not a busy process: the ceiling opens to
  ``cap`` at once, without waiting for the first answers a round trip later, and no step down follows for
  ``hold_s``. So the CPU ceiling never throttles a slow provider (issue 14: 3,000 workflows at 20 s latency
  were held at 128, then 1,024, for a round trip each).

*Busy* means runnable: on a CPU, or ready to run and waiting for one. :func:`busy_clock` reads both from the
kernel (Linux ``/proc/thread-self/schedstat``: CPU time plus run-queue wait) and falls back to the thread's CPU time
elsewhere. CPU time alone calls a loop idle while it waits for a CPU other processes hold: on a loaded 2-core machine
(load average 5) a loop formatting 3,000 prompts without a pause measured under 0.7 CPU seconds per wall second, so
a round read "CPU to spare" and the ceiling grew 8x to 1,024 and then 2,000 in flight at zero latency (where 16 do
as well), and garbage collection over 2,000 live calls then took 4.6 s of a 10 s run. Measured side by side beside
two busy loops (3,000 zero-latency calls, one warm-up call): 8.85 s with CPU time (2,000 in flight), 3.88 s with
this clock (16). A loop that waits for a CPU gains nothing from more requests in flight either. (This is the
distinction Linux's PSI, pressure stall information, makes between a task that is idle and one that is runnable but
stalled.)

The ceiling starts at the adaptive limit's starting point, so it grows past it only once a round showed the
process had CPU to spare: a burst of calls that keeps the loop busy from the start never opens thousands of
connections first and backs off later. The first round starts at the first admitted call.

The engine calls this from several threads (one event loop each); a ``threading.Lock`` guards the state.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sharedlm._errors import ConfigurationError

DEFAULT_SATURATED_FLOOR = 16
DEFAULT_BUSY_THRESHOLD = 0.7
DEFAULT_MIN_ROUND_S = 0.2
DEFAULT_MIN_ROUND_CALLS = 32
DEFAULT_HOLD_S = 30.0
DEFAULT_GROWTH = 8
DEFAULT_STEP = 0.5
# How long nothing may come back, with the loop idle all along, before a stall counts: a provider's refusal comes
# back well within it, even from a loaded provider (a simulator sharing 2 busy cores took 0.3 s to refuse a first
# burst), and a loop that just wrote a burst of requests late is not mistaken for a slow provider.
DEFAULT_MIN_STALL_S = 0.5
# The calling thread's scheduler statistics: nanoseconds on a CPU, nanoseconds runnable but waiting for one, slices.
SCHEDSTAT_PATH = "/proc/thread-self/schedstat"


class _SchedStat:
    """One thread's open ``schedstat`` file (a pread costs about 2 µs; opening it each time, 20 µs)."""

    __slots__ = ("fd",)

    def __init__(self) -> None:
        try:
            self.fd = os.open(SCHEDSTAT_PATH, os.O_RDONLY)  # not inherited by children (PEP 446)
        except OSError:
            self.fd = -1

    def __repr__(self) -> str:
        return f"_SchedStat(open={self.fd >= 0})"

    def runnable_s(self) -> float | None:
        """Seconds this thread ran or waited to run, or None when the kernel does not say (then never again)."""
        if self.fd < 0:
            return None
        try:
            fields = os.pread(self.fd, 96, 0).split()
            return (int(fields[0]) + int(fields[1])) / 1e9
        except (OSError, ValueError, IndexError):
            self.close()
            return None

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)

    def __del__(self) -> None:  # the thread ended and its threading.local went with it
        self.close()


_per_thread = threading.local()


def _forget_after_fork() -> None:
    """In a forked child, drop the inherited file: it describes the parent's thread, not the child's."""
    stat: _SchedStat | None = getattr(_per_thread, "stat", None)
    if stat is not None:
        _per_thread.stat = None
        stat.close()


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork (and no schedstat)
    os.register_at_fork(after_in_child=_forget_after_fork)


def busy_clock() -> float:
    """Seconds the calling thread was runnable: on a CPU or waiting for one (``time.thread_time()`` off Linux).

    Only differences of this clock mean anything, and only on one thread. Should the kernel's figure go missing
    mid-run, the thread falls back to CPU time for good; the one interval that spans the switch reads as idle.
    """
    stat: _SchedStat | None = getattr(_per_thread, "stat", None)
    if stat is None:
        stat = _per_thread.stat = _SchedStat()
    runnable = stat.runnable_s()
    return time.thread_time() if runnable is None else runnable


@dataclass(frozen=True, kw_only=True, slots=True)
class SaturationSnapshot:
    """The state of a :class:`SaturationCeiling` at one moment.

    Args:
        ceiling: The current ceiling on requests in flight.
        cap: The highest it may go (``max_parallel_requests`` clamped to the open-file limit).
        floor: The lowest a step down may take it.
        rounds: Rounds completed so far.
        saturated_rounds: Rounds in which the loop thread was busy all along while calls waited.
        steps_down: How many times a saturated round lowered the ceiling.
        steps_back: How many times a lower ceiling left the loop idle and was undone.
        last_busy: CPU seconds per wall second of the last round's loop thread, or None before any.
        stalls: Ticks at which nothing came back while calls waited and the loop had CPU to spare.
    """

    ceiling: int
    cap: int
    floor: int
    rounds: int
    saturated_rounds: int
    steps_down: int
    steps_back: int
    last_busy: float | None
    stalls: int = 0


class _Round:
    """One loop thread's current round."""

    __slots__ = ("calls", "cpu", "wall")

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall = wall
        self.cpu = cpu
        self.calls = 0


class SaturationCeiling:
    """A ceiling on requests in flight that stays low while the event loop's own CPU is the bottleneck.

    Args:
        initial: Where the ceiling starts (the adaptive limit's starting point).
        cap: The highest the ceiling may go.
        floor: The lowest a step down may take it.
        clock: Monotonic wall-clock seconds.
        cpu_clock: Seconds the calling thread was busy (:func:`busy_clock`: on a CPU or waiting for one).
        thread_id: Which thread is calling (``threading.get_ident``); each has its own rounds.
        busy_threshold: CPU seconds per wall second from which a round counts as saturated.
        min_round_s: The shortest round, in seconds (a garbage collection pause alone can take 100 ms).
        min_round_calls: The fewest completions in a round.
        hold_s: Seconds a ceiling that had to go back up waits before probing down again.
        growth: What a round with CPU to spare multiplies the ceiling by.
        step: What a saturated round multiplies the ceiling by, in (0, 1).
        min_stall_s: Seconds of ticks with nothing back and CPU to spare before a stall grows the ceiling.
    """

    def __init__(self, *, initial: int, cap: int, floor: int = DEFAULT_SATURATED_FLOOR,
                 clock: Callable[[], float] = time.monotonic,
                 cpu_clock: Callable[[], float] = busy_clock,
                 thread_id: Callable[[], int] = threading.get_ident,
                 busy_threshold: float = DEFAULT_BUSY_THRESHOLD, min_round_s: float = DEFAULT_MIN_ROUND_S,
                 min_round_calls: int = DEFAULT_MIN_ROUND_CALLS, hold_s: float = DEFAULT_HOLD_S,
                 growth: int = DEFAULT_GROWTH, step: float = DEFAULT_STEP,
                 min_stall_s: float = DEFAULT_MIN_STALL_S) -> None:
        for name, value in (("initial", initial), ("cap", cap), ("floor", floor), ("growth", growth),
                            ("min_round_calls", min_round_calls)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigurationError(f"saturation ceiling {name} must be a whole number >= 1, got {value!r}")
        if not 0 < step < 1:
            raise ConfigurationError(f"saturation ceiling step must be between 0 and 1 (exclusive), got {step!r}")
        if not busy_threshold > 0:
            raise ConfigurationError(f"saturation ceiling busy_threshold must be above 0, got {busy_threshold!r}")
        if not (isinstance(min_round_s, int | float) and math.isfinite(min_round_s) and min_round_s > 0):
            raise ConfigurationError(
                f"saturation ceiling min_round_s must be a finite number of seconds above 0, got {min_round_s!r}")
        if not (isinstance(hold_s, int | float) and math.isfinite(hold_s) and hold_s >= 0):
            raise ConfigurationError(
                f"saturation ceiling hold_s must be a finite number of seconds >= 0, got {hold_s!r}")
        self._cap = cap
        self._floor = min(floor, cap)
        self._ceiling = max(self._floor, min(initial, cap))
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._thread_id = thread_id
        self._busy_threshold = busy_threshold
        self._min_round_s = min_round_s
        self._min_round_calls = min_round_calls
        self._hold_s = hold_s
        self._growth = growth
        self._step = step
        self._lock = threading.Lock()
        self._rounds_by_thread: dict[int, _Round] = {}
        self._settling = False
        # The level a step down came from, while that step is on trial.
        self._trial_from: int | None = None
        self._hold_until = float("-inf")
        self._rounds = 0
        self._saturated_rounds = 0
        self._steps_down = 0
        self._steps_back = 0
        self._last_busy: float | None = None
        self._stall_marks: dict[int, tuple[float, float]] = {}
        self._stalled_since: dict[int, float] = {}
        self._min_stall_s = min_stall_s
        self._stalls = 0
        self._last_stall = -math.inf

    @property
    def ceiling(self) -> int:
        """The current ceiling on requests in flight."""
        return self._ceiling

    def on_admit(self) -> None:
        """Report a call admitted on the calling thread's loop; its first one starts that thread's first round."""
        if self._thread_id() not in self._rounds_by_thread:
            with self._lock:
                self._rounds_by_thread.setdefault(self._thread_id(), self._new_round())

    def on_completion(self, *, limit: int, in_flight: int, queued: int) -> bool:
        """Report a call completed on the calling thread's loop; return whether the ceiling changed.

        Args:
            limit: The in-flight limit in force (the lower of this ceiling and the adaptive limit).
            in_flight: Calls in flight now, this one excluded.
            queued: Calls waiting for a slot now.
        """
        with self._lock:
            if self._settling:
                # A lower ceiling takes effect as the calls sent under the old one complete; measure after that.
                if in_flight <= self._ceiling:
                    self._settling = False
                    self._rounds_by_thread.clear()
                return False
            thread = self._thread_id()
            if in_flight == 0 and queued == 0:
                # The work ran out: a gap before the next burst is not idle time of a loop that had work.
                self._rounds_by_thread.pop(thread, None)
                return False
            current = self._rounds_by_thread.get(thread)
            if current is None:
                self._rounds_by_thread[thread] = self._new_round()
                return False
            current.calls += 1
            now = self._clock()
            elapsed = now - current.wall
            if elapsed < self._min_round_s:
                return False
            whole = current.calls >= max(limit, self._min_round_calls)
            if not whole and queued <= 0:
                return False  # nobody waits, so the round goes on whatever it measured: no need to read the clock
            busy = (self._cpu_clock() - current.cpu) / elapsed
            if not whole and busy >= self._busy_threshold:
                # Stepping down needs a whole round of saturation; CPU to spare while calls wait is evidence enough
                # at once, so a slow provider's first answers open the window without waiting for a whole round.
                return False
            self._rounds += 1
            self._last_busy = busy
            self._rounds_by_thread[thread] = self._new_round()
            return self._decide(now, limit=limit, busy=busy, queued=queued)

    def on_tick(self, *, limit: int, stalled: bool, quiet_since: float | None = None) -> bool:
        """Report a periodic check while calls wait for a slot; return whether it was a stall with CPU to spare.

        A *stall* is ``min_stall_s`` of ticks at which nothing came back since the previous one while calls waited,
        and the calling thread's loop had CPU to spare all along: then the provider, not this process, is what
        everyone waits for: the ceiling opens to ``cap`` at once (a slow provider's first round trip is not spent
        at the starting ceiling) and holds for ``hold_s`` before any step down, so the CPU ceiling never throttles
        a slow provider. Each tick also restarts the thread's measuring interval. "Nothing came back" alone is not
        enough: a loop busy formatting prompts runs its timers before the tasks that would read answers already
        waiting in its sockets; a loop that had CPU to spare would have read them.

        The caller may take a stall with CPU to spare as evidence for its own limits too (the adaptive limit's
        start).

        A loop busy with a burst (formatting a thousand prompts, opening connections) has no idle tick until its
        work is done; counting the stall only from the first idle tick would then hold the starting window for
        that work plus ``min_stall_s``: a full round trip at 1 s latency. So with ``quiet_since`` (when a request
        last went out or an answer last came back, whichever was later) the stall is counted from then, as soon as
        one idle tick shows that nothing is waiting to be read: no answer came back within ``min_stall_s`` of the
        last request sent.

        Args:
            limit: The in-flight limit in force.
            stalled: Whether no answer came back since the previous tick.
            quiet_since: When a request was last sent or an answer last came back, on this ceiling's clock.
        """
        with self._lock:
            thread = self._thread_id()
            now, cpu = self._clock(), self._cpu_clock()
            mark = self._stall_marks.get(thread)
            if mark is None:
                current = self._rounds_by_thread.get(thread)
                mark = (current.wall, current.cpu) if current is not None else None
            self._stall_marks[thread] = (now, cpu)
            idle = mark is not None and now > mark[0] and (cpu - mark[1]) / (now - mark[0]) < self._busy_threshold
            if not stalled or not idle or mark is None:
                self._stalled_since.pop(thread, None)
                return False
            since = self._stalled_since.setdefault(thread, mark[0])
            if quiet_since is not None:
                since = min(since, max(quiet_since, self._last_stall))
            if now - since < self._min_stall_s:
                return False
            self._stalled_since[thread] = self._last_stall = now  # the next growth needs a stall of its own
            self._stalls += 1
            self._hold_until = max(self._hold_until, now + self._hold_s)
            self._trial_from = None
            self._settling = False
            self._rounds_by_thread[thread] = _Round(now, cpu)  # the next round measures the new level
            self._ceiling = self._cap
            return True

    def _new_round(self) -> _Round:
        return _Round(self._clock(), self._cpu_clock())

    def _decide(self, now: float, *, limit: int, busy: float, queued: int) -> bool:
        if queued <= 0:
            self._trial_from = None  # nobody waited: the limit was not what bounded this round
            return False
        before = self._ceiling
        if busy < self._busy_threshold:
            if self._trial_from is not None:
                # The lower level left the loop idle: the provider's latency, not our CPU, needed those slots.
                self._ceiling = self._trial_from
                self._trial_from = None
                self._hold_until = now + self._hold_s
                self._steps_back += 1
            else:
                self._ceiling = min(self._cap, max(self._ceiling, limit) * self._growth)
            return self._ceiling != before
        self._saturated_rounds += 1
        self._trial_from = None
        if now < self._hold_until:  # just stepped back, or a stall showed the provider is the slow part
            return False
        level = min(self._ceiling, limit)
        lowered = max(self._floor, int(level * self._step))
        if lowered >= level:
            return False
        self._trial_from = level
        self._ceiling = lowered
        self._settling = True
        self._steps_down += 1
        return True

    def snapshot(self) -> SaturationSnapshot:
        """The ceiling and its counters, read together."""
        with self._lock:
            return SaturationSnapshot(
                ceiling=self._ceiling, cap=self._cap, floor=self._floor, rounds=self._rounds,
                saturated_rounds=self._saturated_rounds, steps_down=self._steps_down, steps_back=self._steps_back,
                last_busy=self._last_busy, stalls=self._stalls,
            )

    def __repr__(self) -> str:
        busy = "-" if self._last_busy is None else f"{self._last_busy:.2f}"
        return (f"SaturationCeiling(ceiling={self._ceiling}, cap={self._cap}, floor={self._floor}, "
                f"rounds={self._rounds}, last_busy={busy}, steps_down={self._steps_down}, "
                f"steps_back={self._steps_back})")


__all__ = [
    "DEFAULT_BUSY_THRESHOLD",
    "DEFAULT_MIN_STALL_S",
    "DEFAULT_SATURATED_FLOOR",
    "SCHEDSTAT_PATH",
    "SaturationCeiling",
    "SaturationSnapshot",
    "busy_clock",
]
