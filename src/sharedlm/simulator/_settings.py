"""The simulator's settings: one small frozen value object, validated on construction.

The command line (``sharedlm simulate``) and :class:`~sharedlm.simulator.SimulatorProcess` both build their
arguments from these fields, so the two spellings cannot drift apart.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sharedlm._errors import ConfigurationError
from sharedlm.simulator._batch_store import BatchSettings

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 0
DEFAULT_LATENCY_S = 0.0
DEFAULT_JITTER_S = 0.0
DEFAULT_SEED = 0
DEFAULT_PERSONALITY = "default"
# Mirrors of sharedlm.simulator._http's defaults (settings import nothing of the server); a test keeps them equal.
DEFAULT_MAX_HEAD_BYTES = 64 * 1024
DEFAULT_MAX_URL_BYTES = 16 * 1024
DEFAULT_IDLE_TIMEOUT_S = 75.0
# The names of sharedlm.simulator._personality.PERSONALITIES, kept here so settings import nothing of the server.
PERSONALITY_NAMES = ("default", "openai", "anthropic", "gemini", "vllm")
# Fault rates are probabilities per admitted request; their sum is the chance that a request fails at all.
_RATE_FIELDS = ("error_rate", "reset_rate", "hang_rate")


def _check_seconds(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ConfigurationError(f"{name} must be a number of seconds >= 0, got {value!r}")


def _check_limit(name: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{name} must be a whole number >= 1 (or None for no limit), got {value!r}")


def _check_rate(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigurationError(f"{name} must be a probability between 0 and 1, got {value!r}")


# The limits one model may have of its own, in the order ``--model-limit`` spells them.
MODEL_LIMIT_FIELDS = ("max_concurrency", "rpm", "tpm")


@dataclass(frozen=True, kw_only=True)
class ModelLimits:
    """Limits of one model, applied to its requests on top of the server-wide ones (providers limit per model).

    Args:
        model: The model name as requests carry it: ``model`` in an OpenAI or Anthropic body (``gpt-4o-mini``,
            not ``openai/gpt-4o-mini``), the path segment for Gemini (``gemini-2.5-flash``) and Bedrock.
        max_concurrency: This model's requests in flight above this number are answered 429; None for no cap.
        rpm: This model's requests admitted per window; None for no request budget of its own.
        tpm: This model's tokens admitted per window; None for no token budget of its own.
    """

    model: str
    max_concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ConfigurationError(f"model_limits: a model name must be a non-empty string, got {self.model!r}")
        for name in MODEL_LIMIT_FIELDS:
            _check_limit(f"model_limits[{self.model!r}].{name}", getattr(self, name))
        if all(getattr(self, name) is None for name in MODEL_LIMIT_FIELDS):
            raise ConfigurationError(f"model_limits[{self.model!r}] sets no limit; give at least one of "
                                     f"{', '.join(MODEL_LIMIT_FIELDS)}")

    def spec(self) -> str:
        """The ``--model-limit`` value that reproduces these limits: ``NAME:max_concurrency=32,rpm=600``."""
        parts = [f"{name}={getattr(self, name)}" for name in MODEL_LIMIT_FIELDS if getattr(self, name) is not None]
        return f"{self.model}:{','.join(parts)}"


@dataclass(frozen=True, kw_only=True)
class SimulatorSettings:
    """How the simulated provider behaves.

    Args:
        latency: Mean seconds before an answer (or a fault) is delivered.
        jitter: Each request's delay is drawn uniformly from ``[latency - jitter, latency + jitter]``, clamped at 0.
        max_concurrency: Requests in flight above this number are answered 429 at once; None for no cap.
        rpm: Requests admitted per sliding 60 s window; None for no request budget.
        tpm: Prompt plus completion tokens admitted per sliding 60 s window; None for no token budget.
        error_rate: Chance that an admitted request is answered 500 or 503.
        reset_rate: Chance that an admitted request's connection is reset without an answer.
        hang_rate: Chance that an admitted request is never answered (until the client or the server gives up).
        seed: Seed of the random draws (faults, jitter) and of the answers' content.
        personality: Which provider's habits to reproduce: its limiting style, headers and 429s
            (``sharedlm.simulator._personality``); ``"default"`` is the simulator's own.
        host: The address to bind; 127.0.0.1 unless told otherwise.
        port: The port to bind; 0 picks a free one.
        max_head_bytes: A request head larger than this is answered 431 and its connection closed.
        max_url_bytes: A request URL longer than this is answered 414 and its connection closed.
        idle_timeout: Seconds a keep-alive connection may sit idle before the server closes it; None never closes
            one. The default (75 s, nginx's) is well above sharedlm's own 15 s keep-alive, so benchmarks never
            see it.
        batch: How the batch APIs behave: turnaround, failed and expired lines, whole-batch failures.
        model_limits: Limits of single models (:class:`ModelLimits`, at most one per model name), enforced on top
            of ``max_concurrency``, ``rpm`` and ``tpm``: a request is admitted only when both its model's limits
            and the server's have room, and a 429 for a model's limit has the personality's usual shape.
        tls_cert: A PEM certificate file: serve HTTPS with it and ``tls_key`` (base URLs are then ``https://``), as
            every hosted provider does; clients must trust it (``SSL_CERT_FILE``). None serves plain HTTP.
        tls_key: The PEM private key of ``tls_cert``; given with it or not at all.
    """

    latency: float = DEFAULT_LATENCY_S
    jitter: float = DEFAULT_JITTER_S
    max_concurrency: int | None = None
    rpm: int | None = None
    tpm: int | None = None
    error_rate: float = 0.0
    reset_rate: float = 0.0
    hang_rate: float = 0.0
    seed: int = DEFAULT_SEED
    personality: str = DEFAULT_PERSONALITY
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    max_head_bytes: int = DEFAULT_MAX_HEAD_BYTES
    max_url_bytes: int = DEFAULT_MAX_URL_BYTES
    idle_timeout: float | None = DEFAULT_IDLE_TIMEOUT_S
    batch: BatchSettings = field(default_factory=BatchSettings)
    model_limits: tuple[ModelLimits, ...] = ()
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        _check_seconds("latency", self.latency)
        _check_seconds("jitter", self.jitter)
        for name in ("max_concurrency", "rpm", "tpm"):
            _check_limit(name, getattr(self, name))
        for name in _RATE_FIELDS:
            _check_rate(name, getattr(self, name))
        total = self.error_rate + self.reset_rate + self.hang_rate
        if total > 1 + 1e-9:
            raise ConfigurationError(
                f"error_rate + reset_rate + hang_rate must not exceed 1, got {total:g}; lower one of them"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ConfigurationError(f"seed must be a whole number, got {self.seed!r}")
        if self.personality not in PERSONALITY_NAMES:
            raise ConfigurationError(
                f"personality must be one of {', '.join(PERSONALITY_NAMES)}, got {self.personality!r}")
        if self.personality == "vllm" and (self.rpm is not None or self.tpm is not None):
            raise ConfigurationError("the vllm personality has no rate limits (vLLM queues instead); drop rpm and tpm")
        if not isinstance(self.host, str) or not self.host.strip():
            raise ConfigurationError(f"host must be a non-empty address such as '127.0.0.1', got {self.host!r}")
        if isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535:
            raise ConfigurationError(f"port must be a whole number from 0 to 65535, got {self.port!r}")
        _check_limit("max_head_bytes", self.max_head_bytes)
        _check_limit("max_url_bytes", self.max_url_bytes)
        if self.max_head_bytes is None or self.max_url_bytes is None:
            raise ConfigurationError("max_head_bytes and max_url_bytes must be whole numbers >= 1, not None")
        if self.idle_timeout is not None:
            _check_seconds("idle_timeout", self.idle_timeout)
            if self.idle_timeout == 0:
                raise ConfigurationError("idle_timeout must be a positive number of seconds (or None), got 0")
        self._check_model_limits()
        for name in ("tls_cert", "tls_key"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(f"{name} must be the path of a PEM file, got {value!r}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigurationError("tls_cert and tls_key go together: give the certificate and its private key, "
                                     "or neither for plain HTTP")

    @property
    def scheme(self) -> str:
        """``https`` with a certificate, else ``http``."""
        return "https" if self.tls_cert is not None else "http"

    def _check_model_limits(self) -> None:
        limits = self.model_limits
        if isinstance(limits, list):  # a list reads as naturally as a tuple; keep the field hashable
            limits = tuple(limits)
            object.__setattr__(self, "model_limits", limits)
        if not isinstance(limits, tuple) or not all(isinstance(m, ModelLimits) for m in limits):
            raise ConfigurationError(f"model_limits must be a tuple of ModelLimits, got {limits!r}")
        seen: set[str] = set()
        for entry in limits:
            if entry.model in seen:
                raise ConfigurationError(f"model_limits names the model {entry.model!r} twice; give each model "
                                         f"one entry with all its limits")
            seen.add(entry.model)
        if limits and self.personality == "vllm":
            raise ConfigurationError("the vllm personality queues instead of limiting; drop model_limits")

    def limits_for(self, model: str) -> ModelLimits | None:
        """The limits of ``model`` of its own, or None when only the server-wide limits apply to it.

        Args:
            model: The model name as the request carries it.
        """
        for entry in self.model_limits:
            if entry.model == model:
                return entry
        return None

    @property
    def fault_rate(self) -> float:
        """The chance that one admitted request fails in any way."""
        return self.error_rate + self.reset_rate + self.hang_rate

    def command_args(self) -> list[str]:
        """The ``sharedlm simulate`` options that reproduce these settings."""
        args = ["--host", self.host, "--port", str(self.port), "--latency", repr(float(self.latency)),
                "--jitter", repr(float(self.jitter)), "--seed", str(self.seed)]
        for name in ("max_concurrency", "rpm", "tpm"):
            value = getattr(self, name)
            if value is not None:
                args += [f"--{name.replace('_', '-')}", str(value)]
        for name in _RATE_FIELDS:
            args += [f"--{name.replace('_', '-')}", repr(float(getattr(self, name)))]
        if self.personality != DEFAULT_PERSONALITY:
            args += ["--personality", self.personality]
        if self.max_head_bytes != DEFAULT_MAX_HEAD_BYTES:
            args += ["--max-head-bytes", str(self.max_head_bytes)]
        if self.max_url_bytes != DEFAULT_MAX_URL_BYTES:
            args += ["--max-url-bytes", str(self.max_url_bytes)]
        if self.idle_timeout != DEFAULT_IDLE_TIMEOUT_S:
            args += ["--idle-timeout", "none" if self.idle_timeout is None else repr(float(self.idle_timeout))]
        for entry in self.model_limits:
            args += ["--model-limit", entry.spec()]
        if self.tls_cert is not None and self.tls_key is not None:
            args += ["--tls-cert", self.tls_cert, "--tls-key", self.tls_key]
        return args + self.batch.command_args()


__all__ = ["DEFAULT_HOST", "DEFAULT_PERSONALITY", "DEFAULT_PORT", "MODEL_LIMIT_FIELDS", "PERSONALITY_NAMES",
           "ModelLimits", "SimulatorSettings"]
