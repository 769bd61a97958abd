"""The exclusive lock on an output file for the whole of a run: one run per output, or a clear refusal.

Two runs on one output would both pay for the same rows, and a ``--resume`` (which compacts the output by
writing a new file and renaming it over the old one) would leave the other run appending to a deleted
file. So a run holds ``fcntl.flock`` on a lock file beside the output, ``.NAME.lock`` for an output named
``NAME``, from before it looks at the output until it has closed it. The lock is on a file of its own
because a compaction replaces the output file itself (a lock on it would be lost with the old inode); it
also covers the input fingerprint kept beside the output. The kernel releases the lock when the process
ends, even on ``kill -9``, so a crashed run never leaves a stale lock. The lock file holds the holder's
pid, host and start time, so a refused run can name it, and is removed when the run ends.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from sharedlm._errors import UsageError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no locking
    fcntl = None  # type: ignore[assignment]

# Opening the lock file can race with its removal by a holder that is finishing; try again that often.
_ATTEMPTS = 5


def lock_path_for(output: Path) -> Path:
    """The lock file of ``output``: ``.NAME.lock`` in the same directory."""
    return output.with_name(f".{output.name}.lock")


@dataclass(frozen=True, kw_only=True)
class LockHolder:
    """Who holds an output's lock, as written in its lock file.

    Args:
        pid: The holder's process id.
        host: The holder's host name.
        started: When it took the lock, ISO 8601 in UTC.
    """

    pid: int | None
    host: str | None
    started: str | None

    def describe(self) -> str:
        """``pid 4242 on host box, since 2026-11-30T05:40:00Z``, leaving out what is unknown."""
        parts = []
        if self.pid is not None:
            parts.append(f"pid {self.pid}")
        if self.host:
            parts.append(f"on host {self.host}")
        if self.started:
            parts.append(f"since {self.started}")
        return " ".join(parts) or "details not written yet"

    @classmethod
    def read(cls, path: Path) -> LockHolder:
        """The holder recorded in lock file ``path`` (fields it cannot read are None)."""
        try:
            data: Any = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        pid = data.get("pid")
        return cls(pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
                   host=str(data["host"]) if data.get("host") else None,
                   started=str(data["started"]) if data.get("started") else None)


class OutputLock:
    """Holds the exclusive lock on one output file; a context manager.

    Args:
        output: The output file (it need not exist).
    """

    def __init__(self, output: Path) -> None:
        self.output = output
        self.path = lock_path_for(output)
        self._fd: int | None = None

    def __repr__(self) -> str:
        return f"OutputLock(output={str(self.output)!r}, {'held' if self._fd is not None else 'not held'})"

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock now, or fail with a usage error naming the run that holds it."""
        if self._fd is not None:
            raise RuntimeError(f"{self!r} is already held")
        if not self.output.parent.is_dir():
            raise UsageError(f"the directory of output {str(self.output)!r} does not exist; create "
                             f"{str(self.output.parent)!r} first")
        if fcntl is None:  # pragma: no cover - not on POSIX
            return
        for _ in range(_ATTEMPTS):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise UsageError(f"cannot create lock file {str(self.path)!r} beside output {str(self.output)!r}: "
                                 f"{exc.strerror or exc}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._in_use() from None
            except OSError:
                os.close(fd)
                raise
            if self._is_current(fd):
                self._fd = fd
                self._write_holder(fd)
                return
            os.close(fd)  # the holder removed the file after we opened it: lock the one on disk instead
        raise UsageError(f"could not take the lock {str(self.path)!r} of output {str(self.output)!r}: it keeps "
                         "being replaced; is another run starting and stopping on it?")

    def _is_current(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def _write_holder(self, fd: int) -> None:
        started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started,
                           "output": str(self.output)}) + "\n"
        os.ftruncate(fd, 0)
        os.pwrite(fd, data.encode("utf-8", "backslashreplace"), 0)

    def _in_use(self) -> UsageError:
        holder = LockHolder.read(self.path)
        return UsageError(
            f"output file {str(self.output)!r} is in use by another sharedlm run ({holder.describe()}); two runs on "
            "one output would run rows twice and lose lines. Wait for that run to finish or stop it (Ctrl-C), "
            "then run again; to run both at once, give this one another --output"
        )

    def release(self) -> None:
        """Remove the lock file and let go of the lock; safe to call twice."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()  # while still held, so no other run can hold a removed file's lock
        finally:
            os.close(fd)

    def __enter__(self) -> OutputLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.release()


__all__ = ["LockHolder", "OutputLock", "lock_path_for"]
