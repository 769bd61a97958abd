"""Streaming readers of input files (JSONL, CSV, Parquet) producing :class:`SourceRow` objects.

Each reader is a generator that holds one record (a JSONL line, a CSV record) or one small record batch
(Parquet) at a time, so memory does not grow with the file. Numbering, which is also the id of a row without one:

- JSONL: the 1-based line number in the file. Blank lines are skipped but still counted, so the number
  is the one an editor shows.
- CSV: the 1-based data row number, the header not counted; messages also give the file line.
- Parquet: the 1-based row number.

Every record of the input is accounted for exactly once: a record that cannot be read (bytes that are not
text in the input's encoding, malformed JSON, JSON nested too deeply, a lone surrogate, a value JSON does not
have, a CSV record with the wrong number of fields or a field over the CSV module's limit, a record over
``max_record_bytes``) becomes a ``SourceRow`` with a ``problem`` naming its location, and the next record is read
as usual.

JSONL is read as RFC 8259 JSON, stricter than :func:`json.loads`: a ``NaN``, ``Infinity`` or ``-Infinity`` token,
and a number too large for a float (``1e400``, which Python reads as infinity), make the line an error row naming
the field (as a jq path, such as ``.scores[2]``). Such a value would reach the program as a float that no provider
API takes. The check costs nothing on a line without floats: the decoder refuses the three tokens, and an overflowed
float, as it meets them, and only a refused line is read again and walked to name the field. Parquet and CSV are not
checked: a Parquet ``NaN`` is a legitimate float (pandas writes missing values so), and a CSV field is text.

Text inputs are read as bytes and split into records here, not by the ``csv`` module: a decoding error
then costs one record, never the buffer around it, and an oversized record is skipped to its real end
(found by the same quoting rules ``csv`` follows) instead of being resumed mid-record. Undecodable bytes
are carried through as lone surrogates (``U+DC00 + byte``), which no decoder produces for valid text, and
turn the record into an error row that names the bytes and suggests ``--encoding`` when they look like
Windows-1252 / Latin-1 text.

:func:`check_ids` reads the input once more, before a run, to refuse an input where a row reported under its
number (no id of its own, or unreadable) and another row giving that number as its id would share one id (see
:mod:`sharedlm.runner._source` for why that cannot be left to the run).

A :class:`~sharedlm.runner._fingerprint.ContentDigest` passed to :func:`read_rows` is fed every byte the
reader consumes (for Parquet, a canonical line per row), so ``--resume`` can tell whether the part of the
input an earlier run read has changed since.
"""

from __future__ import annotations

import codecs
import csv
import json
import math
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import IO, Any, Protocol

from sharedlm._errors import UsageError
from sharedlm.runner._source import (
    IdCollision,
    SourceRow,
    find_id_collision,
    find_numbered_row,
    number_in_id,
    own_id,
)

FORMATS = ("jsonl", "csv", "parquet")
TEXT_FORMATS = ("jsonl", "csv")
_SUFFIX_FORMATS = {
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet", ".pq": "parquet",
}
# Inputs up to this size are counted before the run so progress can show a total and an ETA; bigger
# files are not read twice just for a total (pass --limit to get one).
COUNT_MAX_BYTES = 128 * 1024 * 1024
PARQUET_BATCH_ROWS = 1024
_COUNT_CHUNK = 1024 * 1024
PARQUET_INSTALL_HINT = "pip install 'sharedlm[parquet]'"
DEFAULT_ENCODING = "utf-8"
# A record (JSONL line, CSV record) larger than this is an error row and is never held whole in memory.
MAX_RECORD_BYTES = 64 * 1024 * 1024
# Lines are read in pieces of at most this many bytes, so one huge line never has to fit in memory.
_READ_CHUNK = 1024 * 1024
# Undecodable bytes become U+DC00 + byte; this error handler is registered once, under a private name.
_ESCAPE_ERRORS = "sharedlm-escape-undecodable"
_SURROGATES = re.compile("[\ud800-\udfff]")
_JSON_SPACE = " \t\r\n"
# A JSON string escape that may decode to a lone surrogate; only lines holding one are checked further.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_PATH_CHARS = 200
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32"), (codecs.BOM_UTF32_BE, "UTF-32"), (codecs.BOM_UTF16_LE, "UTF-16"),
         (codecs.BOM_UTF16_BE, "UTF-16"))
_SHOWN_BYTES = 5
# How much of a text input is looked at before the run: for a JSON array's start and for NUL bytes (UTF-16/32).
_SNIFF_BYTES = 64 * 1024
_WIDE_SAMPLE_BYTES = 256


def _escape_undecodable(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    return "".join(chr(0xDC00 + byte) for byte in exc.object[exc.start:exc.end]), exc.end


codecs.register_error(_ESCAPE_ERRORS, _escape_undecodable)


class _NonJSONNumber(Exception):
    """Raised by the strict decoder at a ``NaN``, ``Infinity`` or ``-Infinity`` token (not JSON, RFC 8259), or at a
    number too large for a float."""


def _refuse_constant(token: str) -> Any:
    raise _NonJSONNumber(token)


def _finite_float(text: str, _float: type[float] = float) -> float:
    value = _float(text)
    if value * 0.0 != 0.0:  # only an infinity times 0 is not 0: the literal overflowed (1e400); cheaper than isinf
        raise _NonJSONNumber("overflow")
    return value


class _ConstantFloat(float):
    """The value of a ``NaN`` / ``Infinity`` / ``-Infinity`` token, marked so it is told apart from an overflow."""


# Module-level decoders: json.loads builds a new decoder on every call given an option, and the reader reads
# millions of lines. The strict one costs nothing on a line without floats (about 0.1 us per float literal); the
# marking one reads a refused line again, so the walk that names the field is done for refused lines only.
_STRICT_JSON = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
_MARKING_JSON = json.JSONDecoder(parse_constant=_ConstantFloat)
_JSON_BOM = "\ufeff"


def _decode_json(line: str) -> tuple[Any, bool]:
    """The JSON value of a line, and whether it holds a ``NaN``/``Infinity`` token or an overflowed float.

    The tokens' values are marked (:class:`_ConstantFloat`), so a message tells them from an overflow.

    Raises:
        ValueError: The line is not JSON, as :func:`json.loads` says it.
        RecursionError: It is nested too deeply.
    """
    if line.startswith(_JSON_BOM):  # as json.loads says it; JSONDecoder.decode would only say "Expecting value"
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", line, 0)
    try:
        return _STRICT_JSON.decode(line), False
    except _NonJSONNumber:
        return _MARKING_JSON.decode(line), True


def first_non_finite(value: Any) -> tuple[str, float] | None:
    """The first float in ``value`` that is NaN or infinite, in document order, with its jq path (``.a[2]``).

    Walks lists and dicts without recursion, so a value nested as deeply as the decoder allows is walked too.

    Args:
        value: Decoded JSON, or data about to be written as JSON.
    """
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, float):
            if not math.isfinite(item):
                return _shown_path(path), item
        elif isinstance(item, dict):
            stack.extend((path + _key_step(path, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list | tuple):
            stack.extend((f"{path}[{index}]", item[index]) for index in range(len(item) - 1, -1, -1))
    return None


def _key_step(path: str, key: Any) -> str:
    text = str(key)
    if _IDENTIFIER.fullmatch(text):
        return f".{text}"
    quoted = json.dumps(text, ensure_ascii=False)
    return f"[{quoted}]" if path else f".[{quoted}]"


def _shown_path(path: str) -> str:
    path = path or "."
    return path if len(path) <= _MAX_PATH_CHARS else path[:_MAX_PATH_CHARS] + "..."


def _non_finite_problem(found: tuple[str, float] | None) -> str:
    """Why a line holding a NaN or infinite number is not read, naming its field and what to write instead.

    Args:
        found: The field and its value, or None when a later value of a key given twice replaced it.
    """
    if found is None:  # still not JSON, though the value the program would see is not the bad one
        return ("has NaN, Infinity or a number too large for a 64-bit float under a key given twice; NaN and Infinity "
                "are not JSON (RFC 8259): write null or a string there instead, and give each key once")
    path, number = found
    if isinstance(number, _ConstantFloat):
        token = "NaN" if math.isnan(number) else "Infinity" if number > 0 else "-Infinity"
        return (f"has {token} in field {path}: NaN and Infinity are not JSON (RFC 8259) and no provider API accepts "
                f"them; write null or a string such as \"{token}\" there instead")
    sign = "-" if number < 0 else ""
    return (f"has a number in field {path} too large for a 64-bit float (it reads as {sign}infinity), which no "
            "provider API accepts; write null, a string, or a number within +/-1.8e308 there instead")


class DigestSink(Protocol):
    """What a reader feeds the bytes it consumes to (a :class:`~sharedlm.runner._fingerprint.ContentDigest`)."""

    def update(self, data: bytes) -> None:
        """Add the next bytes of the input's content stream."""


def detect_format(path: Path, explicit: str | None = None) -> str:
    """The input format: ``explicit`` when given, else from the file suffix.

    Args:
        path: The input file.
        explicit: ``"jsonl"``, ``"csv"`` or ``"parquet"``, or None to use the suffix.
    """
    if explicit is not None:
        if explicit not in FORMATS:
            raise UsageError(f"--format must be one of {', '.join(FORMATS)}, got {explicit!r}")
        return explicit
    fmt = _SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UsageError(
            f"cannot tell the format of input {str(path)!r} from its suffix {path.suffix!r}: "
            f"use .jsonl, .csv or .parquet, or pass --format {{{','.join(FORMATS)}}}"
        )
    return fmt


def check_encoding(encoding: str | None, fmt: str) -> str | None:
    """The codec name to read a text input with (None for Parquet); a usage error for one that cannot work.

    A UTF-8 byte-order mark at the start of the file is dropped whichever UTF-8 spelling is given.

    Args:
        encoding: ``--encoding`` as given, or None for UTF-8.
        fmt: The input format.
    """
    if fmt not in TEXT_FORMATS:
        if encoding is not None:
            raise UsageError(f"--encoding applies to JSONL and CSV input, not {fmt}; drop it")
        return None
    try:
        name = codecs.lookup(encoding or DEFAULT_ENCODING).name
    except LookupError:
        raise UsageError(f"--encoding {encoding!r} is not an encoding Python knows; use a name such as utf-8, "
                         "cp1252 or latin-1") from None
    probe = '\n\r,"{}[]: az09'
    try:
        compatible = probe.encode(name) == probe.encode("ascii") and codecs.decode(probe.encode("ascii"), name) == probe
    except (UnicodeError, LookupError, TypeError):
        compatible = False
    if not compatible:
        raise UsageError(f"--encoding {encoding!r} is not supported: input must use an ASCII-compatible encoding "
                         "(utf-8, cp1252, latin-1, shift_jis, ...); convert the file to UTF-8 first, e.g. "
                         f"iconv -f {encoding} -t UTF-8 in.csv > in-utf8.csv")
    return "utf-8-sig" if name in ("utf-8", "utf-8-sig") else name


def check_input(path: Path, fmt: str, *, encoding: str | None = None) -> None:
    """Fail with a usage error when the input cannot be read at all, before any row is sent.

    Args:
        path: The input file.
        fmt: Its format, from :func:`detect_format`.
        encoding: ``--encoding`` as given, or None.
    """
    if not path.exists():
        raise UsageError(f"input file {str(path)!r} does not exist")
    if path.is_dir():
        raise UsageError(f"input {str(path)!r} is a directory; pass a .jsonl, .csv or .parquet file")
    if not os.access(path, os.R_OK):
        raise UsageError(f"input file {str(path)!r} is not readable")
    if not path.is_file():
        # A pipe (`<(zcat ...)`, /dev/stdin) can be read once; the ids are checked and the rows counted before the run.
        raise UsageError(f"input {str(path)!r} is not a regular file (a pipe or a device): sharedlm run reads its "
                         "input more than once (to check ids, to count rows, to resume), so write it to a file "
                         f"first, e.g. zcat data.jsonl.gz > data.jsonl")
    check_encoding(encoding, fmt)
    if fmt == "parquet":
        pq = _import_parquet()
        try:
            with pq.ParquetFile(path):
                pass
        except Exception as exc:  # pyarrow's ArrowInvalid for a file that is not Parquet, an OSError reading it
            raise UsageError(f"input {str(path)!r} is not a Parquet file pyarrow can read ({_first_line(exc)}); "
                             "pass a Parquet file, or --format jsonl / --format csv for a text file") from None
        return
    try:
        with path.open("rb") as file:
            start = file.read(_SNIFF_BYTES)
    except OSError as exc:
        raise UsageError(f"input file {str(path)!r} cannot be read: {exc.strerror or exc}") from None
    for bom, name in _BOMS:
        if start.startswith(bom):
            raise UsageError(f"input file {str(path)!r} is {name} text (it starts with a {name} byte-order mark); "
                             f"convert it to UTF-8 first, e.g. iconv -f {name} -t UTF-8 {path.name} > "
                             f"{path.stem}-utf8{path.suffix}")
    head = start[:_WIDE_SAMPLE_BYTES]
    if len(head) >= 8 and head.count(0) * 4 >= len(head):
        # Text in an ASCII-compatible encoding has no NUL bytes; UTF-16 has one in every other byte of ASCII text.
        raise UsageError(f"input file {str(path)!r} looks like UTF-16 or UTF-32 text without a byte-order mark "
                         f"({head.count(0)} of its first {len(head)} bytes are NUL); convert it to UTF-8 first, e.g. "
                         f"iconv -f UTF-16LE -t UTF-8 {path.name} > {path.stem}-utf8{path.suffix}")
    if fmt == "jsonl" and _holds_one_json_array(start):
        raise UsageError(f"input file {str(path)!r} holds one JSON array (it starts with '['), not JSON Lines (one "
                         f"object per line): convert it first, e.g. jq -c '.[]' {path.name} > {path.stem}.jsonl")
    if fmt == "csv":
        _check_csv_header(path, _codec(encoding, fmt))


def _holds_one_json_array(start: bytes) -> bool:
    """Whether a JSONL input's first bytes are those of one JSON array (a ``.json`` file), not of JSON Lines.

    A first line that is ``[`` (or the start of an array that goes on past it), or a whole array of objects on one
    line: read as JSON Lines, such a file would make an error line of every physical line.
    """
    text = start.removeprefix(codecs.BOM_UTF8).lstrip()
    if not text.startswith(b"["):
        return False
    first_line = text.split(b"\n", 1)[0]
    try:
        # Lenient on purpose: this asks only whether the file is shaped as one array. A NaN on the first line is
        # judged like any other line's, by the reader (an error row for that line, the rest of the file read).
        value = json.loads(first_line)
    except ValueError:
        return True
    return isinstance(value, list) and bool(value) and all(isinstance(item, dict) for item in value)


def _check_csv_header(path: Path, codec: str) -> None:
    """Read the CSV header now, so a header that cannot be read stops the run before the program loads."""
    with path.open("rb") as file:
        for _, text, size in _csv_records(file, codec, None, MAX_RECORD_BYTES):
            if _read_header(path, text, size, codec, MAX_RECORD_BYTES) is not None:
                return


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _import_parquet() -> Any:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"reading Parquet input needs pyarrow, which is not installed: {PARQUET_INSTALL_HINT}") \
            from None
    return pq


def read_rows(path: Path, fmt: str, *, encoding: str | None = None, digest: DigestSink | None = None,
              max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[SourceRow]:
    """Stream the rows of an input file, one :class:`SourceRow` per record, every record exactly once.

    Args:
        path: The input file.
        fmt: ``"jsonl"``, ``"csv"`` or ``"parquet"``.
        encoding: The text encoding of a JSONL or CSV file (``--encoding``); UTF-8 when None.
        digest: Fed every byte the reader consumes, in order (for Parquet, one canonical JSON line per row).
        max_record_bytes: A record larger than this becomes an error row without being held in memory.
    """
    if fmt == "jsonl":
        return _read_jsonl(path, _codec(encoding, fmt), digest, max_record_bytes)
    if fmt == "csv":
        return _read_csv(path, _codec(encoding, fmt), digest, max_record_bytes)
    if fmt == "parquet":
        check_encoding(encoding, fmt)
        return _read_parquet(path, digest)
    raise UsageError(f"unknown input format {fmt!r}")


def check_ids(path: Path, fmt: str, *, id_field: str, encoding: str | None = None, limit: int | None = None) -> None:
    """Refuse, before anything runs, an input where two rows would share an id: one by its number, one by its field.

    A row with no id of its own is reported under its line (JSONL) or data row (CSV, Parquet) number, and ids are
    matched as text, so ``"id": 3`` or ``"id": "3"`` on another row would be the same id: the output could not be
    joined on ``id`` and a resume could skip a row that never ran. This reads the rows the run may take (the first
    ``limit``; a later run taking more checks again) and keeps row numbers only (see
    :func:`~sharedlm.runner._source.find_id_collision`); only on a collision does it read again, up to the two rows,
    to name them.

    Args:
        path: The input file, already checked by :func:`check_input`.
        fmt: Its format.
        id_field: The field holding a row's id.
        encoding: ``--encoding`` as given, or None.
        limit: Check only the first ``limit`` rows, or None for all.

    Raises:
        UsageError: Naming both rows, the id they would share, and how to fix the input.
    """
    rows = read_rows(path, fmt, encoding=encoding)
    try:
        collision = find_id_collision(rows, id_field, limit=limit)
    finally:
        _close(rows)
    if collision is not None:
        raise UsageError(_collision_message(path, fmt, id_field, encoding, collision))


def check_finished_ids(path: Path, fmt: str, *, id_field: str, finished: Collection[str], output: Path,
                       encoding: str | None = None, limit: int | None = None) -> None:
    """Refuse a resume that would skip a row reported under its number because another row finished that id.

    For a resume whose earlier runs reported no row under its number (the fingerprint's ``positional_ids`` is
    false), so every finished id is one a row gave itself. :func:`check_ids` catches that row while it is still in
    the input; this catches it once it is gone (removed or given another id) and a row without an id now sits at
    that number: the fingerprint does not check an input whose rows all had ids, and the row would be skipped as
    done without ever running. Reads the input only when some finished id is a row number.

    Args:
        path: The input file.
        fmt: Its format.
        id_field: The field holding a row's id.
        finished: Id keys of the rows the output holds a successful line for.
        output: The output being resumed, for the message.
        encoding: ``--encoding`` as given, or None.
        limit: Look at only the first ``limit`` rows, or None for all.

    Raises:
        UsageError: Naming the row, the id and how to go on.
    """
    numbers = {number for key in finished if (number := number_in_id(key)) is not None}
    if not numbers:
        return
    rows = read_rows(path, fmt, encoding=encoding)
    try:
        row = find_numbered_row(rows, id_field, numbers, limit=limit)
    finally:
        _close(rows)
    if row is None:
        return
    unit = "line" if fmt == "jsonl" else "row"
    why = f"cannot be read ({row.problem})" if row.fields is None else f"has no {id_field!r} of its own"
    raise UsageError(
        f"input {str(path)!r}: {row.where} {why}, so it is reported under its {unit} number {row.number}, but "
        f"{row.number} is the {id_field!r} of a row the earlier run into {str(output)!r} finished, a row that gave "
        f"it as its own {id_field!r} and is no longer in the input. --resume would skip {row.where} as done though it "
        f"never ran. Nothing was run. To go on, give {row.where} an {id_field!r} of its own, or start over with "
        "--overwrite"
    )


def _collision_message(path: Path, fmt: str, id_field: str, encoding: str | None, collision: IdCollision) -> str:
    unit = "line" if fmt == "jsonl" else "row"
    number = collision.numbered
    rows = _rows_numbered(path, fmt, encoding, {number, collision.given_by})
    row, giver = rows.get(number), rows.get(collision.given_by)
    where = row.where if row is not None else f"{unit} {number}"
    given_by = giver.where if giver is not None else f"{unit} {collision.given_by}"
    given = None if giver is None or giver.fields is None else own_id(giver.fields, id_field)
    own = None if row is None or row.fields is None else own_id(row.fields, id_field)
    if row is not None and row.fields is None:
        why, fix = f"cannot be read ({row.problem})", f"fix {where} and give it an {id_field!r} of its own"
    elif own is not None:
        why = f"has {id_field!r} {own!r}, which is not a string or a whole number"
        fix = f"make the {id_field!r} of {where} a string or a whole number"
    else:
        why, fix = f"has no {id_field!r} of its own", f"give {where} an {id_field!r} of its own"
    return (f"input {str(path)!r}: {where} {why}, so it is reported under its {unit} number {number}, and "
            f"{given_by} gives {given!r} as its {id_field!r}. Ids are matched as text, so the two rows would share "
            f"id {number}: the output could not be joined on {id_field!r} and --resume could skip the wrong row. "
            f"Nothing was run. To go on, {fix}, or give {given_by} another {id_field!r}")


def _rows_numbered(path: Path, fmt: str, encoding: str | None, numbers: set[int]) -> dict[int, SourceRow]:
    """The rows with these numbers, reading no further than the last of them."""
    found: dict[int, SourceRow] = {}
    rows = read_rows(path, fmt, encoding=encoding)
    try:
        for row in rows:
            if row.number in numbers:
                found[row.number] = row
                if len(found) == len(numbers):
                    break
    finally:
        _close(rows)
    return found


def _close(rows: Iterator[SourceRow]) -> None:
    close = getattr(rows, "close", None)
    if close is not None:
        close()  # a reader left part way closes its file now, not when it is collected


def _codec(encoding: str | None, fmt: str) -> str:
    codec = check_encoding(encoding, fmt)
    assert codec is not None
    return codec


def _fragments(file: IO[bytes], codec: str, *, split_cr: bool) -> Iterator[tuple[bytes, str, bool]]:
    """The file as ``(raw, text, ends_line)`` pieces: whole lines, or pieces of a line longer than a chunk.

    Lines end at ``\\n``; with ``split_cr`` (CSV, like ``open(newline="")``) also at ``\\r\\n`` and a lone ``\\r``.
    """
    decoder = codecs.getincrementaldecoder(codec)(errors=_ESCAPE_ERRORS)
    while piece := file.readline(_READ_CHUNK):
        parts = _split_lone_cr(piece, file) if split_cr else (piece,)
        for part in parts:
            ends = part.endswith(b"\n") or (split_cr and part.endswith(b"\r"))
            yield part, decoder.decode(part), ends
    tail = decoder.decode(b"", final=True)  # a multi-byte sequence cut off by the end of the file
    if tail:
        yield b"", tail, False


def _split_lone_cr(piece: bytes, file: IO[bytes]) -> list[bytes]:
    if b"\r" not in piece:
        return [piece]
    if piece.endswith(b"\r"):
        # readline stopped at its chunk limit (or the end) right after a CR: a following LF belongs to it.
        peek = getattr(file, "peek", None)
        following = peek(1)[:1] if peek is not None else b""
        if following == b"\n":
            piece += file.read(1)
    parts = re.split(rb"(?<=\r)(?!\n)", piece)
    return [part for part in parts if part]


def _read_jsonl(path: Path, codec: str, digest: DigestSink | None, max_record_bytes: int) -> Iterator[SourceRow]:
    with path.open("rb") as file:
        number = 0
        texts: list[str] = []
        size = 0
        blank = True  # only JSON whitespace so far: kept apart from `texts`, which an oversized line drops
        for raw, text, ends in _fragments(file, codec, split_cr=False):
            if digest is not None:
                digest.update(raw)
            size += len(raw)
            blank = blank and not text.strip(_JSON_SPACE)
            if size <= max_record_bytes:
                texts.append(text)
            if ends:
                number += 1
                if not blank:
                    yield _jsonl_row(path, number, texts, size, codec, max_record_bytes)
                texts, size, blank = [], 0, True
        if not blank:  # a last line without a newline
            yield _jsonl_row(path, number + 1, texts, size, codec, max_record_bytes)


def _jsonl_row(path: Path, number: int, texts: list[str], size: int, codec: str,
               max_record_bytes: int) -> SourceRow:
    where = f"line {number}"

    def problem(text: str) -> SourceRow:
        return SourceRow(number=number, fields=None, where=where, problem=f"{path.name} {where} {text}")

    if size > max_record_bytes:
        return problem(f"is {size:,} bytes, over the {max_record_bytes:,}-byte limit of one input line")
    line = "".join(texts).strip(_JSON_SPACE)
    try:
        if _SURROGATES.search(line):
            return problem(_undecodable(line, codec))
        try:
            value, non_finite = _decode_json(line)
        except RecursionError:
            return problem("is JSON nested too deeply to read")
        except ValueError as exc:
            return problem(f"is not valid JSON: {exc}")
        if not isinstance(value, dict):
            return problem(f"is a JSON {type(value).__name__}, not an object")
        if non_finite:
            return problem(_non_finite_problem(first_non_finite(value)))
        if _SURROGATE_ESCAPE.search(line):
            lone = _lone_surrogate_field(value)
            if lone is not None:
                return problem(f"has a lone surrogate escape in field {lone!r} (half of a \\ud83d\\ude00-style "
                               "pair), which is not text; fix the input")
        return SourceRow(number=number, fields=value, where=where)
    except Exception as exc:  # one line's parsing never ends the run
        return problem(f"could not be read: {type(exc).__name__}: {exc}")


def _lone_surrogate_field(value: dict[str, Any]) -> str | None:
    for key, item in value.items():
        try:
            json.dumps({key: item}, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return str(key).encode("utf-8", "backslashreplace").decode("ascii")
    return None


# The states of the csv module's parser (excel dialect) that matter for where a record ends.
_START_FIELD, _IN_FIELD, _QUOTED, _QUOTE_IN_QUOTED = range(4)


def _scan_csv(body: str, state: int) -> int:
    """The parser state after ``body`` (a line without its terminator), as ``csv``'s excel dialect parses it.

    Only a quote at the start of a field opens a quoted field; inside one, a doubled quote is a quote and
    a line end is part of the field. A record ends at a line end in every state but ``_QUOTED``.
    """
    i, n = 0, len(body)
    while i < n:
        if state == _QUOTED:
            j = body.find('"', i)
            if j < 0:
                return _QUOTED
            i, state = j + 1, _QUOTE_IN_QUOTED
        elif state == _IN_FIELD:
            j = body.find(",", i)
            if j < 0:
                return _IN_FIELD
            i, state = j + 1, _START_FIELD
        else:  # _START_FIELD or _QUOTE_IN_QUOTED: the next character decides
            char = body[i]
            i += 1
            state = _QUOTED if char == '"' else _START_FIELD if char == "," else _IN_FIELD
    return state


def _csv_records(file: IO[bytes], codec: str, digest: DigestSink | None,
                 max_record_bytes: int) -> Iterator[tuple[int, str | None, int]]:
    """``(first_line, text, size)`` per CSV record; ``text`` is None for a record over ``max_record_bytes``."""
    line = 0
    first_line = 1
    texts: list[str] = []
    size = 0
    state = _START_FIELD
    for raw, text, ends in _fragments(file, codec, split_cr=True):
        if digest is not None:
            digest.update(raw)
        size += len(raw)
        if size <= max_record_bytes:
            texts.append(text)
        if not ends:
            state = _scan_csv(text, state)
            continue
        line += 1
        if state != _START_FIELD or '"' in text:  # else no quote can open: the record ends with the line
            state = _scan_csv(text[:-2] if text.endswith("\r\n") else text[:-1], state)
            if state == _QUOTED:
                continue  # a quoted field goes on over the line end
        yield first_line, "".join(texts) if size <= max_record_bytes else None, size
        first_line, texts, size, state = line + 1, [], 0, _START_FIELD
    if size:
        # The file ends inside a record (no final newline, or an unclosed quote): csv keeps what it has.
        yield first_line, "".join(texts) if size <= max_record_bytes else None, size


def _parse_csv_record(text: str) -> list[str]:
    records = list(csv.reader([text]))
    if len(records) != 1:  # pragma: no cover - the record splitter follows csv's own rules
        raise csv.Error(f"read as {len(records)} records")
    return records[0]


def _read_csv(path: Path, codec: str, digest: DigestSink | None, max_record_bytes: int) -> Iterator[SourceRow]:
    with path.open("rb") as file:
        header: list[str] | None = None
        number = 0
        for first_line, text, size in _csv_records(file, codec, digest, max_record_bytes):
            if header is None:
                header = _read_header(path, text, size, codec, max_record_bytes)
                continue
            row = _csv_row(path, header, number + 1, first_line, text, size, codec, max_record_bytes)
            if row is not None:
                number += 1
                yield row


def _read_header(path: Path, text: str | None, size: int, codec: str, max_record_bytes: int) -> list[str] | None:
    """The header's column names, or None for a blank line before it."""
    name = str(path)
    if text is None:
        raise UsageError(f"the header line of CSV input {name!r} is {size:,} bytes, over the {max_record_bytes:,}-byte "
                         "limit of one record; is the file CSV?")
    if _SURROGATES.search(text):
        raise UsageError(f"cannot read the header of CSV input {name!r}: {_undecodable(text, codec)}")
    try:
        record = _parse_csv_record(text)
    except csv.Error as exc:
        raise UsageError(f"cannot read the header of CSV input {name!r}: {exc}") from None
    return _check_header(path, record) if record else None


def _csv_row(path: Path, header: list[str], number: int, first_line: int, text: str | None, size: int,
             codec: str, max_record_bytes: int) -> SourceRow | None:
    where = f"row {number} (line {first_line})"
    if text is None:
        message = (f"is {size:,} bytes, over the {max_record_bytes:,}-byte limit of one record (an unclosed quote "
                   "makes a record run on to the next closing quote)")
    else:
        try:
            record = _parse_csv_record(text)
            if _SURROGATES.search(text):
                message = _undecodable(text, codec)
            elif not record:
                return None  # a blank line: not a row
            elif len(record) != len(header):
                message = f"has {len(record)} fields, the header has {len(header)}"
            else:
                return SourceRow(number=number, fields=dict(zip(header, record, strict=True)), where=where)
        except csv.Error as exc:
            if "field larger than field limit" in str(exc):
                message = f"has a field over {csv.field_size_limit():,} characters, the CSV reader's limit per field"
            else:
                message = f"is not valid CSV: {exc}"
        except Exception as exc:  # one record's parsing never ends the run
            message = f"could not be read: {type(exc).__name__}: {exc}"
    return SourceRow(number=number, fields=None, where=where, problem=f"{path.name} {where} {message}")


def _undecodable(text: str, codec: str) -> str:
    """Why a record with undecodable bytes (lone surrogates) is not read, with a hint at ``--encoding``."""
    found = list(dict.fromkeys(ord(char) - 0xDC00 for char in _SURROGATES.findall(text)))
    shown = ", ".join(f"0x{byte:02x}" for byte in found[:_SHOWN_BYTES]) + (", ..." if len(found) > _SHOWN_BYTES else "")
    label = "UTF-8" if codec == "utf-8-sig" else codec
    message = f"is not valid {label} text (byte{'s' if len(found) > 1 else ''} {shown})"
    if codec != "utf-8-sig":
        return f"{message}; pass the file's real encoding with --encoding (latin-1 reads any byte)"
    try:
        raw = text.encode("utf-8", "surrogateescape")
        raw.decode("cp1252")
    except UnicodeError:
        return f"{message}; if the file is not UTF-8, pass its encoding with --encoding (latin-1 reads any byte)"
    first = _SURROGATES.search(text)
    start = max((first.start() if first else 0) - 20, 0)
    snippet = text[start:start + 40].encode("utf-8", "surrogateescape").decode("cp1252", "replace").strip()
    return (f"{message}; it looks like Windows-1252 / Latin-1 text (as Excel and other Windows tools write it), "
            f"which reads {snippet!r}: pass --encoding cp1252")


def _check_header(path: Path, header: list[str]) -> list[str]:
    names = [name.strip() for name in header]
    if any(not name for name in names):
        raise UsageError(f"CSV input {str(path)!r} has an empty column name in its header line: {header!r}")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise UsageError(f"CSV input {str(path)!r} repeats column names in its header: {duplicates}")
    return names


def parquet_content_line(row: dict[str, Any]) -> bytes:
    """The line a Parquet row adds to the input's content stream (what its fingerprint is computed over)."""
    return json.dumps(row, sort_keys=True, default=str).encode("utf-8", "backslashreplace") + b"\n"


def _read_parquet(path: Path, digest: DigestSink | None) -> Iterator[SourceRow]:
    pq = _import_parquet()
    parquet_file = pq.ParquetFile(path)
    number = 0
    try:
        for batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            for row in batch.to_pylist():
                number += 1
                if digest is not None:
                    digest.update(parquet_content_line(row))
                yield SourceRow(number=number, fields=row, where=f"row {number}")
    finally:
        parquet_file.close()


def parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    """The rows of a Parquet file as dicts, one batch in memory at a time."""
    pq = _import_parquet()
    with pq.ParquetFile(path) as parquet_file:
        for batch in parquet_file.iter_batches(batch_size=PARQUET_BATCH_ROWS):
            yield from batch.to_pylist()


def count_rows(path: Path, fmt: str, *, max_bytes: int = COUNT_MAX_BYTES) -> int | None:
    """A cheap row count for progress, or None when the file is too big to read twice for it.

    JSONL and CSV are counted by newlines (blank lines and quoted newlines make it an estimate);
    Parquet's count comes from its footer, at any size.

    Args:
        path: The input file.
        fmt: Its format.
        max_bytes: Text files larger than this are not counted.
    """
    if fmt == "parquet":
        pq = _import_parquet()
        with pq.ParquetFile(path) as parquet_file:
            return int(parquet_file.metadata.num_rows)
    size = path.stat().st_size
    if size > max_bytes:
        return None
    lines = 0
    last = b"\n"
    with path.open("rb") as file:
        while chunk := file.read(_COUNT_CHUNK):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        lines += 1
    if fmt == "csv":
        lines = max(lines - 1, 0)
    return lines


__all__ = [
    "COUNT_MAX_BYTES",
    "DEFAULT_ENCODING",
    "FORMATS",
    "MAX_RECORD_BYTES",
    "check_encoding",
    "check_finished_ids",
    "check_ids",
    "check_input",
    "count_rows",
    "detect_format",
    "first_non_finite",
    "parquet_content_line",
    "parquet_rows",
    "read_rows",
]
