"""``sharedlm lint``: a static checker for the shared-LM pattern's checklist.

It reads Python files with :mod:`ast` (never importing them, never importing DSPy). By default it reports the
real hazards only: LMs built per request, per instance or per loop iteration, several module-level LMs for one
model, predictors left unbound where the code otherwise binds LMs, and the seed pattern's knobs that do nothing
on DSPy 3.4. ``strict=True`` (``sharedlm lint --strict``) adds the rest of the seed's checklist. The rules, their
codes and rule sets are listed in :data:`RULES` and in ``docs/lint.md``.
"""

from sharedlm.lint._finding import Finding
from sharedlm.lint._linter import lint_paths, lint_source
from sharedlm.lint._rules import RULES, Rule

__all__ = ["RULES", "Finding", "Rule", "lint_paths", "lint_source"]
