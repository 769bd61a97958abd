"""The garbage collector's pace while many workflows run in one process.

CPython starts a young-generation collection every 700 net container allocations. A DSPy call allocates thousands
(signatures, pydantic adapters, messages, responses), and with hundreds of workflows in flight each collection
traces everything they hold, so the collector took a quarter to a third of the CPU of 1,000 concurrent two-step
workflows (measured by ``benchmarks/bench_gc.py``). :func:`relaxed_gc` raises the young-generation threshold and
moves what is alive at its start (modules, programs, settings: all long-lived) out of the collector's sight, for the
duration of a run; the first thresholds come back when the last run ends. The collector still runs, only less
often, so cyclic garbage is still freed.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

# Young-generation threshold while relaxed: ~70x fewer collections, each over at most this many new containers
# (a few MB of transient garbage at worst).
RELAXED_THRESHOLD = 50_000

_lock = threading.Lock()
_holders = 0
_saved: tuple[int, ...] | None = None
_froze = False


@contextlib.contextmanager
def relaxed_gc(threshold: int = RELAXED_THRESHOLD) -> Iterator[None]:
    """Collect less often while the block runs (many concurrent workflows); restore the collector after.

    Nested and concurrent uses (two runs on two threads) share one relaxed period: the first entry relaxes,
    the last exit restores the thresholds in force before it. A threshold the caller already set higher is kept, a
    collector the caller turned off (threshold 0) stays off, and objects the caller froze stay frozen.

    Args:
        threshold: The young-generation threshold while relaxed (CPython's default is 700).

    Example:
        >>> with sharedlm.relaxed_gc():  # doctest: +SKIP
        ...     results = await asyncio.gather(*(program.acall(**row) for row in rows))
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int) or threshold < 1:
        raise ValueError(f"relaxed_gc threshold must be a positive integer, got {threshold!r}")
    global _holders, _saved, _froze
    with _lock:
        _holders += 1
        if _holders == 1:
            current = gc.get_threshold()
            _saved = current
            if current[0] and current[0] < threshold:
                gc.set_threshold(threshold, *current[1:])
            # Objects someone else froze (before a fork, say) are theirs to unfreeze: leave the freeze alone then.
            _froze = gc.get_freeze_count() == 0
            if _froze:
                gc.freeze()
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                if _froze:
                    gc.unfreeze()
                gc.set_threshold(*_saved)
                _saved, _froze = None, False


def gc_relaxed() -> bool:
    """Whether a :func:`relaxed_gc` block is running in this process."""
    return _holders > 0


__all__ = ["RELAXED_THRESHOLD", "gc_relaxed", "relaxed_gc"]
