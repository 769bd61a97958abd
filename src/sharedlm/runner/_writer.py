"""The output file: checking it before a run, and appending one JSON line per finished row.

Each line goes to the operating system in a single unbuffered write as soon as its row finishes, so a
crash or ``kill -9`` loses only rows still in flight, never a finished one waiting in a buffer. A write cut
short by the crash leaves at most one torn last line, which ``--resume`` tolerates.

Every result can be written: text that UTF-8 cannot encode (a lone surrogate such as ``"\\ud83d"``) is
written as a JSON ``\\u`` escape, and a result that cannot be made into JSON at all becomes an error line
for its row (``OutputError``), so one row's output never ends the run.

Every line is RFC 8259 JSON. A program's NaN or infinite float is already its string (``"nan"``) when it gets here
(:func:`~sharedlm.runner._outputs.json_ready`); one that gets here anyway (a bookkeeping number, a result built by
other code) is not written as ``NaN``, which strict JSON readers refuse, but makes the row an ``OutputError`` line
naming the field: the row is still accounted for, and a number never silently turns into a string.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

from sharedlm._errors import UsageError
from sharedlm.runner._readers import first_non_finite
from sharedlm.runner._results import RowError, RowResult

OUTPUT_ERROR = "OutputError"


def check_output(path: Path, *, resume: bool, overwrite: bool, input_path: Path | None = None,
                 load_path: Path | None = None) -> None:
    """Fail with a usage error, before any row is sent, when the run cannot or must not write ``path``.

    Args:
        path: The output file.
        resume: The run continues an earlier one in the same file.
        overwrite: The run may replace an existing file.
        input_path: The run's input file, which the output must not be (by any name, hard links included).
        load_path: The saved program state the run loads (``--load``), which the output must not be either.
    """
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other: --resume keeps the finished rows of "
                         "the output file, --overwrite throws them away; pass one of them")
    if path.is_dir():
        raise UsageError(f"output {str(path)!r} is a directory; pass a file path such as results.jsonl")
    if input_path is not None and _same_file(path, input_path):
        raise UsageError(f"output {str(path)!r} is the input file {str(input_path)!r} (the same file, by this name or "
                         "another): the run would write over the rows it reads; pass another --output")
    if load_path is not None and _same_file(path, load_path):
        raise UsageError(f"output {str(path)!r} is the saved program state {str(load_path)!r} that --load reads (the "
                         "same file, by this name or another): the run would write over it; pass another --output")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"the directory of output {str(path)!r} does not exist; create {str(parent)!r} first")
    if path.exists() and path.stat().st_size > 0 and not (resume or overwrite):
        raise UsageError(
            f"output file {str(path)!r} already exists and is not empty; pass --resume to continue that run "
            "(finished rows are skipped) or --overwrite to replace it"
        )
    _probe_writable(path)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): not the same file
        return False


def _probe_writable(path: Path) -> None:
    """Refuse an output that cannot be written, without making the output file appear before the run writes it.

    An output that does not exist yet is probed with a file of another name in its directory: a file created and
    removed under the output's own name would be seen, for a moment, by whatever watches for it (a tail, a test
    waiting for lines), then vanish.
    """
    try:
        if path.exists():
            with path.open("ab"):
                pass
        else:
            with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", suffix=".probe"):
                pass
    except OSError as exc:
        raise UsageError(f"cannot write output file {str(path)!r}: {exc.strerror or exc}") from None


def dumps_result(result: RowResult) -> bytes:
    """One output line (newline included) for ``result``; raises only when it cannot be JSON at all."""
    return _dumps(result.as_json_dict())


def _dumps(data: dict[str, Any]) -> bytes:
    # default=str: outputs are made JSON-ready before this; the fallback only guards against surprises.
    # allow_nan=False: json.dumps would write a NaN or infinite float as NaN / Infinity, which is not JSON.
    text = json.dumps(data, ensure_ascii=False, default=str, allow_nan=False)
    try:
        return (text + "\n").encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: ASCII JSON writes it as a \u escape, which reads back the same
        return (json.dumps(data, ensure_ascii=True, default=str, allow_nan=False) + "\n").encode("ascii")


def writable_result(result: RowResult) -> tuple[RowResult, bytes]:
    """The result to write for ``result`` and its line: itself, or an error result when it cannot be written.

    Args:
        result: A row's outcome.
    """
    try:
        return result, dumps_result(result)
    except Exception as exc:
        reason = _non_finite_reason(result) or (f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
        # The error line must be writable itself: a non-finite bookkeeping number is dropped from it. A finite cost
        # is kept, so the output still says what the row spent.
        latency_s = result.latency_s if math.isfinite(result.latency_s) else 0.0
        cost_usd = result.cost_usd if result.cost_usd is None or math.isfinite(result.cost_usd) else None
        failed = RowResult(id=result.id, output=None, attempts=result.attempts, latency_s=latency_s,
                           usage=result.usage, cost_usd=cost_usd,
                           error=RowError(type=OUTPUT_ERROR,
                                          message=f"the row's result could not be written as JSON: {reason}"))
        return failed, dumps_result(failed)


def _non_finite_reason(result: RowResult) -> str | None:
    """Why ``result`` cannot be JSON when a NaN or infinite float is the reason, naming the field; else None."""
    try:
        found = first_non_finite(result.as_json_dict())
    except Exception:  # the reason is only for the message; the row's error line is written either way
        return None
    if found is None:
        return None
    path, value = found
    what = f"field {path} is {value!r}, a number JSON cannot hold (RFC 8259 has no NaN or Infinity)"
    if path.startswith(".output"):
        return f"{what}; make the program return null or a string there"
    return f"{what}; this is a bug in sharedlm's bookkeeping, please report it"


class ResultWriter:
    """Appends results to the output file, one unbuffered write per line.

    Args:
        path: The output file.
        truncate: Empty the file first (``--overwrite``); otherwise append to what is there.
    """

    def __init__(self, path: Path, *, truncate: bool = False) -> None:
        self.path = path
        self.lines_written = 0
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | (os.O_TRUNC if truncate else 0),
                                       0o644)

    def __repr__(self) -> str:
        state = "open" if self._fd is not None else "closed"
        return f"ResultWriter(path={str(self.path)!r}, lines_written={self.lines_written}, {state})"

    def write(self, result: RowResult) -> RowResult:
        """Append one result line and hand it to the operating system at once; return the result written.

        That is ``result`` itself, or an ``OutputError`` result for its row when it cannot be written as JSON.
        """
        if self._fd is None:
            raise ValueError(f"{self!r} is closed")
        written_result, line = writable_result(result)
        data = memoryview(line)
        while data:
            written = os.write(self._fd, data)
            data = data[written:]
        self.lines_written += 1
        return written_result

    def close(self) -> None:
        """Flush the file to disk and close it; safe to call twice."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> ResultWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


__all__ = ["OUTPUT_ERROR", "ResultWriter", "check_output", "dumps_result", "writable_result"]
