"""Finding the Python files to check and reading them; a file that cannot be read, decoded or parsed
becomes a finding of its own (SLM900, SLM901, SLM902) and the run goes on with the other files.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import tokenize
import warnings
from collections.abc import Iterable, Sequence
from pathlib import PurePath

from sharedlm.lint._finding import Finding
from sharedlm.lint._rules import RULES
from sharedlm.lint._source import ParsedFile

# Directories never entered while recursing (hidden ones, starting with ".", are skipped too).
SKIPPED_DIRECTORIES = frozenset({"__pycache__", ".venv", "venv", "build", "dist", "node_modules"})
PYTHON_SUFFIX = ".py"


def discover(paths: Sequence[str | os.PathLike[str]], exclude: Iterable[str] = ()) -> list[str]:
    """The files to check: files given directly, and every ``*.py`` under the directories given.

    Hidden directories and the usual build, cache and virtual-environment directories are not entered.
    A path matching an ``exclude`` pattern (by name, or by its whole path as shown) is never checked.

    Args:
        paths: Files and directories, as given on the command line.
        exclude: fnmatch patterns such as ``tests/lint/fixtures`` or ``*_pb2.py``.

    Raises:
        UsageError: No path was given, or a path does not exist.
    """
    patterns = [os.path.normpath(pattern).replace(os.sep, "/") for pattern in exclude]
    given = [os.fspath(path) for path in paths]
    missing = [path for path in given if not os.path.exists(path)]
    if missing or not given:
        # Imported here: the error hierarchy imports DSPy, and a clean lint run must not pay for that.
        from sharedlm._errors import UsageError

        if not given:
            raise UsageError("give at least one file or directory to check, for example `sharedlm lint src`")
        raise UsageError(f"no such file or directory: {', '.join(missing)}")
    found: list[str] = []
    seen: set[str] = set()

    def add(path: str) -> None:
        key = os.path.normcase(os.path.realpath(path))
        if key not in seen and not _excluded(path, patterns):
            seen.add(key)
            found.append(path)

    for path in given:
        if not os.path.isdir(path):
            add(os.path.normpath(path))
            continue
        if _excluded(path, patterns):
            continue
        for directory, subdirectories, files in os.walk(path):
            subdirectories[:] = sorted(
                name for name in subdirectories
                if not name.startswith(".") and name not in SKIPPED_DIRECTORIES
                and not _excluded(os.path.normpath(os.path.join(directory, name)), patterns)
            )
            for name in sorted(files):
                if name.endswith(PYTHON_SUFFIX):
                    add(os.path.normpath(os.path.join(directory, name)))
    return found


def _excluded(path: str, patterns: list[str]) -> bool:
    """Whether a pattern matches the path's name, the whole path, or its trailing components."""
    shown = os.path.normpath(path).replace(os.sep, "/")
    name = PurePath(shown).name
    return any(
        fnmatch.fnmatchcase(name, pattern) or fnmatch.fnmatchcase(shown, pattern)
        or (not pattern.startswith("/") and fnmatch.fnmatchcase(shown, f"*/{pattern}"))
        for pattern in patterns
    )


def load(path: str) -> ParsedFile | Finding:
    """Read, decode and parse one file, or the finding that says why it could not be checked.

    Args:
        path: The file, as it will be shown in findings.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read()
    except OSError as exc:
        return _problem(path, 1, 1, "SLM902", f"cannot read the file: {exc.strerror or exc}")
    decoded = decode(path, data)
    if isinstance(decoded, Finding):
        return decoded
    return parse(path, decoded)


def decode(path: str, data: bytes) -> str | Finding:
    """The text of a Python file: UTF-8, or the encoding its PEP 263 coding comment declares.

    Args:
        path: The file, for the finding.
        data: Its bytes.
    """
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # No usable coding comment and undecodable first lines, or a comment naming an unknown encoding.
        if "unknown encoding" in str(exc):
            return _problem(path, 1, 1, "SLM901", f"the coding comment names an unknown encoding ({exc})")
        encoding = "utf-8"
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        line_start = data.rfind(b"\n", 0, exc.start) + 1
        column = len(data[line_start:exc.start].decode(encoding, errors="replace")) + 1
        label = "UTF-8" if encoding.replace("-", "").replace("_", "").lower().startswith("utf8") else encoding
        return _problem(path, line, column, "SLM901",
                        f"the file is not valid {label}: byte 0x{data[exc.start]:02x} at line {line} cannot be "
                        "decoded, so nothing in it was checked")


def parse(path: str, source: str) -> ParsedFile | Finding:
    """Parse decoded text, or the SLM900 finding saying where it is not valid Python.

    Args:
        path: The file, as shown in findings.
        source: Its text.
    """
    try:
        with warnings.catch_warnings():
            # Invalid escape sequences and the like are the compiler's business, not this linter's.
            warnings.simplefilter("ignore")
            tree = ast.parse(source, filename=path)
    except SyntaxError as exc:
        return _problem(path, exc.lineno or 1, exc.offset or 1, "SLM900",
                        f"syntax error: {exc.msg}; nothing in this file was checked")
    except (ValueError, RecursionError) as exc:
        # ValueError: NUL bytes in the source (Python 3.11); RecursionError: absurdly deep nesting.
        return _problem(path, 1, 1, "SLM900", f"cannot parse the file ({exc}); nothing in it was checked")
    return ParsedFile(path=path, source=source, tree=tree)


def _problem(path: str, line: int, column: int, code: str, message: str) -> Finding:
    return Finding(file=path, line=line, column=column, code=code, message=message, fix=RULES[code].fix)


__all__ = ["PYTHON_SUFFIX", "SKIPPED_DIRECTORIES", "decode", "discover", "load", "parse"]
