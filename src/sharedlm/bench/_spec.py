"""What one benchmark worker is asked to measure: a small value object that crosses the process boundary as JSON.

The parent writes a :class:`JobSpec` to the worker's stdin (never on its command line, where any user of the
machine could read the API key with ``ps``); the worker prints one result line on stdout, prefixed with
:data:`RESULT_MARKER` so stray prints of libraries cannot be mistaken for it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

RESULT_MARKER = "SHAREDLM_BENCH_RESULT "

# Variants of the two-step workflow (issue 6) and of single calls.
LM_PER_MODULE = "lm-per-module"
LM_PER_CALL = "lm-per-call"
SEED_AS_WRITTEN = "seed-as-written"
PLAIN_SHARED = "plain-shared"
SHAREDLM = "sharedlm"
# Variants of the overhead scenario only.
RAW_AIOHTTP = "raw-aiohttp"
INSTANT_ENGINE = "instant-engine"
SHAREDLM_FLOW_OFF = "sharedlm-flow-off"
# The floor a DSPy program itself imposes at a latency: an engine that sleeps the latency and answers, no network.
SLEEPING_ENGINE = "sleeping-engine"

WORKFLOW_VARIANTS = (LM_PER_MODULE, LM_PER_CALL, SEED_AS_WRITTEN, PLAIN_SHARED, SHAREDLM)
ALL_VARIANTS = (*WORKFLOW_VARIANTS, RAW_AIOHTTP, INSTANT_ENGINE, SHAREDLM_FLOW_OFF, SLEEPING_ENGINE)

# What one unit of work is: the seed's two-step pipeline, or one Predict call.
KIND_WORKFLOWS = "workflows"
KIND_CALLS = "calls"

DEFAULT_BENCH_MODEL = "openai/bench-model"
# The simulator accepts any key; this one is not a secret.
SIMULATOR_API_KEY = "sk-sharedlm-bench"


@dataclass(frozen=True, kw_only=True)
class JobSpec:
    """One measurement, run in its own worker process.

    Args:
        scenario: The scenario this job belongs to.
        variant: How the LM is built (one of :data:`ALL_VARIANTS`).
        kind: ``"workflows"`` (the two-step pipeline) or ``"calls"`` (one ``Predict.acall``).
        count: How many units are submitted at once.
        model: The DSPy model string.
        api_base: The provider's base URL.
        api_key: The provider key; never shown in ``repr`` and never put on a command line.
        warmup: Units run (and not timed) before the measured batch.
        fd_limit: The open-file limit the worker sets on itself before importing anything, or None.
        fd_limit_hard: Whether the hard limit is lowered too (then nothing in the worker can raise it again).
        adaptive: For sharedlm variants: the adaptive in-flight limit on or off; None keeps the default.
        rpm: For sharedlm variants: the request budget per minute, or None.
        record_completions: Whether the worker reports when each unit finished (budget scenario).
        max_parallel_requests: For sharedlm variants: the in-flight cap, or None for the default.
        latency_s: For the sleeping engine: how long each call sleeps before its answer.
        relaxed_gc: Run the warm-up and the timed batch under ``sharedlm.relaxed_gc()``, whatever the variant.
    """

    scenario: str
    variant: str
    kind: str
    count: int
    model: str = DEFAULT_BENCH_MODEL
    api_base: str
    api_key: str = field(default=SIMULATOR_API_KEY, repr=False)
    warmup: int = 0
    fd_limit: int | None = None
    fd_limit_hard: bool = False
    adaptive: bool | None = None
    rpm: float | None = None
    record_completions: bool = False
    max_parallel_requests: int | None = None
    latency_s: float = 0.0
    relaxed_gc: bool = False

    def __post_init__(self) -> None:
        if self.variant not in ALL_VARIANTS:
            raise ValueError(f"unknown variant {self.variant!r}; choose from {', '.join(ALL_VARIANTS)}")
        if self.kind not in (KIND_WORKFLOWS, KIND_CALLS):
            raise ValueError(f"kind must be {KIND_WORKFLOWS!r} or {KIND_CALLS!r}, got {self.kind!r}")
        if self.count < 1:
            raise ValueError(f"count must be at least 1, got {self.count}")

    def to_json(self) -> str:
        """The spec as one JSON document (key included: it goes to the worker's stdin only)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> JobSpec:
        """Rebuild a spec written by :meth:`to_json`.

        Args:
            text: The JSON document.
        """
        data: dict[str, Any] = json.loads(text)
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def fd_limit_label(self) -> str | None:
        """How the table names this job's open-file limit (None when the machine's limit applies)."""
        if self.fd_limit is None:
            return None
        return f"{self.fd_limit} soft+hard" if self.fd_limit_hard else f"{self.fd_limit} soft"


__all__ = [
    "ALL_VARIANTS",
    "DEFAULT_BENCH_MODEL",
    "INSTANT_ENGINE",
    "KIND_CALLS",
    "KIND_WORKFLOWS",
    "LM_PER_CALL",
    "LM_PER_MODULE",
    "PLAIN_SHARED",
    "RAW_AIOHTTP",
    "RESULT_MARKER",
    "SEED_AS_WRITTEN",
    "SHAREDLM",
    "SHAREDLM_FLOW_OFF",
    "SIMULATOR_API_KEY",
    "SLEEPING_ENGINE",
    "WORKFLOW_VARIANTS",
    "JobSpec",
]
