"""``sharedlm lint``: a static checker for the shared-LM pattern's checklist.

It reads Python files with :mod:`ast` (never importing them, never importing DSPy) and reports LMs built per
request or per module, predictors never bound to the shared LM, LM arguments never checked against None,
uncached LM factories, and the seed pattern's knobs that do nothing on DSPy 3.4. The rules and their codes
are listed in :data:`RULES` and in ``docs/lint.md``.
"""

from sharedlm.lint._finding import Finding
from sharedlm.lint._linter import lint_paths, lint_source
from sharedlm.lint._rules import RULES, Rule

__all__ = ["RULES", "Finding", "Rule", "lint_paths", "lint_source"]
