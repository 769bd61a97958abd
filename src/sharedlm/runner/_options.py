"""How rows are taken and run: :class:`RowOptions`, one frozen value validated once and passed whole.

Every entry point builds one (``run_many``, ``arun_many``, ``sharedlm run``, ``sharedlm demo``) and hands it
unchanged to the runner that uses it: the local :class:`~sharedlm.runner._core.RowRunner`, the Ray driver
(:class:`~sharedlm.runner._ray._runner.RayRowRunner`) and, through it, each Ray worker. Bad values fail here,
in ``__post_init__``, with a :class:`~sharedlm._errors.UsageError` naming the option, before anything runs.

What is not here, and why:

- the spend cap and price (``max_cost``, ``price``) become a :class:`~sharedlm.runner._cost.RunCost`: a live
  ledger (it books every call's worst case and knows what earlier runs spent), built once per run and passed
  whole as ``cost=``; it needs the shared LM's model to resolve the price, which a plain value cannot;
- batch mode (``batch``, ``batch_options``) changes how the shared LM sends calls, not how rows run; its options
  are already one frozen value, :class:`~sharedlm._batch.BatchOptions`;
- a dry run (``--dry-run N``) is a mode of the command line (:class:`~sharedlm.runner._run.RunOptions`), which
  runs a sample of rows with these same options;
- where rows run (``backend``, ``workers``, ``ray_address``) is the Ray plan's business
  (:class:`~sharedlm.runner._ray._runner.RayPlan`).
- a saved program state (``load=``, ``--load STATE.json``) belongs to the program, not to its rows: it is checked
  and loaded once, when the program is built and before the first row (:mod:`sharedlm.runner._saved_state`); a
  Ray worker gets the loaded program (``run_many``) or loads the same file into the program it builds
  (``sharedlm run``, :class:`~sharedlm.runner._ray._program.ProgramRecipe`); ``sharedlm run`` keeps it in its frozen
  :class:`~sharedlm.runner._run.RunOptions` and its resume command.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from sharedlm._errors import UsageError
from sharedlm.runner._defaults import DEFAULT_CONCURRENCY, DEFAULT_GRACE_S, DEFAULT_ID_FIELD, DEFAULT_RETRY_BACKOFF_S


def _whole(name: str, value: object, *, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise UsageError(f"{name} must be a whole number >= {low}, got {value!r}")


def _seconds(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise UsageError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def _flag(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be True or False, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class RowOptions:
    """How the rows of one run are taken and run; validated when built, never changed after.

    Args:
        concurrency: The most rows in flight at once (per worker on Ray); also how many rows are read ahead.
        id_field: The field holding a row's id; a row without it gets its 1-based position as id.
        retries: Extra attempts for a row whose program call failed with an error worth retrying.
        retry_backoff: Seconds before a row's first retry; doubles per retry, up to 30 s.
        ignore_extra_fields: Drop fields the program does not take instead of failing the row.
        limit: Take at most this many rows from the source, or None for all.
        grace_s: After a first Ctrl-C, seconds rows in flight may take to finish before they are cancelled
            (the file runner's interrupt handler).
        record_history: Keep DSPy's call history (``dspy.inspect_history``) for the rows; the command line turns
            it off, because DSPy keeps the last 10,000 calls' prompts and answers in memory. Ray workers never
            keep it (nothing on the driver could read it).
        relax_gc: While the run lasts, let Python's garbage collector run less often (:func:`sharedlm.relaxed_gc`):
            with hundreds of workflows in flight its collections took a quarter to a third of the process's CPU.
            The collector's settings come back when the run ends.

    Raises:
        UsageError: Naming the first option whose value is out of range or of the wrong type.

    Example:
        >>> options = RowOptions(concurrency=50, retries=2)
        >>> options.replace(limit=10).limit
        10
    """

    concurrency: int = DEFAULT_CONCURRENCY
    id_field: str = DEFAULT_ID_FIELD
    retries: int = 0
    retry_backoff: float = DEFAULT_RETRY_BACKOFF_S
    ignore_extra_fields: bool = False
    limit: int | None = None
    grace_s: float = DEFAULT_GRACE_S
    record_history: bool = True
    relax_gc: bool = True

    def __post_init__(self) -> None:
        _whole("concurrency", self.concurrency, low=1)
        if not isinstance(self.id_field, str) or not self.id_field:
            raise UsageError(f"id_field must be a non-empty field name, got {self.id_field!r}")
        _whole("retries", self.retries, low=0)
        # Stored as floats, so equal options compare equal however the seconds were written.
        object.__setattr__(self, "retry_backoff", _seconds("retry_backoff", self.retry_backoff))
        _flag("ignore_extra_fields", self.ignore_extra_fields)
        if self.limit is not None:
            _whole("limit", self.limit, low=1)
        object.__setattr__(self, "grace_s", _seconds("grace_s", self.grace_s))
        _flag("record_history", self.record_history)
        _flag("relax_gc", self.relax_gc)

    def replace(self, **changes: Any) -> RowOptions:
        """A copy with ``changes`` applied, validated like a new one.

        Args:
            **changes: Fields to change, by name.
        """
        return dataclasses.replace(self, **changes)


def row_options(options: RowOptions | None = None, **given: Any) -> RowOptions:
    """``options`` (the defaults when None) with the keyword arguments a caller gave, those not None, applied.

    The public functions take each row option as a keyword argument, defaulting to None, as well as a whole
    ``options=RowOptions(...)``; this builds the one value they pass on.

    Args:
        options: The options to start from, or None for the defaults.
        **given: Row options by name; None means not given.
    """
    base = options if options is not None else RowOptions()
    if not isinstance(base, RowOptions):
        raise UsageError(f"options must be a sharedlm.RowOptions, got {type(base).__name__}")
    changes = {name: value for name, value in given.items() if value is not None}
    return base.replace(**changes) if changes else base


__all__ = ["RowOptions", "row_options"]
