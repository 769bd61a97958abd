"""The catalogue of ``sharedlm lint`` rules and the parsing of ``--select`` / ``--ignore`` code lists.

Codes are stable: a rule keeps its code forever, and a retired code is never reused, because teams write
them into ``# noqa`` comments and CI configuration.

Two rule sets: the default one reports only what can cause the failures the shared-LM pattern prevents
(descriptor exhaustion, connection pools flow control does not see, LMs built per call); ``--strict`` adds the
rest of the seed pattern's checklist. Each rule says which of its findings are in which set.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

# The replacement for both of the seed's knobs, named in several fixes.
REAL_CAP = "sharedlm.configure(max_parallel_requests=...) or the SHAREDLM_MAX_PARALLEL_REQUESTS variable"
SHARED_LM = "sharedlm.get_shared_lm()"

# Which findings of a rule the default rule set reports.
ALWAYS = "default"  # every finding
HAZARDS = "default: hazards only"  # the findings that are real hazards; --strict reports the rest too
STRICT = "--strict only"  # none: a checklist item, not a hazard


@dataclass(frozen=True, kw_only=True)
class Rule:
    """One check of the linter.

    Args:
        code: The stable code (``SLM001``) used in output, ``--select``/``--ignore`` and ``# noqa``.
        name: A short kebab-case name.
        summary: What the rule finds, in one sentence.
        fix: What to do instead, in one sentence.
        rule_set: Which of its findings the default rule set reports: ``ALWAYS``, ``HAZARDS`` or ``STRICT``.
    """

    code: str
    name: str
    summary: str
    fix: str
    rule_set: str = ALWAYS


_RULE_LIST = (
    Rule(
        code="SLM001",
        name="lm-per-request",
        summary="A dspy.LM is constructed on the request path (forward, aforward, __call__, acall, call, a "
        "web route handler, or a method or function they call), so every call opens new connection pools that "
        "leak.",
        fix=f"Create the LM once with {SHARED_LM}, receive it in the constructor and bind it there with "
        "set_lm() or sharedlm.bind_shared_lm(self, lm).",
    ),
    Rule(
        code="SLM002",
        name="lm-in-module-constructor",
        summary="A dspy.Module constructor constructs its own dspy.LM instead of receiving the shared one, "
        "so every instance owns separate connection pools.",
        fix=f"Take the LM as a constructor argument (shared_lm), pass {SHARED_LM} from the caller, and bind "
        "it with set_lm() or sharedlm.bind_shared_lm(self, shared_lm).",
    ),
    Rule(
        code="SLM003",
        name="unbound-predictor",
        summary="A predictor (or a module, list or dict holding predictors) created in a dspy.Module "
        "constructor is bound to no LM by its class nor by the places that build the class, so it runs on the "
        "global default LM. Default set: only where the code otherwise binds LMs (the class binds another "
        "predictor, builds an LM or receives one it never uses, or another place binds the same sub-module).",
        fix="Call set_lm(shared_lm) on it (or self.set_lm(shared_lm) / sharedlm.bind_shared_lm(self, "
        "shared_lm) once after creating every predictor), or derive from sharedlm.SharedLMModule.",
        rule_set=HAZARDS,
    ),
    Rule(
        code="SLM004",
        name="unchecked-lm-argument",
        summary="A constructor receives an LM but never checks it against None, so passing None silently "
        "falls back to the global default LM.",
        fix="Reject None before using it (`if shared_lm is None: raise ValueError(...)`), or derive from "
        "sharedlm.SharedLMModule, which checks it.",
        rule_set=STRICT,
    ),
    Rule(
        code="SLM005",
        name="uncached-lm",
        summary="A dspy.LM is constructed per instance, per loop iteration, or beside another module-level LM "
        "for the same model (default set); --strict also reports every LM not built by a lazy cached factory.",
        fix=f"Build the LM once and reuse it: {SHARED_LM}, or a factory cached with functools.cache (or a "
        "module-level global assigned once under an `is None` check).",
        rule_set=HAZARDS,
    ),
    Rule(
        code="SLM006",
        name="max-parallel-requests-on-lm",
        summary="max_parallel_requests= on dspy.LM limits nothing on DSPy 3.4.1: the native engine refuses the "
        "unknown key and DSPy silently falls back to the slower LiteLLM path.",
        fix=f"Remove it from dspy.LM(...); cap requests in flight with {REAL_CAP}.",
    ),
    Rule(
        code="SLM007",
        name="async-max-workers",
        summary="async_max_workers is set while no checked file uses dspy.asyncify: it only sizes "
        "dspy.asyncify's thread limiter, and Predict.acall and LM.acall never pass through it, so it limits no "
        "LM traffic.",
        fix=f"Remove it unless you use dspy.asyncify; cap requests in flight with {REAL_CAP}.",
    ),
    Rule(
        code="SLM900",
        name="syntax-error",
        summary="The file is not valid Python, so none of its code was checked.",
        fix="Fix the syntax error (python -m py_compile FILE shows it), then run the linter again.",
    ),
    Rule(
        code="SLM901",
        name="undecodable-file",
        summary="The file is not valid UTF-8 (or not valid in the encoding its coding cookie declares), so "
        "none of its code was checked.",
        fix="Save the file as UTF-8, or declare its real encoding with a PEP 263 coding comment.",
    ),
    Rule(
        code="SLM902",
        name="unreadable-file",
        summary="The file could not be read (permissions, a broken link), so none of its code was checked.",
        fix="Make the file readable, or leave it out of the paths given to the linter.",
    ),
)

RULES: Mapping[str, Rule] = MappingProxyType({rule.code: rule for rule in _RULE_LIST})

# Problems with a file itself. Like syntax errors in other linters, they are reported even when --select
# names only other codes, because a file that was not checked must never look clean; --ignore drops them.
FILE_PROBLEM_CODES = frozenset({"SLM900", "SLM901", "SLM902"})


def split_codes(values: str | Iterable[str] | None) -> list[str]:
    """Codes from a comma-separated string or an iterable of such strings, upper-cased, blanks dropped.

    Args:
        values: ``"SLM001,SLM003"``, ``["SLM001", "SLM003,SLM004"]`` or None.
    """
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    return [part.strip().upper() for item in items for part in item.split(",") if part.strip()]


def expand_codes(values: str | Iterable[str] | None, *, option: str) -> frozenset[str] | None:
    """The rule codes named by exact codes or code prefixes (``SLM00`` names SLM001 to SLM009).

    Args:
        values: Codes or prefixes, as accepted by :func:`split_codes`; None means "not given".
        option: The option name used in the error message (``--select``).

    Raises:
        UsageError: A code or prefix matches no rule, or the option was given with no codes at all.
    """
    if values is None:
        return None
    codes = split_codes(values)
    unknown = [code for code in codes if not any(known.startswith(code) for known in RULES)]
    if unknown or not codes:
        # Imported here: the error hierarchy imports DSPy, and a clean lint run must not pay for that.
        from sharedlm._errors import UsageError

        what = f"unknown rule code(s) {', '.join(unknown)}" if unknown else "no rule codes given"
        raise UsageError(f"{option}: {what}; known codes are {', '.join(RULES)} (see `sharedlm lint --list-rules`)")
    return frozenset(known for known in RULES for code in codes if known.startswith(code))


def active_codes(select: str | Iterable[str] | None, ignore: str | Iterable[str] | None) -> frozenset[str]:
    """The codes a run reports: the selected rules (all by default) plus file problems, minus the ignored.

    Args:
        select: Codes or prefixes to report; None reports every rule.
        ignore: Codes or prefixes never to report.

    Raises:
        UsageError: ``select`` or ``ignore`` names an unknown code.
    """
    selected = expand_codes(select, option="--select")
    ignored = expand_codes(ignore, option="--ignore") or frozenset()
    chosen = frozenset(RULES) if selected is None else selected | FILE_PROBLEM_CODES
    return chosen - ignored


__all__ = [
    "ALWAYS", "FILE_PROBLEM_CODES", "HAZARDS", "RULES", "STRICT", "Rule", "active_codes", "expand_codes", "split_codes",
]
