"""The LiteLLM route: providers DSPy reaches only through LiteLLM, sent by ``litellm.acompletion`` over our pool.

For a prefix lm15 refuses (``vertex_ai/``, ``bedrock/``, ``together_ai/``, ``mistral/``, ...) plain DSPy builds
the call with its own :class:`dspy.clients.engines.AsyncLiteLLMEngine` (an lm15 ``Request`` turned into
``litellm.acompletion`` arguments, the answer turned back into an lm15 ``Response``, LiteLLM's errors mapped onto
lm15's classes with their status and ``Retry-After``). :class:`LiteLLMRoute` reuses that engine whole and changes
only what the call is carried over and how often it is tried:

- one HTTP client per event loop: the loop's aiohttp session of :class:`~sharedlm._transport.PooledTransport`
  (capped at ``max_parallel_requests``, its sockets counted in ``stats()``, closed with the shared LM). LiteLLM
  takes it as ``shared_session=`` (``litellm/main.py`` ``acompletion(..., shared_session=...)``, which
  ``litellm/llms/custom_httpx/http_handler.py`` ``create_aiohttp_transport`` wraps in a
  ``LiteLLMAiohttpTransport(client=shared_session, owns_session=False)``) and, for the providers its
  ``BaseLLMHTTPHandler`` serves, as ``client=`` an ``AsyncHTTPHandler(shared_session=...)`` built once per loop, so
  LiteLLM's own client cache (keyed by provider, not by session) never hands out a pool of its own;
- LiteLLM's retries off (``num_retries=0`` as DSPy already sends, and ``max_retries=0`` for the SDK clients):
  :class:`~sharedlm._engine.SharedEngine` is the one retry layer, and admits, paces and times every attempt.

A provider LiteLLM itself reads as OpenAI's Chat Completions (``together_ai/``, ``deepinfra/``, ...) skips
``litellm.acompletion``: :class:`~sharedlm._litellm_wire.OpenAIWireRoute` sends it on the pool's own HTTP/1.1 wire,
with the body, URL and headers LiteLLM's provider config shapes, for a fifth of the CPU a call costs here.

Credentials are LiteLLM's: the configured key when there is one, else what LiteLLM reads itself (Vertex service
accounts and application default credentials, the AWS credential chain). They are passed through, never stored
in a repr, logged or saved: the records the libraries under the route log themselves are redacted by
:mod:`sharedlm._log_scrub`, installed when the first route is built, and a failed call's error, whose chain holds
LiteLLM's httpx request and response, is redacted of them before it leaves the route (:meth:`LiteLLMRoute._scrub`).
That redaction knows by value every secret the route knows, as soon as it knows it: the configured key and the key
LiteLLM finds in the environment (when the route is built), the AWS and Google credential files of a Bedrock or
Vertex AI route, every credential keyword of a call (``aws_secret_access_key``, ``aws_session_token``,
``vertex_credentials`` with its ``private_key``, ... in a typed request's ``config.extensions``; DSPy 3.4.1 refuses
such ``dspy.LM`` keywords before any engine sees them) before LiteLLM receives it, and the token each request
carries (a Vertex access token LiteLLM fetched) when it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import threading
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
from dspy import lm15

from sharedlm._classify import scrub
from sharedlm._env import cloud_secrets
from sharedlm._errors import ConnectionFailedError
from sharedlm._http_rules import is_secret_name
from sharedlm._litellm_wire import OpenAIWireRoute, plan_wire
from sharedlm._log_scrub import header_secrets, install_log_scrub, learn_secrets, remember_secrets, secrets_in
from sharedlm._transport import CURRENT_ATTEMPT, PooledTransport

# LiteLLM providers dispatched by OpenAI's SDK (``_complete_custom_openai``): they take ``shared_session`` only; a
# ``client=`` would have to be an ``AsyncOpenAI``. together_ai and fireworks_ai are in LiteLLM's list but have
# their own BaseLLMHTTPHandler branches in ``litellm/main.py`` ahead of it.
_HTTP_HANDLER_DESPITE_LIST = frozenset({"together_ai", "fireworks_ai"})


def _litellm_found_key(model: str, api_base: str | None) -> str | None:
    """The key LiteLLM reads from the environment for ``model`` when none is configured (``DEEPINFRA_API_KEY``, ...),
    or None; never raises."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")  # before LiteLLM is first imported
    import litellm

    with contextlib.suppress(Exception):
        found = litellm.get_llm_provider(model, api_base=api_base)[2]
        return found if isinstance(found, str) and found else None
    return None


async def _learn_sent_credentials(request: Any) -> None:
    """An httpx request hook of the route's LiteLLM client: the credentials each request carries (the access token
    LiteLLM fetched for Vertex AI, a Bedrock session token from an assumed role) are redacted by value from then on.

    Args:
        request: The ``httpx.Request`` about to be sent.
    """
    # A hook that raised would fail the call: learning is best effort, shape-based redaction still applies.
    with contextlib.suppress(Exception):
        learn_secrets(header_secrets(request.headers.items()))


def _openai_sdk_providers() -> frozenset[str]:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")  # before LiteLLM is first imported
    import litellm

    return frozenset(str(name) for name in litellm.openai_compatible_providers) - _HTTP_HANDLER_DESPITE_LIST


@functools.cache
def _engine_class() -> type:
    # Before LiteLLM is first imported (by DSPy's engine, lazily): its price map stays the bundled copy.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    from dspy.clients.engines import AsyncLiteLLMEngine

    class PooledLiteLLMEngine(AsyncLiteLLMEngine):
        """DSPy's async LiteLLM engine, its calls carried by one loop's shared client with LiteLLM's retries off.

        ``_arguments`` is where DSPy 3.4.1's engine builds the ``litellm.acompletion`` keyword arguments for both
        ``complete`` and ``stream``; the pool's arguments are added there and nothing else changes.
        """

        def __init__(self, *, pool_arguments: dict[str, Any], **client_options: Any) -> None:
            super().__init__(model_type="chat", **client_options)
            self.pool_arguments = pool_arguments
            # Credentials LiteLLM was handed (api_key, aws_secret_access_key, aws_session_token, vertex_credentials'
            # private_key, ... from the configured key and a request's config.extensions): what a failed call's error
            # must not keep and the records the libraries log must not show.
            self.secrets: set[str] = set()
            # Credential arguments already taken apart (text values; a mapping is taken apart on every call).
            self._seen: set[str] = set()

        def _arguments(self, request: Any, *, streaming: bool = False) -> dict[str, Any]:
            data: dict[str, Any] = super()._arguments(request, streaming=streaming)
            found: list[str] = []
            for name, value in data.items():
                if not value or not is_secret_name(name):
                    continue
                if isinstance(value, str):
                    if value not in self._seen:  # the same key every call: taken apart once per engine
                        self._seen.add(value)
                        self.secrets.add(value)  # a credentials file's path too: errors showed it redacted before
                        found += secrets_in(value)
                elif isinstance(value, dict):  # vertex_credentials given as the service account's JSON object
                    found += secrets_in(value)
            if found:
                self.secrets.update(found)
                # Known to the log filter before LiteLLM receives them: its first DEBUG record is redacted too.
                remember_secrets(found)
            data.update(self.pool_arguments)
            return data

        def __repr__(self) -> str:
            return f"PooledLiteLLMEngine(session_id={id(self.pool_arguments.get('shared_session')):#x})"

    return PooledLiteLLMEngine


def _broken_connection(exc: BaseException) -> BaseException | None:
    """The connection error under what LiteLLM raised, if the attempt died on the wire rather than in an answer.

    LiteLLM reports a reset connection as its ``InternalServerError`` (status 500), which DSPy's mapping turns into a
    server error; no answer arrived, so it is a broken connection (still retryable, and no work was done).
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientConnectionError | ConnectionError):
            return current
        current = current.__cause__ or current.__context__
    return None


def _record_failure(exc: BaseException) -> None:
    """Note on the current attempt what LiteLLM saw of the answer (status, headers), as the transport does."""
    record = CURRENT_ATTEMPT.get()
    if record is None:
        return
    status = getattr(exc, "status", None)
    if isinstance(status, int) and not isinstance(status, bool):
        record.status = status
    response = getattr(exc.__cause__, "response", None)
    headers = getattr(response, "headers", None)
    if headers is not None and hasattr(headers, "items"):
        # A header object that cannot be listed leaves the error's own retry hint to count.
        with contextlib.suppress(Exception):
            record.headers = [(str(name), str(value)) for name, value in headers.items()]


def _record_success() -> None:
    record = CURRENT_ATTEMPT.get()
    if record is not None:
        record.status = 200


class LiteLLMRoute:
    """The provider side of :class:`~sharedlm._engine.SharedEngine` for a model string lm15 cannot route.

    Args:
        model: The DSPy model string (LiteLLM's spelling, e.g. ``"vertex_ai/gemini-2.5-flash"``).
        provider: LiteLLM's provider name for it.
        transport: The engine's transport, whose per-loop aiohttp session carries every call.
        api_key: The configured key, or None to let LiteLLM find its credentials.
        api_base: The provider's base URL, or None for LiteLLM's default.
        timeout: The per-attempt timeout LiteLLM is told (the engine enforces it too).
    """

    def __init__(self, *, model: str, provider: str, transport: PooledTransport, api_key: str | None,
                 api_base: str | None, timeout: float) -> None:
        self.model = model
        self.provider = provider
        self.transport = transport
        # The libraries this route drives (LiteLLM, botocore, google-auth, their HTTP clients) log credentials at
        # DEBUG on their own loggers: their records are redacted from before the first call (sharedlm._log_scrub).
        # The key LiteLLM reads itself when none is configured is known too, and the credential files of the cloud
        # chains LiteLLM follows (nothing is asked of the network).
        install_log_scrub([api_key, None if api_key is not None else _litellm_found_key(model, api_base)],
                          aws=provider.startswith(("bedrock", "sagemaker")), google=provider.startswith("vertex"))
        self._client_options: dict[str, Any] = {"timeout": timeout}
        self._api_key = api_key
        if api_key is not None:
            self._client_options["api_key"] = api_key
        if api_base is not None:
            self._client_options["api_base"] = api_base
        self._uses_handler = provider not in _openai_sdk_providers()
        # A provider LiteLLM says speaks OpenAI's chat wire goes over the pool's own HTTP/1.1 wire, shaped by LiteLLM.
        plan = plan_wire(model, provider, api_base=api_base)
        self.wire = OpenAIWireRoute(model=model, plan=plan, transport=transport, api_key=api_key) \
            if plan is not None else None
        # Each loop's session and the engine (and LiteLLM client) over it; dropped once the loop or session closes.
        self._engines: dict[asyncio.AbstractEventLoop, tuple[Any, Any]] = {}
        self._lock = threading.Lock()  # loops on several threads (the sync bridge's, the caller's) share the route
        self._engine_class = _engine_class()

    def __repr__(self) -> str:
        client = "openai-wire" if self.wire is not None else \
            "AsyncHTTPHandler" if self._uses_handler else "shared_session"
        return (f"LiteLLMRoute(model={self.model!r}, provider={self.provider!r}, loops={len(self._engines)}, "
                f"client={client})")

    async def engine(self) -> Any:
        """This loop's LiteLLM engine, over this loop's session of the shared transport."""
        session = await self.transport.session()
        loop = asyncio.get_running_loop()
        known = self._engines.get(loop)
        if known is not None and known[0] is session:
            return known[1]
        pool_arguments: dict[str, Any] = {"shared_session": session, "max_retries": 0}
        if self._uses_handler:
            from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

            # The request hook tells the log filter the credentials each request carries (a token LiteLLM fetched).
            pool_arguments["client"] = AsyncHTTPHandler(shared_session=session, timeout=self._client_options["timeout"],
                                                        event_hooks={"request": [_learn_sent_credentials]})
        engine = self._engine_class(pool_arguments=pool_arguments, **self._client_options)
        with self._lock:
            for old in [old for old, (was, _) in self._engines.items() if old.is_closed() or was.closed]:
                del self._engines[old]
            self._engines[loop] = (session, engine)
        return engine

    async def complete(self, request: lm15.Request) -> lm15.Response:
        """One attempt: ``litellm.acompletion`` over the shared session, its answer as an lm15 Response."""
        if self.wire is not None:
            return await self.wire.complete(request)
        engine = await self.engine()
        try:
            response: lm15.Response = await engine.complete(request)
        except Exception as exc:
            broken = _broken_connection(exc)
            if broken is None:
                _record_failure(exc)
            self._scrub(exc, engine)
            if broken is not None:
                raise ConnectionFailedError(f"connection to {self.provider} broke before an answer arrived "
                                            f"({type(broken).__name__}: {broken})", provider=self.provider) from exc
            raise
        _record_success()
        return response

    async def stream(self, request: lm15.Request) -> AsyncGenerator[Any, None]:
        """One streamed attempt, as lm15 events (DSPy's own chunk mapping)."""
        if self.wire is not None:
            async for wired in self.wire.stream(request):
                yield wired
            return
        engine = await self.engine()
        events = engine.stream(request)
        try:
            first = True
            async for event in events:
                if first:
                    _record_success()
                    first = False
                yield event
        except Exception as exc:
            _record_failure(exc)
            self._scrub(exc, engine)
            raise
        finally:
            await events.aclose()

    def _scrub(self, exc: BaseException, engine: Any) -> None:
        """Redact from what LiteLLM raised every credential it held: its chain keeps the httpx request that carried
        them (Authorization, x-api-key, x-amz-security-token headers), and a body may echo one.

        The secrets known are the configured key, the credentials LiteLLM was handed as keywords and the AWS
        credentials in the environment; credential headers are redacted whatever they hold (an AWS signature, a
        token LiteLLM fetched itself).
        """
        known = [*getattr(engine, "secrets", ()), *cloud_secrets()]
        if self._api_key is not None:
            known.append(self._api_key)
        scrub(exc, known, credentials=True)


__all__ = ["LiteLLMRoute"]
