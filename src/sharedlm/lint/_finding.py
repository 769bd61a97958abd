"""One finding of ``sharedlm lint``: where, which rule, what is wrong and what to do instead; and the rule set
(default or ``--strict`` only) a rule placed it in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True, order=True)
class Finding:
    """A rule violation at one place in one file. Findings sort by file, line, column, then code.

    Args:
        file: The path as the linter was given or found it.
        line: 1-based line number.
        column: 1-based column, counted in characters.
        code: The rule code, such as ``SLM001``.
        message: What is wrong at this place.
        fix: What to do instead.
    """

    file: str
    line: int
    column: int
    code: str
    message: str
    fix: str

    def as_dict(self) -> dict[str, str | int]:
        """The finding as a JSON-ready dictionary with the keys file, line, column, code, message, fix."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "code": self.code,
            "message": self.message,
            "fix": self.fix,
        }

    def as_text(self) -> str:
        """The finding as one ``path:line:col: CODE message (fix: ...)`` line."""
        return f"{self.file}:{self.line}:{self.column}: {self.code} {self.message} (fix: {self.fix})"


@dataclass(frozen=True)
class Reported:
    """A finding as a rule produced it, before the run picks the rule set.

    Args:
        finding: The finding.
        default: Whether the default rule set reports it (a real hazard); False means ``--strict`` only.
    """

    finding: Finding
    default: bool


__all__ = ["Finding", "Reported"]
