"""Stop and cancel, as the local and the Ray row runners both offer them."""

from __future__ import annotations


class RunControl:
    """The run state of a row runner: new, running, stopping (take no new rows) or cancelled.

    Subclasses call ``RunControl.__init__`` and override :meth:`_on_stop` / :meth:`_on_cancel` to act.
    """

    def __init__(self) -> None:
        self._stopping = False
        self._cancelled = False
        self._started = False

    @property
    def stopping(self) -> bool:
        """True once :meth:`stop` or :meth:`cancel` was called."""
        return self._stopping

    @property
    def cancelled(self) -> bool:
        """True once :meth:`cancel` was called."""
        return self._cancelled

    @property
    def run_state(self) -> str:
        """``new``, ``running``, ``stopping`` or ``cancelled``, for ``repr``."""
        if self._cancelled:
            return "cancelled"
        if self._stopping:
            return "stopping"
        return "running" if self._started else "new"

    def stop(self) -> None:
        """Take no new rows; rows in flight finish and are yielded."""
        self._stopping = True
        self._on_stop()

    def cancel(self) -> None:
        """Take no new rows and cancel the rows in flight; cancelled rows are not yielded."""
        self._stopping = True
        self._cancelled = True
        self._on_cancel()

    def _on_stop(self) -> None:
        """What the runner does when asked to stop (nothing by default)."""

    def _on_cancel(self) -> None:
        """What the runner does when asked to cancel (by default, what it does on stop)."""
        self._on_stop()


__all__ = ["RunControl"]
