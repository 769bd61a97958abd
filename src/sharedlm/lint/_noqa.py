"""``# noqa`` comments: which codes each line of a file suppresses.

Same syntax as flake8 and ruff: ``# noqa`` alone suppresses every finding on its line, ``# noqa: SLM001`` or
``# noqa: SLM001,SLM003`` only those codes (a prefix such as ``SLM00`` covers the codes it starts). Only real
comments count, never text inside strings.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable, Iterator

from sharedlm.lint._finding import Finding

_NOQA = re.compile(r"#\s*noqa\b(?::\s*(?P<codes>[A-Z]+[0-9]+(?:[,\s]+[A-Z]+[0-9]+)*))?", re.IGNORECASE)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.IGNORECASE)

# Line -> the codes (or code prefixes) suppressed there; None suppresses everything on the line.
Suppressions = dict[int, frozenset[str] | None]


def noqa_lines(source: str) -> Suppressions:
    """The ``# noqa`` suppressions of a file's text, by 1-based line.

    Args:
        source: The file's text.
    """
    found: Suppressions = {}
    if "noqa" not in source.lower():
        return found  # most files have none; tokenizing costs more than parsing
    for line, comment in _comments(source):
        match = _NOQA.search(comment)
        if match is None:
            continue
        codes = match.group("codes")
        found[line] = None if codes is None else frozenset(code.upper() for code in _CODE.findall(codes))
    return found


def _comments(source: str) -> Iterator[tuple[int, str]]:
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        # A file ast accepts but tokenize rejects is rare; fall back to every '#' on a line.
        for number, text in enumerate(source.splitlines(), start=1):
            if "#" in text:
                yield number, text[text.index("#"):]
        return
    for token in tokens:
        if token.type == tokenize.COMMENT:
            yield token.start[0], token.string


def is_suppressed(finding: Finding, suppressions: Suppressions) -> bool:
    """Whether a ``# noqa`` comment on the finding's line covers its code."""
    if finding.line not in suppressions:
        return False
    codes = suppressions[finding.line]
    return codes is None or any(finding.code.startswith(code) for code in codes)


def drop_suppressed(findings: Iterable[Finding], suppressions: Suppressions) -> list[Finding]:
    """The findings no ``# noqa`` comment covers."""
    return [finding for finding in findings if not is_suppressed(finding, suppressions)]


__all__ = ["Suppressions", "drop_suppressed", "is_suppressed", "noqa_lines"]
