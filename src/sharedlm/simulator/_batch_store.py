"""The simulated providers' batch back office: uploaded files, batch jobs, their clock and their dice.

A job is created ``in_progress`` and settles the first time it is looked at on or after its due time (creation plus
the turnaround), so nothing runs in the background and a test with a fake clock decides exactly when a batch is
done. Settling draws, per line, whether it expires or fails (a 500 the client should retry) and otherwise asks the
answerer for the line's answer; a job may also fail whole. The wire shapes of the three APIs are
:mod:`sharedlm.simulator._batch`'s business; this module knows nothing of HTTP.
"""

from __future__ import annotations

import itertools
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sharedlm._errors import ConfigurationError

# Line outcomes, in Anthropic's words (the other two APIs map them onto their own shapes).
SUCCEEDED = "succeeded"
ERRORED = "errored"
EXPIRED = "expired"
CANCELED = "canceled"
# Job ends.
COMPLETED = "completed"
FAILED = "failed"
CANCELLED = "cancelled"
JOB_EXPIRED = "expired"

# The answerer: (api, line body, model named outside the body) -> (HTTP status, answer or error object).
Answerer = Callable[[str, bytes, "str | None"], tuple[int, dict[str, Any]]]


def _check_rate(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigurationError(f"batch {name} must be a probability between 0 and 1, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class BatchSettings:
    """How the simulated batch APIs behave.

    Args:
        turnaround: Seconds from a batch's creation until it is done (on the simulator's clock).
        line_failure_rate: Chance that one line fails with a server error (500) the client should retry.
        line_expiry_rate: Chance that one line expires unprocessed. A Gemini job with an expired line expires
            whole (Gemini returns no results for an expired job); the other two APIs expire line by line.
        batch_failure_rate: Chance that a whole batch fails with no results.
        fail_first_batches: The first this many batches fail whole, whatever the rate (for tests).
    """

    turnaround: float = 0.0
    line_failure_rate: float = 0.0
    line_expiry_rate: float = 0.0
    batch_failure_rate: float = 0.0
    fail_first_batches: int = 0

    def __post_init__(self) -> None:
        turnaround = self.turnaround
        if isinstance(turnaround, bool) or not isinstance(turnaround, int | float) or not 0 <= turnaround < 1e9:
            raise ConfigurationError(f"batch turnaround must be a number of seconds >= 0, got {turnaround!r}")
        for name in ("line_failure_rate", "line_expiry_rate", "batch_failure_rate"):
            _check_rate(name, getattr(self, name))
        if self.line_failure_rate + self.line_expiry_rate > 1 + 1e-9:
            raise ConfigurationError("batch line_failure_rate + line_expiry_rate must not exceed 1; lower one")
        if isinstance(self.fail_first_batches, bool) or not isinstance(self.fail_first_batches, int) \
                or self.fail_first_batches < 0:
            raise ConfigurationError(f"fail_first_batches must be a whole number >= 0, got {self.fail_first_batches!r}")


    def command_args(self) -> list[str]:
        """The ``sharedlm simulate`` options that reproduce these settings (none for the defaults)."""
        args = []
        for flag, value, default in (("--batch-turnaround", self.turnaround, 0.0),
                                     ("--batch-failure-rate", self.line_failure_rate, 0.0),
                                     ("--batch-expiry-rate", self.line_expiry_rate, 0.0),
                                     ("--batch-whole-failure-rate", self.batch_failure_rate, 0.0)):
            if value != default:
                args += [flag, repr(float(value))]
        if self.fail_first_batches:
            args += ["--batch-fail-first", str(self.fail_first_batches)]
        return args


@dataclass(slots=True)
class StoredFile:
    """One uploaded (or generated) file."""

    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int


@dataclass(slots=True)
class Line:
    """One request of a batch: its ``custom_id`` (Gemini: ``metadata.key``), its body and the model it names."""

    custom_id: str
    body: bytes
    model: str | None = None


@dataclass(slots=True)
class LineResult:
    """What became of one line: an outcome, and for ``succeeded``/``errored`` the HTTP status and body object."""

    custom_id: str
    outcome: str
    status: int = 0
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Job:
    """One batch job of any of the three APIs."""

    id: str
    api: str
    lines: list[Line]
    created: float
    due: float
    created_at: int
    fails_whole: bool
    meta: dict[str, Any] = field(default_factory=dict)
    end: str | None = None
    ended_at: int | None = None
    cancel_requested_at: int | None = None
    results: list[LineResult] = field(default_factory=list)

    @property
    def ended(self) -> bool:
        return self.end is not None

    def count(self, outcome: str) -> int:
        """Lines that ended with ``outcome``."""
        return sum(1 for r in self.results if r.outcome == outcome)


@dataclass
class BatchCounters:
    """What the batch APIs were asked to do since the simulator started."""

    files_uploaded: int = 0
    batches_created: int = 0
    lines_submitted: int = 0
    lines_succeeded: int = 0
    lines_errored: int = 0
    lines_expired: int = 0
    lines_canceled: int = 0
    batches_failed: int = 0
    batches_cancelled: int = 0
    # Looks at one batch (a poll: OpenAI/Anthropic retrieve, Gemini get operation).
    batches_retrieved: int = 0
    results_fetched: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


class BatchStore:
    """Files and jobs of the three batch APIs, settled lazily on the simulator's clock.

    Args:
        settings: Turnaround and dice.
        answerer: Answers one line (the simulator's own answer machinery).
        clock: Monotonic seconds (the simulator's clock).
        seed: Seed of the line and batch dice.
    """

    def __init__(self, settings: BatchSettings, answerer: Answerer, clock: Callable[[], float], seed: int = 0) -> None:
        self.settings = settings
        self.counters = BatchCounters()
        self.files: dict[str, StoredFile] = {}
        self.jobs: dict[str, Job] = {}
        self._answer = answerer
        self._clock = clock
        self._dice = random.Random(seed)
        self._serial = itertools.count(1)
        # Ids differ between simulator runs, as a provider's do, so a client cannot confuse two runs' batches.
        self._run = secrets.token_hex(4)

    def __repr__(self) -> str:
        open_jobs = sum(1 for j in self.jobs.values() if not j.ended)
        return f"BatchStore(files={len(self.files)}, jobs={len(self.jobs)}, in_progress={open_jobs})"

    def new_id(self, prefix: str) -> str:
        """A fresh identifier such as ``batch_sim1a2b3c4d_7``."""
        return f"{prefix}{self._run}_{next(self._serial)}"

    def add_file(self, filename: str, purpose: str, data: bytes, *, uploaded: bool = True) -> StoredFile:
        """Keep a file and return it."""
        stored = StoredFile(self.new_id("file-sim"), filename, purpose, data, int(time.time()))
        self.files[stored.id] = stored
        if uploaded:
            self.counters.files_uploaded += 1
        return stored

    def create(self, api: str, prefix: str, lines: list[Line], meta: dict[str, Any]) -> Job:
        """Start a job of ``api`` over ``lines``; it is due after the turnaround."""
        now = self._clock()
        counters = self.counters
        fails_whole = counters.batches_created < self.settings.fail_first_batches or (
            self.settings.batch_failure_rate > 0 and self._dice.random() < self.settings.batch_failure_rate)
        job = Job(self.new_id(prefix), api, lines, now, now + self.settings.turnaround, int(time.time()),
                  fails_whole, meta)
        self.jobs[job.id] = job
        counters.batches_created += 1
        counters.lines_submitted += len(lines)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job, settled if it is due; None when there is no such job."""
        job = self.jobs.get(job_id)
        if job is not None and not job.ended and self._clock() >= job.due:
            self._settle(job)
        return job

    def cancel(self, job: Job) -> None:
        """Cancel a job that has not ended: its lines end ``canceled`` (unprocessed, unbilled)."""
        if job.ended:
            return
        job.cancel_requested_at = int(time.time())
        job.results = [LineResult(line.custom_id, CANCELED) for line in job.lines]
        self.counters.lines_canceled += len(job.lines)
        self.counters.batches_cancelled += 1
        self._end(job, CANCELLED)

    def reject(self, job: Job) -> None:
        """End a job that failed validation at once (OpenAI's ``failed`` with ``errors``)."""
        self.counters.batches_failed += 1
        self._end(job, FAILED)

    def _settle(self, job: Job) -> None:
        counters = self.counters
        if job.fails_whole:
            counters.batches_failed += 1
            self._end(job, FAILED)
            return
        settings = self.settings
        dice = self._dice
        expired_any = False
        for line in job.lines:
            roll = dice.random()
            if roll < settings.line_expiry_rate:
                job.results.append(LineResult(line.custom_id, EXPIRED))
                counters.lines_expired += 1
                expired_any = True
            elif roll < settings.line_expiry_rate + settings.line_failure_rate:
                job.results.append(LineResult(line.custom_id, ERRORED, 500, {}))
                counters.lines_errored += 1
            else:
                status, body = self._answer(job.api, line.body, line.model)
                if status == 200:
                    counters.lines_succeeded += 1
                    self._count_tokens(body)
                    job.results.append(LineResult(line.custom_id, SUCCEEDED, status, body))
                else:
                    counters.lines_errored += 1
                    job.results.append(LineResult(line.custom_id, ERRORED, status, body))
        self._end(job, JOB_EXPIRED if expired_any else COMPLETED)

    def _count_tokens(self, body: dict[str, Any]) -> None:
        usage = body.get("usage") or body.get("usageMetadata") or {}
        self.counters.prompt_tokens += int(usage.get("prompt_tokens") or usage.get("input_tokens")
                                           or usage.get("promptTokenCount") or 0)
        self.counters.completion_tokens += int(usage.get("completion_tokens") or usage.get("output_tokens")
                                               or usage.get("candidatesTokenCount") or 0)

    def _end(self, job: Job, end: str) -> None:
        job.end = end
        job.ended_at = int(time.time())


__all__ = ["CANCELED", "CANCELLED", "COMPLETED", "ERRORED", "EXPIRED", "FAILED", "JOB_EXPIRED", "SUCCEEDED",
           "BatchCounters", "BatchSettings", "BatchStore", "Job", "Line", "LineResult", "StoredFile"]
