"""What the simulator counts, and the frozen snapshot it hands out (``GET /sim/stats``, ``Simulator.stats()``).

Only data-plane requests are counted: the ``/sim/...`` control endpoints are invisible to every counter, so a
test that reads the statistics over HTTP does not disturb them. Generation requests are also counted per model
(the name the request carries), so that a test can tell one model's 429s from another's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("error_500", "error_503", "reset", "hang")
RATE_LIMIT_REASONS = ("concurrency", "rpm", "tpm")
# A model's own limits (--model-limit) refuse for these reasons; the server-wide ones for RATE_LIMIT_REASONS.
MODEL_RATE_LIMIT_REASONS = ("model_concurrency", "model_rpm", "model_tpm", *RATE_LIMIT_REASONS)


@dataclass(frozen=True, kw_only=True)
class ModelStats:
    """One model's share of the counters: every generation request that named it and parsed.

    Args:
        requests: Generation requests that named this model.
        served: Requests of this model answered 200.
        in_flight: This model's requests admitted and not yet answered, reset or abandoned.
        peak_in_flight: The most of this model's requests in flight at once.
        rate_limited: This model's requests answered 429 (by its own limits or the server's).
        rate_limited_by: Those 429s by cause: ``model_concurrency``, ``model_rpm`` and ``model_tpm`` for the
            model's own limits (``--model-limit``), ``concurrency``, ``rpm`` and ``tpm`` for the server's.
        prompt_tokens: Prompt tokens of this model's successful answers.
        completion_tokens: Completion tokens of this model's successful answers.
    """

    requests: int = 0
    served: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    rate_limited: int = 0
    rate_limited_by: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(MODEL_RATE_LIMIT_REASONS, 0))
    prompt_tokens: int = 0
    completion_tokens: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data."""
        return {"requests": self.requests, "served": self.served, "in_flight": self.in_flight,
                "peak_in_flight": self.peak_in_flight, "rate_limited": self.rate_limited,
                "rate_limited_by": dict(self.rate_limited_by), "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelStats:
        """Rebuild a snapshot from :meth:`as_dict` output.

        Args:
            data: The decoded JSON object.
        """
        return cls(requests=int(data["requests"]), served=int(data["served"]), in_flight=int(data["in_flight"]),
                   peak_in_flight=int(data["peak_in_flight"]), rate_limited=int(data["rate_limited"]),
                   rate_limited_by={str(k): int(v) for k, v in data["rate_limited_by"].items()},
                   prompt_tokens=int(data["prompt_tokens"]), completion_tokens=int(data["completion_tokens"]))


@dataclass(frozen=True, kw_only=True)
class SimulatorStats:
    """One consistent snapshot of the simulator's counters since start or the last reset.

    Args:
        requests: Data-plane requests received (any path, any outcome).
        responses_by_status: Answers sent, by HTTP status.
        in_flight: Requests admitted and not yet answered, reset, or abandoned by their client.
        peak_in_flight: The most requests in flight at once.
        distinct_connections: Client TCP connections that sent at least one data-plane request.
        rate_limited: Requests answered 429.
        rate_limited_by: 429 answers by cause (``concurrency``, ``rpm``, ``tpm``), whether a model's own limit
            refused or the server's (:attr:`models` tells them apart).
        faults: Injected faults by kind (``error_500``, ``error_503``, ``reset``, ``hang``).
        abandoned: Requests whose client closed the connection before the answer was due.
        prompt_tokens: Prompt tokens of the successful answers.
        completion_tokens: Completion tokens of the successful answers.
        models: Per model name, that model's share (:class:`ModelStats`); every model a request named.
    """

    requests: int = 0
    responses_by_status: Mapping[int, int] = field(default_factory=dict)
    in_flight: int = 0
    peak_in_flight: int = 0
    distinct_connections: int = 0
    rate_limited: int = 0
    rate_limited_by: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(RATE_LIMIT_REASONS, 0))
    faults: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(FAULT_KINDS, 0))
    abandoned: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    models: Mapping[str, ModelStats] = field(default_factory=dict)

    def model(self, name: str) -> ModelStats:
        """The share of model ``name``; all zeros for a model no request named.

        Args:
            name: The model name as the requests carry it (``gpt-4o-mini``, not ``openai/gpt-4o-mini``).
        """
        return self.models.get(name) or ModelStats()

    def status_count(self, status: int) -> int:
        """How many answers had HTTP ``status``."""
        return self.responses_by_status.get(status, 0)

    @property
    def ok(self) -> int:
        """Successful (200) answers."""
        return self.status_count(200)

    def as_dict(self) -> dict[str, Any]:
        """The snapshot as JSON-ready data, exactly what ``GET /sim/stats`` returns."""
        return {
            "requests": self.requests,
            "responses_by_status": {str(k): v for k, v in sorted(self.responses_by_status.items())},
            "in_flight": self.in_flight,
            "peak_in_flight": self.peak_in_flight,
            "distinct_connections": self.distinct_connections,
            "rate_limited": self.rate_limited,
            "rate_limited_by": dict(self.rate_limited_by),
            "faults": dict(self.faults),
            "abandoned": self.abandoned,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "models": {name: stats.as_dict() for name, stats in sorted(self.models.items())},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SimulatorStats:
        """Rebuild a snapshot from :meth:`as_dict` output (for example a ``GET /sim/stats`` body).

        Args:
            data: The decoded JSON object.
        """
        return cls(
            requests=int(data["requests"]),
            responses_by_status={int(k): int(v) for k, v in data["responses_by_status"].items()},
            in_flight=int(data["in_flight"]),
            peak_in_flight=int(data["peak_in_flight"]),
            distinct_connections=int(data["distinct_connections"]),
            rate_limited=int(data["rate_limited"]),
            rate_limited_by={str(k): int(v) for k, v in data["rate_limited_by"].items()},
            faults={str(k): int(v) for k, v in data["faults"].items()},
            abandoned=int(data["abandoned"]),
            prompt_tokens=int(data["prompt_tokens"]),
            completion_tokens=int(data["completion_tokens"]),
            models={str(k): ModelStats.from_dict(v) for k, v in data.get("models", {}).items()},
        )


class ModelCounters:
    """The live counters of one model; touched only on the server's event loop."""

    __slots__ = ("completion_tokens", "in_flight", "peak_in_flight", "prompt_tokens", "rate_limited_by", "requests",
                 "served")

    def __init__(self) -> None:
        self.in_flight = 0
        self.reset()

    def __repr__(self) -> str:
        return f"ModelCounters(requests={self.requests}, served={self.served}, in_flight={self.in_flight})"

    def reset(self) -> None:
        """Zero every counter; requests still in flight stay in flight and set the new peak."""
        self.requests = 0
        self.served = 0
        self.peak_in_flight = self.in_flight
        self.rate_limited_by = dict.fromkeys(MODEL_RATE_LIMIT_REASONS, 0)
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def enter(self) -> None:
        """One more of this model's requests in flight."""
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def snapshot(self) -> ModelStats:
        """A frozen copy of the counters as they are now."""
        return ModelStats(requests=self.requests, served=self.served, in_flight=self.in_flight,
                          peak_in_flight=self.peak_in_flight, rate_limited=sum(self.rate_limited_by.values()),
                          rate_limited_by=dict(self.rate_limited_by), prompt_tokens=self.prompt_tokens,
                          completion_tokens=self.completion_tokens)


class Counters:
    """The live, mutable counters behind :class:`SimulatorStats`; touched only on the server's event loop."""

    __slots__ = ("_statuses", "abandoned", "completion_tokens", "distinct_connections", "faults", "generation",
                 "in_flight", "models", "peak_in_flight", "prompt_tokens", "rate_limited_by", "requests")

    def __init__(self) -> None:
        # Mirrors the limiter's count (which must exist even without counters) so snapshots need no other object.
        self.in_flight = 0
        self.models: dict[str, ModelCounters] = {}
        # Bumped on every reset, so a connection opened earlier counts again when it is next used.
        self.generation = 0
        self.reset()

    def reset(self) -> None:
        """Zero every counter; requests still in flight stay in flight and set the new peak."""
        self.generation += 1
        self.requests = 0
        self._statuses: dict[int, int] = {}
        self.peak_in_flight = self.in_flight
        self.distinct_connections = 0
        self.rate_limited_by = dict.fromkeys(RATE_LIMIT_REASONS, 0)
        self.faults = dict.fromkeys(FAULT_KINDS, 0)
        self.abandoned = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        for model in self.models.values():
            model.reset()

    def model(self, name: str) -> ModelCounters:
        """The live counters of model ``name``, created on first use."""
        counters = self.models.get(name)
        if counters is None:
            counters = self.models[name] = ModelCounters()
        return counters

    def count_status(self, status: int) -> None:
        """Record one answer sent with HTTP ``status``."""
        statuses = self._statuses
        statuses[status] = statuses.get(status, 0) + 1

    def enter(self) -> None:
        """One more request in flight."""
        self.in_flight += 1
        if self.in_flight > self.peak_in_flight:
            self.peak_in_flight = self.in_flight

    def snapshot(self) -> SimulatorStats:
        """A frozen copy of the counters as they are now."""
        return SimulatorStats(
            requests=self.requests,
            responses_by_status=dict(self._statuses),
            in_flight=self.in_flight,
            peak_in_flight=self.peak_in_flight,
            distinct_connections=self.distinct_connections,
            rate_limited=sum(self.rate_limited_by.values()),
            rate_limited_by=dict(self.rate_limited_by),
            faults=dict(self.faults),
            abandoned=self.abandoned,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            # A model whose counters are all zero after a reset (and none in flight) is left out, as if unseen.
            models={name: model.snapshot() for name, model in self.models.items()
                    if model.requests or model.in_flight},
        )


__all__ = ["FAULT_KINDS", "MODEL_RATE_LIMIT_REASONS", "RATE_LIMIT_REASONS", "Counters", "ModelCounters", "ModelStats",
           "SimulatorStats"]
