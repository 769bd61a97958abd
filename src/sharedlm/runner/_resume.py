"""``--resume``: find the rows an earlier run finished, and compact its output file safely.

The output is keyed by id. Before a resumed run appends anything, the existing file is rewritten to hold
exactly its latest successful line per id: failed lines are dropped (those rows run again and append
their new outcome), a torn last line from a crash is dropped, and so are older duplicates. The rewrite goes
to a temporary file next to the output, is flushed to disk, then replaces the output with ``os.replace``:
a crash at any point leaves either the old file or the new one, never a half-written mix, and a temporary
file left by such a crash is removed by the next resume. A file that is already compact is not rewritten.

So after a resumed run completes, the file holds one line per id: its latest outcome.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from sharedlm.runner._results import id_key


@dataclass(frozen=True, kw_only=True)
class ResumeState:
    """What an earlier run left in the output file.

    Args:
        done_keys: Keys (:func:`~sharedlm.runner._results.id_key`) of rows with a successful line.
        failed: Failed lines dropped; those rows run again.
        torn: Lines that were not a complete result (a crash's torn last line) and were dropped.
        superseded: Older successful lines of an id that has a later one, dropped.
        rewritten: Whether the file had to be compacted.
    """

    done_keys: set[str] = field(default_factory=set)
    failed: int = 0
    torn: int = 0
    superseded: int = 0
    rewritten: bool = False

    def describe(self) -> str:
        """One line for the user about what the resume found."""
        parts = [f"{len(self.done_keys)} rows already succeeded and will be skipped"]
        if self.failed:
            parts.append(f"{self.failed} failed rows will run again")
        if self.torn:
            parts.append(f"dropped {self.torn} incomplete line{'s' if self.torn > 1 else ''}")
        if self.superseded:
            parts.append(f"dropped {self.superseded} older duplicate line{'s' if self.superseded > 1 else ''}")
        return "; ".join(parts)


def temp_path_for(path: Path) -> Path:
    """The temporary file a compaction of ``path`` writes before replacing it."""
    return path.with_name(f".{path.name}.resume-tmp")


def _parse_line(raw: bytes) -> tuple[str, bool] | None:
    """The id key of one output line and whether it succeeded, or None for a torn or foreign line."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("id"), str | int) or isinstance(data.get("id"), bool):
        return None
    return id_key(data["id"]), data.get("error") is None and "output" in data


def prepare_resume(path: Path) -> ResumeState:
    """Scan the output of an earlier run and compact it to its latest successful line per id.

    Args:
        path: The output file; a missing or empty file means nothing was done yet.
    """
    scan = scan_output(path)
    compact_output(path, scan)
    return scan.state


@dataclass(frozen=True)
class OutputScan:
    """What :func:`scan_output` found, and which lines a compaction keeps.

    Args:
        state: What the earlier run left.
        keep: Indexes of the lines to keep.
        line_count: Lines in the file.
    """

    state: ResumeState
    keep: list[int]
    line_count: int


def scan_output(path: Path) -> OutputScan:
    """Read the output of an earlier run without changing it (see :func:`compact_output`).

    Args:
        path: The output file; a missing or empty file means nothing was done yet.
    """
    if not path.exists():
        return OutputScan(state=ResumeState(), keep=[], line_count=0)
    latest: dict[str, int] = {}
    failed = torn = superseded = 0
    line_count = 0
    ends_with_newline = True
    with path.open("rb") as file:
        for index, raw in enumerate(file):
            line_count += 1
            ends_with_newline = raw.endswith(b"\n")
            if not raw.strip():
                torn += 1
                continue
            parsed = _parse_line(raw)
            if parsed is None:
                torn += 1
                continue
            key, ok = parsed
            if not ok:
                failed += 1
                continue
            if key in latest:
                superseded += 1
            latest[key] = index
    rewrite = bool(failed or torn or superseded or not ends_with_newline)
    state = ResumeState(done_keys=set(latest), failed=failed, torn=torn, superseded=superseded, rewritten=rewrite)
    return OutputScan(state=state, keep=list(latest.values()), line_count=line_count)


def compact_output(path: Path, scan: OutputScan) -> None:
    """Rewrite the output to the lines ``scan`` keeps, when it needs it; remove a crashed compaction's file.

    Args:
        path: The output file.
        scan: What :func:`scan_output` found in it.
    """
    temp_path_for(path).unlink(missing_ok=True)
    if scan.state.rewritten:
        _compact(path, keep=scan.keep, line_count=scan.line_count)


def _compact(path: Path, *, keep: Iterable[int], line_count: int) -> None:
    keep_mask = bytearray(line_count)  # one byte per line, not one object per line
    for index in keep:
        keep_mask[index] = 1
    temp = temp_path_for(path)
    with path.open("rb") as source, temp.open("wb") as target:
        for index, raw in enumerate(source):
            if keep_mask[index]:
                target.write(raw if raw.endswith(b"\n") else raw + b"\n")
        target.flush()
        os.fsync(target.fileno())
    os.replace(temp, path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; some filesystems do not support it, which only weakens power-loss safety.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


__all__ = ["OutputScan", "ResumeState", "compact_output", "prepare_resume", "scan_output", "temp_path_for"]
