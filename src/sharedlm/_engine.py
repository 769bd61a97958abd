"""The shared engine: DSPy's async engine contract over one pooled, paced transport, with one retry layer.

``dspy.LM(model, engine=..., async_engine=...)`` hands each attempt to an engine as a ``dspy.lm15.Request``
and expects a ``Response``. :class:`SharedEngine` routes the request with lm15 (which writes and reads
every provider's wire format) over :class:`~sharedlm._transport.PooledTransport`, admits it through the
:class:`~sharedlm._pacing.Pacer`, and retries 429, 5xx, resets and timeouts itself. The LM it serves is
built with ``num_retries=0`` and its final errors map to non-retryable DSPy errors, so retries are never
multiplied by DSPy's own loop.

``complete`` and ``stream`` share one attempt loop (:meth:`SharedEngine._attempts`): each attempt holds an
in-flight slot for exactly the ``async with pacer.attempt(tokens)`` block it runs in, under the per-attempt
``timeout``, with its tokens booked against ``tpm`` and settled from the reported usage. A stream keeps its
slot while it streams and is retried only before its first event. Once the LM is closed
(``reset_shared_lm()``), every attempt not yet sent fails with :class:`~sharedlm._errors.SharedLMClosedError`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Any, TypeVar

from dspy import lm15

from sharedlm._admission import InFlightGate
from sharedlm._batch import BatchOptions, BatchTransport
from sharedlm._call_cost import CallCosting
from sharedlm._classify import classify
from sharedlm._env import key_variables, state_dir
from sharedlm._errors import (
    CallTimeoutError,
    ConfigurationError,
    MissingAPIKeyError,
    ProviderCallError,
    RateLimitedError,
    RetriesExhaustedError,
    RetryableError,
    SharedLMClosedError,
)
from sharedlm._fdlimit import ConnectionCapPlan
from sharedlm._flow import Deployment, Memory, estimate_tokens
from sharedlm._lease import lease_fields
from sharedlm._litellm_route import LiteLLMRoute
from sharedlm._pacing import Attempt, Pacer
from sharedlm._providers import choose_route, native_router_config
from sharedlm._settings import SharedLMSettings
from sharedlm._stats import EngineCounters, EngineStats
from sharedlm._transport import CURRENT_ATTEMPT, PooledTransport

logger = logging.getLogger("sharedlm")
T = TypeVar("T")
# lm15 providers whose calls batch mode sends through a provider batch API.
BATCH_PROVIDERS = frozenset({"openai-chat", "anthropic", "gemini"})



# Set by the registry (sharedlm._registry), which sits above this module: saved state -> this process's
# (sync engine, async engine) for the state's model. Engines never import the registry themselves.
ENGINE_RESOLVER: list[Callable[[dict[str, Any]], tuple[Any, SharedEngine]]] = []


def resolve_engines(state: dict[str, Any]) -> tuple[Any, SharedEngine]:
    """This process's shared engines for a saved engine state (``{"model": ...}``).

    Raises:
        ConfigurationError: When the state names no model, or no registry is installed.
    """
    if not isinstance(state, dict) or not isinstance(state.get("model"), str):
        raise ConfigurationError("a saved shared engine must name its model ({'model': 'provider/name'})")
    if not ENGINE_RESOLVER:
        raise ConfigurationError("import sharedlm before loading a program saved with a shared LM")
    return ENGINE_RESOLVER[0](state)


def restore_async_engine(state: dict[str, Any]) -> SharedEngine:
    """Unpickle a shared engine as this process's engine for the same model."""
    return resolve_engines(state)[1]


def restore_sync_engine(state: dict[str, Any]) -> Any:
    """Unpickle a shared sync engine as this process's sync engine for the same model."""
    return resolve_engines(state)[0]


def closed_error() -> SharedLMClosedError:
    """The error of a call that meets a closed (reset) shared LM."""
    return SharedLMClosedError(
        "the shared LM was closed (sharedlm.reset_shared_lm() or its aclose()) while this call was waiting or in "
        "flight; call sharedlm.get_shared_lm() again for a new one")


async def _aclose(events: AsyncIterator[Any]) -> None:
    close = getattr(events, "aclose", None)
    if close is not None:
        await close()


def resolve_model(model: str) -> lm15.Resolution:
    """Which lm15 provider and model id a DSPy model string routes to, offline (declared providers included).

    Raises:
        ConfigurationError: When DSPy's native engine cannot route the model string.
    """
    try:
        return lm15.AsyncLMRouter(native_router_config(env={})).resolve_openai_chat(model)
    except lm15.LM15Error as exc:
        raise ConfigurationError(
            f"model {model!r} cannot be routed by DSPy's native engine ({exc.message.splitlines()[0]}). Use a "
            "provider prefix such as 'openai/', 'gemini/' or 'anthropic/'; for any OpenAI-compatible server use "
            "'openai/<model>' with api_base"
        ) from None


class SharedEngine:
    """The async engine of the shared LM.

    Several engines (one per model) may share one transport, so every model served by a process draws on one
    capped pool per event loop, while each keeps its own flow state (adaptive limit, pauses, budgets): a 429 storm
    on one model does not slow another.

    Args:
        settings: What to connect to and how to pace it.
        plan: The process's connection cap, as the open-file limit allows it.
        transport: The process's shared transport; None builds one for this engine alone (sized by ``plan``).
        process_gate: The process's in-flight cap shared by every model's engine, or None for this engine alone.
    """

    def __init__(self, settings: SharedLMSettings, *, plan: ConnectionCapPlan,
                 transport: PooledTransport | None = None, process_gate: InFlightGate | None = None) -> None:
        self.settings = settings
        self.plan = plan
        # This model's ceiling: its own max_parallel_requests, within the process's connection cap.
        self.cap = min(plan.cap, settings.max_parallel_requests)
        # Native (lm15, declared providers included) when lm15 can carry the model, else LiteLLM, as plain DSPy.
        self.route = choose_route(settings.model)
        self.resolution = self.route.resolution
        self.provider = self.route.provider
        self.transport = transport if transport is not None else PooledTransport(
            max_connections=plan.cap, connect_timeout=settings.connect_timeout, limits=settings.response_limits)
        # What is learned about this deployment (capacity, limits) is remembered across runs; never the key.
        model = self.resolution.model if self.resolution is not None else settings.model
        memory = Memory(state_dir(), Deployment(provider=self.provider, model=model,
                                                base_url=settings.api_base or "", api_key=settings.api_key))
        self.pacer = Pacer(settings.flow, cap=self.cap, memory=memory)
        self.pacer.process_gate = process_gate  # every model's calls within the process's cap, from every loop
        # While the first window holds a burst back, the connections the rest will take open in the idle wait.
        self.pacer.warm_connections = self.transport.warm
        self.counters = EngineCounters()
        self.costing = CallCosting(settings.model, provider=self.provider,
                                   wire_model=self.resolution.model if self.resolution is not None else settings.model)
        native = self.route.kind == "native"
        base_urls = {self.provider: settings.api_base} if settings.api_base and native else None
        api_keys = {self.provider: settings.api_key} if settings.api_key and native else None
        # env={}: credentials come from SharedLMSettings (read from the environment in sharedlm._env only).
        self._router = lm15.AsyncLMRouter(
            native_router_config(env={}, transport=self.transport, api_keys=api_keys, base_urls=base_urls)
        )
        self._litellm = LiteLLMRoute(
            model=settings.model, provider=self.provider, transport=self.transport, api_key=settings.api_key,
            api_base=settings.api_base, timeout=settings.timeout) if self.route.kind == "litellm" else None
        # While batch mode is on, every call waits on a provider batch through this transport.
        self.batch: BatchTransport | None = None
        self._provider_lm: Any = None
        self._capabilities: Any = None
        self._closed = False

    # --- batch mode ---

    def check_batch(self) -> None:
        """Refuse batch mode for a provider without a batch API (nothing is sent).

        Raises:
            UsageError: Naming the model and the providers batch mode supports.
        """
        from sharedlm._errors import UsageError

        if self.route.kind != "native" or self.provider not in BATCH_PROVIDERS:
            raise UsageError(
                f"batch mode needs a provider with a batch API (OpenAI, Anthropic or Gemini); {self.settings.model!r} "
                f"goes to {self.provider!r}. Run without batch mode, or pick an 'openai/', 'anthropic/' or "
                "'gemini/' model")

    def use_batch(self, options: BatchOptions) -> BatchTransport:
        """Send every call through the provider's batch API until :meth:`use_online`; return the batch transport.

        Args:
            options: Linger, limits, polling, retries and the journal of the batches.

        Raises:
            UsageError: When the provider has no batch API, before anything is sent.
        """
        self.check_batch()
        transport = BatchTransport(self.transport, options)
        self.batch = transport
        self.costing.batch = True
        self.costing.batch_only = not options.retry_online  # a call sent online instead is billed online
        self._router = self._native_router(transport)
        self._provider_lm = None
        return transport

    def use_online(self) -> None:
        """Send calls online again (the end of batch mode)."""
        self.batch = None
        self.costing.batch = False
        self.costing.batch_only = False
        self._router = self._native_router(self.transport)
        self._provider_lm = None

    def _native_router(self, transport: Any) -> Any:
        settings = self.settings
        base_urls = {self.provider: settings.api_base} if settings.api_base else None
        api_keys = {self.provider: settings.api_key} if settings.api_key else None
        return lm15.AsyncLMRouter(
            native_router_config(env={}, transport=transport, api_keys=api_keys, base_urls=base_urls))

    async def _complete_in_batch(self, provider_lm: Any, routed: lm15.Request) -> lm15.Response:
        """One call answered from a batch: no slot, no per-attempt timeout, no retry here (the batch retries)."""
        counters = self.counters
        spend = await self.costing.book(routed)
        counters.call_started()
        counters.attempt_sent(0)
        try:
            self.costing.sending(spend)  # its line may go in a batch, billed whether or not this call waits for it
            response = await provider_lm.complete(routed)
        except BaseException as exc:
            self.costing.failed(spend, exc)
            counters.call_failed()
            error = classify(exc, provider=self.provider, status=None, secret=self.settings.api_key) \
                if isinstance(exc, Exception) else None
            if error is None or error is exc:
                raise
            raise error from exc
        usage = response.usage
        counters.succeeded((usage.input_tokens or 0) if usage else 0, (usage.output_tokens or 0) if usage else 0)
        self.costing.succeeded(spend, response, routed)
        return response

    def __repr__(self) -> str:
        gate = self.pacer.gate
        return (f"SharedEngine(model={self.settings.model!r}, provider={self.provider!r}, pool_size={self.cap}, "
                f"limit={gate.limit}, in_flight={gate.in_flight}, queued={gate.queued}, "
                f"open_connections={self.transport.open_connections})")

    # --- capability hints DSPy's adapters read from a custom engine ---

    def _reference_capabilities(self) -> Any:
        if self._capabilities is None:
            import dspy

            # A plain LM for the same model string answers DSPy's own capability table; it sends nothing.
            reference = dspy.LM(self.settings.model,  # noqa: SLM005 - never sends a request
                                engine="lm15" if self._litellm is None else "litellm")
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
        if self._litellm is not None:  # LiteLLM finds the credentials it needs when none is configured
            return self._litellm, request
        if self.settings.api_key is None:
            variables = " or ".join(key_variables(self.settings.model))
            raise MissingAPIKeyError(
                f"no API key for {self.settings.model!r}: set {variables}, or call "
                "sharedlm.configure(api_key=...) before the first call",
                env_keys=key_variables(self.settings.model), provider=self.provider,
            )
        assert self.resolution is not None
        if self._provider_lm is None:
            self._provider_lm = self._router.lm(f"{self.provider}:{self.resolution.model}")
        return self._provider_lm, replace(request, model=self.resolution.model)

    async def complete(self, request: lm15.Request) -> lm15.Response:
        """Send one DSPy request, waiting its turn and retrying transient failures."""
        provider_lm, routed = self._route(request)
        if self.batch is not None:
            return await self._complete_in_batch(provider_lm, routed)
        tokens = estimate_tokens(request) if self.pacer.counts_tokens else 0
        # Under a spend cap the call's worst case is booked before it waits for a slot, and settled after.
        spend = await self.costing.book(routed)

        def send() -> Awaitable[lm15.Response]:
            self.costing.sending(spend)  # from here on the provider may bill the call, whatever becomes of it here
            return provider_lm.complete(routed)

        try:
            slot, response, _attempt = await self._attempts(tokens, send)
            async with slot:
                self._settle(slot, response.usage)
        except BaseException as exc:
            self.costing.failed(spend, exc)
            raise
        self.costing.succeeded(spend, response, routed)
        return response

    async def stream(self, request: lm15.Request) -> AsyncGenerator[Any, None]:
        """Stream one request: admitted, booked and timed like ``complete``, retried only before its first event.

        The per-attempt ``timeout`` bounds the time spent waiting on the provider for the whole stream; the time
        the consumer takes between events does not count.
        """
        if self.batch is not None:
            from sharedlm._errors import UsageError

            raise UsageError("batch mode cannot stream: a batch answers whole calls. Turn streaming off "
                             "(no dspy.streamify) or run without batch mode")
        provider_lm, routed = self._route(request)
        tokens = estimate_tokens(request) if self.pacer.counts_tokens else 0
        loop = asyncio.get_running_loop()

        async def open_stream() -> tuple[AsyncIterator[Any], Any, float]:
            started = loop.time()
            self.costing.sending(spend)
            events = aiter(provider_lm.stream(routed))
            try:
                return events, await anext(events), started
            except BaseException:
                await _aclose(events)
                raise

        # Booked against a spend cap like ``complete``; priced from the end event's usage.
        spend = await self.costing.book(routed)
        try:
            slot, (events, event, started), attempt = await self._attempts(tokens, open_stream)
        except BaseException as exc:
            self.costing.failed(spend, exc)
            raise
        usage: lm15.Usage | None = None
        try:
            async with slot:
                try:
                    budget = self.settings.timeout - (loop.time() - started)
                    settled = False
                    while True:
                        if isinstance(event, lm15.StreamEndEvent) and event.usage is not None:
                            self._settle(slot, event.usage)
                            settled = True
                            usage = event.usage
                        yield event
                        waited_from = loop.time()
                        try:
                            async with asyncio.timeout(budget):
                                event = await anext(events)
                        except StopAsyncIteration:
                            break
                        budget -= loop.time() - waited_from
                    if not settled:
                        self._settle(slot, None)
                except Exception as exc:  # the stream broke off after its first event: not retried
                    error = self._classified(exc, slot)
                    if error is exc:
                        raise
                    raise error from exc
                finally:
                    await _aclose(events)
        except BaseException as exc:
            # The provider began to answer: what it cost is unknown unless the end event said, never free.
            self.costing.stream_finished(spend, usage)
            self._retry_or_fail(exc, slot, attempt, may_retry=False)
            raise
        self.costing.stream_finished(spend, usage)

    async def _attempts(self, tokens: int, send: Callable[[], Awaitable[T]]) -> tuple[Attempt, T, int]:
        """The one attempt loop of every call, ``complete`` and ``stream`` alike: run attempts until one opens.

        Each attempt holds a slot (``async with pacer.attempt(tokens)``) and opens under the per-attempt timeout
        with ``send()``: an answer for ``complete``, the first event for ``stream``. An attempt that fails to open
        is classified and retried after a backoff while the error is retryable and retries are left; its slot is
        released as its block is left. The attempt that opens hands its slot over, still held, to the caller, who
        finishes the attempt in ``async with slot:`` (which releases it however that block is left), with no
        await in between.

        Args:
            tokens: The call's token estimate (0 without a token budget).
            send: Opens one attempt.

        Returns:
            The opened attempt's slot (held), what ``send()`` returned, and the attempt's number (1 for the first).
        """
        counters = self.counters
        counters.call_started()
        attempt = 0
        while True:
            attempt += 1
            slot: Attempt | None = None
            try:
                async with self.pacer.attempt(tokens) as slot:
                    if self._closed:
                        raise closed_error()
                    counters.attempt_sent(tokens)
                    reset = CURRENT_ATTEMPT.set(slot.record)
                    try:
                        async with asyncio.timeout(self.settings.timeout):
                            value = await send()
                    except BaseException as exc:
                        error = self._classified(exc, slot)
                        if error is exc:
                            raise
                        raise error from exc
                    finally:
                        CURRENT_ATTEMPT.reset(reset)
                    return slot.hand_over(), value, attempt
            except BaseException as exc:
                delay = self._retry_or_fail(exc, slot, attempt, may_retry=True)
                if delay is None:
                    raise
            await asyncio.sleep(delay)

    def _classified(self, exc: BaseException, slot: Attempt) -> BaseException:
        """The sharedlm error for an attempt's failure; cancellation and interpreter exits come back unchanged."""
        if isinstance(exc, TimeoutError) and not isinstance(exc, lm15.LM15Error):
            return CallTimeoutError(
                f"one attempt to {self.provider} took longer than timeout={self.settings.timeout:g} s; raise it with "
                "sharedlm.configure(timeout=...) or SHAREDLM_TIMEOUT", provider=self.provider)
        if isinstance(exc, Exception):
            error = classify(exc, provider=self.provider, status=slot.record.status, secret=self.settings.api_key)
            return exc if error is None else error
        return exc

    def _retry_or_fail(self, exc: BaseException, slot: Attempt | None, attempt: int, *,
                       may_retry: bool) -> float | None:
        """Count a failed attempt; return the delay before the next one, or None when ``exc`` ends the call.

        Raises:
            RetriesExhaustedError: When a retryable error is left and no retries are.
        """
        counters = self.counters
        if not isinstance(exc, ProviderCallError) or slot is None:
            counters.call_failed()  # cancellation, a closed LM, no slot in time: not the provider's failure
            return None
        max_retries = self.settings.flow.max_retries
        retryable = isinstance(exc, RetryableError)
        retry = retryable and may_retry and attempt <= max_retries
        counters.attempt_failed(type(exc).__name__, rate_limited=isinstance(exc, RateLimitedError), will_retry=retry)
        if retry:
            delay, _told = self.pacer.retry_delay(attempt, slot.record.headers, getattr(exc, "retry_after", None),
                                                  message=str(exc))
            return delay
        counters.call_failed()
        if retryable and may_retry:
            raise RetriesExhaustedError(
                f"gave up after {attempt} attempt{'s' if attempt != 1 else ''} ({max_retries} retries): {exc}. "
                "Raise max_retries (sharedlm.configure(max_retries=...) or SHAREDLM_MAX_RETRIES), or lower the "
                "load: max_parallel_requests, rpm, tpm",
                last=exc, attempts=attempt,
            ) from exc
        exc.attempts = attempt
        return None

    def _settle(self, slot: Attempt, usage: lm15.Usage | None) -> None:
        """Count a successful call and settle its token booking with the usage the provider reported."""
        prompt = completion = 0
        if usage is not None:
            prompt = usage.input_tokens or 0
            completion = usage.output_tokens or 0
            if slot.tokens:
                slot.used_tokens = usage.total_tokens or prompt + completion
        self.counters.succeeded(prompt, completion)

    async def aclose(self) -> None:
        """Close every pool (DSPy calls this when the LM is closed); later attempts fail with a clear error."""
        self.close_nowait()

    def close_nowait(self) -> None:
        """Close every pool without waiting; attempts not yet sent fail with :class:`SharedLMClosedError`."""
        self._closed = True
        self.transport.close_nowait()
        self.pacer.flush()

    # --- an engine is a process resource: copies of a program share it, saved programs name only its model ---

    def __copy__(self) -> SharedEngine:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> SharedEngine:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled (dspy.load, Ray, multiprocessing) as its model only: never the key, the pools or the locks.
        return (restore_async_engine, (self.dump_state(),))

    def dump_state(self) -> dict[str, Any]:
        return {"model": self.settings.model}

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> SharedEngine:
        """This process's shared engine for the saved model (DSPy's custom-engine loader)."""
        return resolve_engines(state)[1]

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
            cap=self.cap,
            cpu_ceiling=saturation.ceiling if saturation is not None else None,
            cpu_steps_down=saturation.steps_down if saturation is not None else 0,
            open_connections=self.transport.open_connections,
            connections_opened=self.transport.connections_opened,
            connections_warmed=pacer.connections_warmed,
            pauses=pacer.pause.pauses,
            tokens_reserved=counters.tokens_reserved,
            tokens_used=counters.prompt_tokens + counters.completion_tokens,
            prompt_tokens=counters.prompt_tokens,
            completion_tokens=counters.completion_tokens,
            cost_usd=self.costing.cost_usd if self.costing.cost_known else None,
            cost_known=self.costing.cost_known,
            **lease_fields(gate),  # type: ignore[arg-type]
        )


__all__ = ["ENGINE_RESOLVER", "SharedEngine", "closed_error", "resolve_engines", "resolve_model",
           "restore_async_engine", "restore_sync_engine"]
