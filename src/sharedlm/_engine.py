"""The shared engine: DSPy's async engine contract over one pooled, paced transport, with one retry layer.

``dspy.LM(model, engine=..., async_engine=...)`` hands each attempt to an engine as a ``dspy.lm15.Request``
and expects a ``Response``. :class:`SharedEngine` routes the request with lm15 (which writes and reads
every provider's wire format) over :class:`~sharedlm._transport.PooledTransport`, admits it through the
:class:`~sharedlm._pacing.Pacer`, and retries 429, 5xx, resets and timeouts itself. The LM it serves is
built with ``num_retries=0`` and its final errors map to non-retryable DSPy errors, so retries are never
multiplied by DSPy's own loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

from dspy import lm15

from sharedlm._classify import classify
from sharedlm._env import key_variables
from sharedlm._errors import (
    CallTimeoutError,
    ConfigurationError,
    MissingAPIKeyError,
    ProviderCallError,
    RateLimitedError,
    RetriesExhaustedError,
    RetryableError,
)
from sharedlm._fdlimit import ConnectionCapPlan
from sharedlm._flow import estimate_tokens
from sharedlm._pacing import Booking, Pacer
from sharedlm._settings import SharedLMSettings
from sharedlm._stats import EngineCounters, EngineStats
from sharedlm._transport import CURRENT_ATTEMPT, AttemptRecord, PooledTransport

logger = logging.getLogger("sharedlm")


def resolve_model(model: str) -> lm15.Resolution:
    """Which lm15 provider and model id a DSPy model string routes to, offline.

    Raises:
        ConfigurationError: When DSPy's native engine cannot route the model string.
    """
    try:
        return lm15.AsyncLMRouter(lm15.RouterConfig(env={})).resolve_openai_chat(model)
    except lm15.LM15Error as exc:
        raise ConfigurationError(
            f"model {model!r} cannot be routed by DSPy's native engine ({exc.message.splitlines()[0]}). Use a "
            "provider prefix such as 'openai/', 'gemini/' or 'anthropic/'; for any OpenAI-compatible server use "
            "'openai/<model>' with api_base"
        ) from None


class SharedEngine:
    """The async engine of the shared LM.

    Args:
        settings: What to connect to and how to pace it.
        plan: The connection cap the open-file limit allows.
    """

    def __init__(self, settings: SharedLMSettings, *, plan: ConnectionCapPlan) -> None:
        self.settings = settings
        self.plan = plan
        self.resolution = resolve_model(settings.model)
        self.provider = self.resolution.provider
        self.transport = PooledTransport(max_connections=plan.cap, connect_timeout=settings.connect_timeout)
        self.pacer = Pacer(settings.flow, cap=plan.cap)
        self.counters = EngineCounters()
        base_urls = {self.provider: settings.api_base} if settings.api_base else None
        api_keys = {self.provider: settings.api_key} if settings.api_key else None
        # env={}: credentials come from SharedLMSettings (read from the environment in sharedlm._env only).
        self._router = lm15.AsyncLMRouter(
            lm15.RouterConfig(env={}, transport=self.transport, api_keys=api_keys, base_urls=base_urls)
        )
        self._provider_lm: Any = None
        self._capabilities: Any = None

    def __repr__(self) -> str:
        gate = self.pacer.gate
        return (f"SharedEngine(model={self.settings.model!r}, provider={self.provider!r}, pool_size={self.plan.cap}, "
                f"limit={gate.limit}, in_flight={gate.in_flight}, queued={gate.queued}, "
                f"open_connections={self.transport.open_connections})")

    # --- capability hints DSPy's adapters read from a custom engine ---

    def _reference_capabilities(self) -> Any:
        if self._capabilities is None:
            import dspy

            # A plain LM for the same model string answers DSPy's own capability table; it sends nothing.
            reference = dspy.LM(self.settings.model, engine="lm15")  # noqa: SLM005 - never sends a request
            try:
                self._capabilities = (reference.supports_function_calling, reference.supports_reasoning,
                                      reference.supports_response_schema, frozenset(reference.supported_params))
            except Exception:  # unknown to DSPy's catalog: declare nothing, as DSPy does
                self._capabilities = (False, False, False, frozenset())
        return self._capabilities

    @property
    def supports_function_calling(self) -> bool:
        return bool(self._reference_capabilities()[0])

    @property
    def supports_reasoning(self) -> bool:
        return bool(self._reference_capabilities()[1])

    @property
    def supports_response_schema(self) -> bool:
        return bool(self._reference_capabilities()[2])

    @property
    def supported_params(self) -> frozenset[str]:
        return frozenset(self._reference_capabilities()[3])

    # --- the contract ---

    def _route(self, request: lm15.Request) -> tuple[Any, lm15.Request]:
        if self.settings.api_key is None:
            variables = " or ".join(key_variables(self.settings.model))
            raise MissingAPIKeyError(
                f"no API key for {self.settings.model!r}: set {variables}, or call "
                "sharedlm.configure(api_key=...) before the first call",
                env_keys=key_variables(self.settings.model), provider=self.provider,
            )
        if self._provider_lm is None:
            self._provider_lm = self._router.lm(f"{self.provider}:{self.resolution.model}")
        return self._provider_lm, replace(request, model=self.resolution.model)

    async def complete(self, request: lm15.Request) -> lm15.Response:
        """Send one DSPy request, waiting its turn and retrying transient failures."""
        provider_lm, routed = self._route(request)
        pacer = self.pacer
        tokens = estimate_tokens(request) if pacer.counts_tokens else 0
        counters = self.counters
        counters.call_started()
        max_retries = self.settings.flow.max_retries
        attempt = 0
        while True:
            attempt += 1
            booking = await pacer.admit(tokens=tokens)
            record = AttemptRecord()
            token = CURRENT_ATTEMPT.set(record)
            sent_at = time.monotonic()
            counters.attempt_sent(tokens)
            try:
                async with asyncio.timeout(self.settings.timeout):
                    response: lm15.Response = await provider_lm.complete(routed)
            except BaseException as exc:
                error = self._failed_attempt(exc, record, booking, sent_at, attempt, max_retries)
                if error is None:
                    counters.call_failed()
                    raise
                delay = self._retry_delay(error, record, attempt)
                await asyncio.sleep(delay)
                continue
            finally:
                CURRENT_ATTEMPT.reset(token)
            usage = response.usage
            prompt = usage.input_tokens or 0
            completion = usage.output_tokens or 0
            pacer.succeeded(booking, used_tokens=(usage.total_tokens or prompt + completion) if tokens else None)
            counters.succeeded(prompt, completion)
            return response

    def _failed_attempt(self, exc: BaseException, record: AttemptRecord, booking: Booking, sent_at: float,
                        attempt: int, max_retries: int) -> ProviderCallError | None:
        """Account for a failed attempt; return the error to retry, or None to re-raise what was raised."""
        error: ProviderCallError | None
        if isinstance(exc, TimeoutError) and not isinstance(exc, lm15.LM15Error):
            error = CallTimeoutError(
                f"one attempt to {self.provider} took longer than timeout={self.settings.timeout:g} s; raise it with "
                "sharedlm.configure(timeout=...) or SHAREDLM_TIMEOUT", provider=self.provider)
        elif isinstance(exc, Exception):
            error = classify(exc, provider=self.provider, status=record.status, secret=self.settings.api_key)
        else:
            error = None  # cancellation and interpreter exits pass through untouched
        rate_limited = isinstance(error, RateLimitedError)
        self.pacer.failed(booking, sent_at=sent_at, rate_limited=rate_limited,
                          no_work_done=rate_limited or record.status is None)
        if error is None:
            return None
        retry = isinstance(error, RetryableError) and attempt <= max_retries
        self.counters.attempt_failed(type(error).__name__, rate_limited=rate_limited, will_retry=retry)
        if not retry:
            self.counters.call_failed()
            if isinstance(error, RetryableError):
                raise RetriesExhaustedError(
                    f"gave up after {attempt} attempt{'s' if attempt != 1 else ''} ({max_retries} retries): {error}. "
                    "Raise max_retries (sharedlm.configure(max_retries=...) or SHAREDLM_MAX_RETRIES), or lower the "
                    "load: max_parallel_requests, rpm, tpm",
                    last=error, attempts=attempt,
                ) from error
            error.attempts = attempt
            raise error from (None if error is exc else exc)
        return error

    def _retry_delay(self, error: ProviderCallError, record: AttemptRecord, attempt: int) -> float:
        hint = getattr(error, "retry_after", None)
        delay, _told = self.pacer.retry_delay(attempt, record.headers, hint)
        return delay

    async def stream(self, request: lm15.Request) -> AsyncIterator[Any]:
        """Stream one request. It is admitted like ``complete``; it is retried only before its first event."""
        provider_lm, routed = self._route(request)
        self.counters.call_started()
        attempt = 0
        max_retries = self.settings.flow.max_retries
        while True:
            attempt += 1
            booking = await self.pacer.admit(tokens=0)
            record = AttemptRecord()
            token = CURRENT_ATTEMPT.set(record)
            sent_at = time.monotonic()
            self.counters.attempt_sent(0)
            emitted = False
            try:
                async for event in provider_lm.stream(routed):
                    emitted = True
                    yield event
            except BaseException as exc:
                if emitted:
                    self.pacer.failed(booking, sent_at=sent_at, rate_limited=False, no_work_done=False)
                    self.counters.call_failed()
                    raise
                error = self._failed_attempt(exc, record, booking, sent_at, attempt, max_retries)
                if error is None:
                    self.counters.call_failed()
                    raise
                await asyncio.sleep(self._retry_delay(error, record, attempt))
                continue
            finally:
                CURRENT_ATTEMPT.reset(token)
            self.pacer.succeeded(booking, used_tokens=None)
            self.counters.succeeded(0, 0)
            return

    async def aclose(self) -> None:
        """Close every pool (DSPy calls this when the LM is closed)."""
        self.transport.close_nowait()

    def close_nowait(self) -> None:
        self.transport.close_nowait()

    # --- saving programs that use the shared LM: the engine is saved as a reference, never with secrets ---

    def dump_state(self) -> dict[str, Any]:
        return {"model": self.settings.model}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> SharedEngine:
        from sharedlm._singleton import shared_engines

        return shared_engines()[1]

    def stats(self) -> EngineStats:
        """A snapshot of the counters, the gate and the pool."""
        counters, gate, pacer = self.counters, self.pacer.gate, self.pacer
        saturation = pacer.saturation.snapshot() if pacer.saturation is not None else None
        return EngineStats(
            calls=counters.calls,
            calls_succeeded=counters.calls_succeeded,
            calls_failed=counters.calls_failed,
            requests_sent=counters.requests_sent,
            retries=counters.retries,
            rate_limited=counters.rate_limited,
            errors_by_kind=counters.errors_by_kind(),
            in_flight=gate.in_flight,
            peak_in_flight=gate.peak_in_flight,
            queued=gate.queued,
            waits=gate.waits,
            limit=gate.limit,
            peak_limit=pacer.peak_limit,
            cap=self.plan.cap,
            cpu_ceiling=saturation.ceiling if saturation is not None else None,
            cpu_steps_down=saturation.steps_down if saturation is not None else 0,
            open_connections=self.transport.open_connections,
            connections_opened=self.transport.connections_opened,
            pauses=pacer.pause.pauses,
            tokens_reserved=counters.tokens_reserved,
            tokens_used=counters.prompt_tokens + counters.completion_tokens,
            prompt_tokens=counters.prompt_tokens,
            completion_tokens=counters.completion_tokens,
        )


__all__ = ["SharedEngine", "resolve_model"]
