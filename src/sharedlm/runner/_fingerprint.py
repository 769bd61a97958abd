"""The input fingerprint kept beside an output, so ``--resume`` can tell whether the input changed.

Rows without an id field take their line (JSONL) or row (CSV, Parquet) number as id, so after the input
is edited, reordered or has lines inserted, the same id names another row: a resume would skip rows that
never ran and keep outputs of rows that are gone. So a run records what it read in ``.NAME.input.json``
beside its output ``NAME``, one line of JSON::

    {"sharedlm_input_fingerprint": 1, "input": "/data/in.csv", "format": "csv", "id_field": "id",
     "bytes": 1048576, "sha256": "9f86d0...", "rows": 2000, "positional_ids": true, "state_sha256": ""}

``bytes`` and ``sha256`` cover the prefix of the input the run has read: the file's raw bytes for JSONL and
CSV (header, blank lines and line ends included, so inserting a blank line is a change too), a canonical
JSON line per row for Parquet. ``rows`` counts the rows read; ``positional_ids`` says whether any row took
its number as id. The record is brought up to date before each output line is written, so it always
covers every row the output has a line for, even after ``kill -9``: one ``pwrite`` of a record that keeps
the same length (its numbers are padded), no rename per row.

On ``--resume``, when the output holds finished rows and some of them took their number as id, the
current input's first ``bytes`` bytes must hash to ``sha256`` (one sequential read, no parsing), or the
resume is refused with a usage error, as it is when the earlier run read a last line with no line end and the
input now goes on on that line. Rows appended to the input since pass the check and run. Rows with an id of
their own are matched by id, so no check is needed for them. A resumed run that has not yet read as far as
the earlier one keeps the earlier record (when that record was checked: it had positional ids), so coverage
never shrinks.

``state_sha256`` is the SHA-256 of the saved program state the run loaded with ``--load`` (``""`` for none). A
resume that loads another state, or none where the earlier run loaded one, is refused: the rows already finished
came from another program, and one output file would hold two programs' answers.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from sharedlm._errors import UsageError
from sharedlm.runner._readers import TEXT_FORMATS, parquet_content_line, parquet_rows

FINGERPRINT_VERSION = 1
_READ_CHUNK = 1024 * 1024
_NUMBER_WIDTH = 20


def fingerprint_path_for(output: Path) -> Path:
    """The fingerprint file of ``output``: ``.NAME.input.json`` in the same directory."""
    return output.with_name(f".{output.name}.input.json")


class ContentDigest:
    """A running SHA-256 of the input content a reader has consumed, and how many bytes that is."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.bytes = 0

    def __repr__(self) -> str:
        return f"ContentDigest(bytes={self.bytes})"

    def update(self, data: bytes) -> None:
        """Add the next bytes of the content stream."""
        self._hash.update(data)
        self.bytes += len(data)

    def hexdigest(self) -> str:
        """The SHA-256 of everything added so far (more can be added after)."""
        return self._hash.hexdigest()


@dataclass(frozen=True, kw_only=True)
class InputFingerprint:
    """What a run read of its input (see the module docstring for the file it is kept in).

    Args:
        input: The input file's absolute path, for messages.
        format: ``jsonl``, ``csv`` or ``parquet``.
        id_field: The field ids were taken from.
        bytes_read: Bytes of the content stream read.
        sha256: Their SHA-256.
        rows: Rows read.
        positional_ids: Some row took its line or row number as id.
        state_sha256: The SHA-256 of the saved program state the run loaded (``--load``), ``""`` when it loaded
            none, None when the record does not say (written by an older sharedlm).
    """

    input: str
    format: str
    id_field: str
    bytes_read: int
    sha256: str
    rows: int
    positional_ids: bool
    state_sha256: str | None = ""

    def to_line(self) -> bytes:
        """The record as written: the same length whatever its numbers, so it can be rewritten in place."""
        return (
            f'{{"sharedlm_input_fingerprint": {FINGERPRINT_VERSION}, "input": {json.dumps(self.input)}, '
            f'"format": {json.dumps(self.format)}, "id_field": {json.dumps(self.id_field)}, '
            f'"bytes": {self.bytes_read:<{_NUMBER_WIDTH}d}, "sha256": "{self.sha256}", '
            f'"rows": {self.rows:<{_NUMBER_WIDTH}d}, "positional_ids": {json.dumps(self.positional_ids):<5}, '
            f'"state_sha256": {json.dumps(self.state_sha256)}}}\n'
        ).encode()

    @classmethod
    def from_json(cls, data: Any) -> InputFingerprint | None:
        """The fingerprint in a parsed record, or None when it is not one this version writes."""
        if not isinstance(data, dict) or data.get("sharedlm_input_fingerprint") != FINGERPRINT_VERSION:
            return None
        try:
            fingerprint = cls(input=str(data["input"]), format=str(data["format"]), id_field=str(data["id_field"]),
                              bytes_read=int(data["bytes"]), sha256=str(data["sha256"]), rows=int(data["rows"]),
                              positional_ids=bool(data["positional_ids"]),
                              state_sha256=data["state_sha256"] if isinstance(data.get("state_sha256"), str) else None)
        except (KeyError, TypeError, ValueError):
            return None
        return fingerprint if fingerprint.bytes_read >= 0 and len(fingerprint.sha256) == 64 else None


def load_fingerprint(output: Path) -> InputFingerprint | None:
    """The fingerprint an earlier run left beside ``output``, or None when there is none (or it is unreadable)."""
    try:
        text = fingerprint_path_for(output).read_text(encoding="utf-8")
        return InputFingerprint.from_json(json.loads(text))
    except (OSError, ValueError):
        return None


def prefix_digest(path: Path, fmt: str, length: int) -> str | None:
    """The SHA-256 of the first ``length`` bytes of the input's content stream; None when it is shorter.

    Args:
        path: The input file.
        fmt: Its format.
        length: Bytes of the content stream to hash.
    """
    digest = hashlib.sha256()
    left = length
    if fmt in TEXT_FORMATS:
        with path.open("rb") as file:
            while left > 0:
                chunk = file.read(min(left, _READ_CHUNK))
                if not chunk:
                    return None
                digest.update(chunk)
                left -= len(chunk)
        return digest.hexdigest()
    for row in parquet_rows(path):
        if left <= 0:
            break
        line = parquet_content_line(row)[:left]
        digest.update(line)
        left -= len(line)
    return digest.hexdigest() if left <= 0 else None


def _line_not_continued(path: Path, fmt: str, length: int) -> bool:
    """Whether the first ``length`` bytes of a text input end a line, or the input still ends there.

    A run that read to the end of a last line with no line end finished that row as it was; text since appended
    right after it makes that line (and its row) another one.
    """
    if fmt not in TEXT_FORMATS or length == 0:
        return True
    with path.open("rb") as file:
        file.seek(length - 1)
        around = file.read(2)
    line_ends = (b"\n", b"\r")
    return around[:1] in line_ends or len(around) < 2 or around[1:2] in line_ends


def state_digest(path: Path | None) -> str:
    """The SHA-256 of a saved program state file, or ``""`` for none (the file was read and checked already)."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path is not None else ""


def check_resume_input(fingerprint: InputFingerprint, *, input_path: Path, fmt: str, id_field: str,
                       output: Path, state: Path | None = None, state_sha256: str = "") -> None:
    """Refuse (usage error) a resume whose rows would be matched to the wrong input rows, or run another program state.

    Args:
        fingerprint: What the earlier run read.
        input_path: The input of this run.
        fmt: Its format.
        id_field: The id field of this run.
        output: The output being resumed.
        state: The saved program state this run loads (``--load``), or None.
        state_sha256: Its SHA-256 (:func:`state_digest`), ``""`` when it loads none.
    """
    if fingerprint.state_sha256 is not None and fingerprint.state_sha256 != state_sha256:
        earlier = (f"loaded a saved program state with SHA-256 {fingerprint.state_sha256[:12]}..."
                   if fingerprint.state_sha256 else "loaded no saved program state")
        now = (f"loads {str(state)!r} (SHA-256 {state_sha256[:12]}...)" if state_sha256 else "loads none")
        raise UsageError(
            f"the earlier run into {str(output)!r} {earlier}; this one {now}. Its finished rows came from another "
            "program state, so --resume would mix two programs' outputs in one file. Resume with the --load the "
            "earlier run used, or start over with --overwrite (or write to another --output)"
        )
    if fingerprint.id_field != id_field:
        raise UsageError(
            f"the earlier run into {str(output)!r} took row ids from field {fingerprint.id_field!r}, this one would "
            f"take them from {id_field!r}, so rows would not match: pass --id-field {fingerprint.id_field} to resume "
            "it, or --overwrite to start over"
        )
    if not fingerprint.positional_ids or fingerprint.bytes_read == 0:
        return  # every finished row has an id of its own: rows are matched by id
    unit = "line" if fingerprint.format == "jsonl" else "row"
    if fmt == fingerprint.format and prefix_digest(input_path, fmt, fingerprint.bytes_read) == fingerprint.sha256:
        if _line_not_continued(input_path, fmt, fingerprint.bytes_read):
            return
        raise UsageError(
            f"input {str(input_path)!r} changed since the earlier run into {str(output)!r} read it: its last line then "
            f"(byte {fingerprint.bytes_read:,}) had no line end, and the input now goes on on that line, so the "
            f"{unit} the earlier run finished is another {unit} now (rows appended without a line end before them?). "
            f"Put a line end after byte {fingerprint.bytes_read:,} and resume, or start over with --overwrite"
        )
    raise UsageError(
        f"input {str(input_path)!r} changed since the earlier run into {str(output)!r} read it (its first "
        f"{fingerprint.rows:,} rows, {fingerprint.bytes_read:,} bytes, are not the same: edited, reordered, or lines "
        f"inserted or removed). Rows without an {id_field!r} field took their {unit} number as id, so --resume "
        "would skip the wrong rows. Restore that input, or start over with --overwrite; to resume across edits, "
        f"give every row its own id in an {id_field!r} field (or name another with --id-field)"
    )


class FingerprintRecorder:
    """Keeps the fingerprint file of one run up to date as its reader consumes the input.

    Args:
        output: The run's output file.
        input_path: The input file.
        fmt: Its format.
        id_field: The field ids are taken from.
        digest: The digest the input's reader feeds.
        base: The fingerprint of the earlier run this one resumes (already checked), or None.
        state_sha256: The SHA-256 of the saved program state this run loads, ``""`` for none.
    """

    def __init__(self, output: Path, *, input_path: Path, fmt: str, id_field: str, digest: ContentDigest,
                 base: InputFingerprint | None = None, state_sha256: str = "") -> None:
        self.path = fingerprint_path_for(output)
        self.rows = 0
        self.positional_ids = False
        self.digest = digest
        self._base = base
        self._static = InputFingerprint(input=str(input_path.absolute()), format=fmt, id_field=id_field, bytes_read=0,
                                        sha256=hashlib.sha256().hexdigest(), rows=0, positional_ids=False,
                                        state_sha256=state_sha256)
        self._written: InputFingerprint | None = None
        self._fd: int | None = None

    def __repr__(self) -> str:
        return (f"FingerprintRecorder(path={str(self.path)!r}, rows={self.rows}, bytes={self.digest.bytes}, "
                f"{'open' if self._fd is not None else 'closed'})")

    def note_row(self, *, positional: bool) -> None:
        """Count one row read; ``positional`` when it took its number as id."""
        self.rows += 1
        if positional:
            self.positional_ids = True

    def current(self) -> InputFingerprint:
        """The fingerprint as of now."""
        base = self._base
        # Only an earlier record with positional ids was checked against this input (its prefix is this input's);
        # one without covered no row by its number, and its bytes may be those of an input since edited.
        checked = base is not None and base.positional_ids
        if checked and base is not None and self.digest.bytes < base.bytes_read:
            # The earlier run read further: keep its coverage (the program state is this run's, checked equal).
            return replace(base, state_sha256=self._static.state_sha256)
        return replace(self._static, bytes_read=self.digest.bytes, sha256=self.digest.hexdigest(), rows=self.rows,
                       positional_ids=self.positional_ids or checked)

    def open(self) -> None:
        """Write the first record (atomically, replacing an earlier run's) and keep the file open for updates."""
        record = self.current()
        temp = self.path.with_name(self.path.name + ".tmp")
        with temp.open("wb") as file:
            file.write(record.to_line())
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, self.path)
        self._fd = os.open(self.path, os.O_WRONLY)
        self._written = record

    def checkpoint(self) -> None:
        """Bring the file up to date; call it before writing an output line so the file covers that row."""
        if self._fd is None:
            return
        record = self.current()
        if record == self._written:
            return
        line = record.to_line()
        if self._written is not None and len(line) != len(self._written.to_line()):  # pragma: no cover - fixed layout
            raise RuntimeError("an input fingerprint record changed length")
        os.pwrite(self._fd, line, 0)
        self._written = record

    def close(self) -> None:
        """Write the last record, flush it to disk and close the file; safe to call twice."""
        if self._fd is None:
            return
        try:
            self.checkpoint()
            os.fsync(self._fd)
        finally:
            fd, self._fd = self._fd, None
            os.close(fd)


__all__ = [
    "ContentDigest",
    "FingerprintRecorder",
    "InputFingerprint",
    "check_resume_input",
    "fingerprint_path_for",
    "load_fingerprint",
    "prefix_digest",
    "state_digest",
]
