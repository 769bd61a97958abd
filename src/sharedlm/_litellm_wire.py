"""LiteLLM's OpenAI-wire providers on sharedlm's own HTTP/1.1 pool: LiteLLM shapes each request, lm15 reads the answer.

Some providers plain DSPy reaches only through LiteLLM speak OpenAI's Chat Completions wire, and LiteLLM says so:
they are in ``litellm.openai_compatible_providers`` (or served by LiteLLM's generic HTTP handler) and their LiteLLM
chat config reads answers as OpenAI's own (``together_ai/``, ``deepinfra/``, ``nvidia_nim/``, ``sambanova/``,
``nebius/``, ``hosted_vllm/``, ``lm_studio/``, ...). For them, ``litellm.acompletion`` spends most of its CPU on its
logging object, its cost calculation and its response objects (about 5 ms a call, measured beside 0.2 ms for the
request shaping itself), which caps a process at a couple of hundred calls a second. This route keeps LiteLLM's
provider knowledge and drops the rest:

- the request: lm15's OpenAI chat body (the same conversion DSPy's LiteLLM engine makes), then LiteLLM's own
  ``get_optional_params`` (the provider's parameter mapping and drops) and the provider config's
  ``transform_request``, ``transform_extra_body``, ``get_complete_url`` and ``validate_environment`` (model
  spelling, URL, auth headers): the body and headers LiteLLM would send;
- the wire: :class:`~sharedlm._transport.PooledTransport`, as for native providers (same cap, same per-attempt
  records of status and rate-limit headers for flow control);
- the answer: lm15's OpenAI chat reader (errors with their status and retry hints, usage, streams), the code that
  reads native ``openai/`` answers.

A provider whose LiteLLM config reads answers its own way (``mistral/``, ``fireworks_ai/``, ``perplexity/``,
``openrouter/``, ``cohere/``, ...) or whose LiteLLM path signs requests or fetches tokens (Vertex AI, Bedrock,
Databricks, watsonx, Azure) keeps the full LiteLLM route (:mod:`sharedlm._litellm_route`).
"""

from __future__ import annotations

import contextvars
import copy
import functools
import json
import os
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from dspy import lm15

from sharedlm._classify import redact
from sharedlm._errors import MissingAPIKeyError, RequestRejectedError
from sharedlm._transport import PooledTransport

# LiteLLM providers served by its generic HTTP handler with an OpenAI-wire config, though not in its list of
# OpenAI-compatible providers (``litellm/main.py`` has a branch of their own for each).
_HANDLER_OPENAI_WIRE = frozenset({"together_ai", "fireworks_ai", "mistral"})

# Providers whose credentials LiteLLM obtains by a login over the network (a device code, OAuth): looking their key
# up would start it, so they keep LiteLLM's own route, where that login belongs to the first call.
_INTERACTIVE_LOGIN = frozenset({"github_copilot", "chatgpt"})

# Arguments a typed request carries that OpenAI's chat dialect has no field for; DSPy's LiteLLM engine forwards them
# to LiteLLM beside the body (``top_k``), and so does this route, through the call's context.
_EXTRA_ARGUMENTS: contextvars.ContextVar[Mapping[str, Any] | None] = contextvars.ContextVar(
    "sharedlm_litellm_wire_extra", default=None)


# Parameter sets whose LiteLLM mapping is remembered per shaper; a program sends a handful, the bound guards memory.
_MAPPED_PARAMETER_SETS = 256


def _litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")  # before LiteLLM is first imported
    import litellm

    return litellm


@functools.cache
def _openai_answer_readers() -> tuple[Any, ...]:
    """The ``transform_response`` functions that read an answer exactly as OpenAI's Chat Completions answer."""
    from litellm.llms.openai.chat.gpt_transformation import OpenAIGPTConfig
    from litellm.llms.openai_like.chat.transformation import OpenAILikeChatConfig

    return (OpenAIGPTConfig.transform_response, OpenAILikeChatConfig.transform_response)


def _reads_answers_as_openai(config: Any) -> bool:
    reader = getattr(type(config), "transform_response", None)
    return any(reader is known for known in _openai_answer_readers())


@dataclass(frozen=True)
class WirePlan:
    """What LiteLLM says about one model string whose provider speaks OpenAI's chat wire.

    Attributes:
        provider: LiteLLM's provider name (``"together_ai"``).
        wire_model: The model name LiteLLM sends (the prefix removed).
        api_base: The base URL: the configured one, else LiteLLM's default for the provider.
        config: LiteLLM's chat config for the provider (request shaping, URL, headers).
    """

    provider: str
    wire_model: str
    api_base: str
    config: Any


def plan_wire(model: str, provider: str, *, api_base: str | None) -> WirePlan | None:
    """The OpenAI-wire plan for ``model``, or None when LiteLLM reads its answers, signs or authenticates its own way.

    Nothing is sent: LiteLLM's provider table and configs are read offline.
    """
    litellm = _litellm()
    if provider in _INTERACTIVE_LOGIN:
        return None
    if provider not in litellm.openai_compatible_providers and provider not in _HANDLER_OPENAI_WIRE:
        return None
    try:
        wire_model, resolved, _key, default_base = litellm.get_llm_provider(model, api_base=api_base)
        from litellm.types.utils import LlmProviders
        from litellm.utils import ProviderConfigManager

        config = ProviderConfigManager.get_provider_chat_config(wire_model, LlmProviders(resolved))
    except Exception:  # a provider LiteLLM cannot describe offline keeps LiteLLM's own route and its errors
        return None
    base = api_base or default_base
    if resolved != provider or config is None or not base or not _reads_answers_as_openai(config):
        return None
    return WirePlan(provider=provider, wire_model=str(wire_model), api_base=str(base), config=config)


def wire_api_key(plan: WirePlan, model: str, configured: str | None) -> str:
    """The key for the wire: the configured one, else the one LiteLLM finds in the environment for the provider.

    Raises:
        MissingAPIKeyError: Naming the variables LiteLLM reads for the provider (never a value).
    """
    if configured:
        return configured
    litellm = _litellm()
    try:
        _model, _provider, found, _base = litellm.get_llm_provider(model, api_base=plan.api_base)
    except Exception:
        found = None
    if found:
        return str(found)
    try:
        variables = tuple(str(name) for name in litellm.validate_environment(model).get("missing_keys", ()))
    except Exception:
        variables = ()
    named = " or ".join(("SHAREDLM_API_KEY", *variables))
    raise MissingAPIKeyError(
        f"no API key for {model!r}: set {named}, or call sharedlm.configure(api_key=...) before the first call",
        env_keys=("SHAREDLM_API_KEY", *variables), provider=plan.provider)


class RequestShaper:
    """Turns lm15's OpenAI chat request into the one LiteLLM sends the provider (body, URL, headers).

    Args:
        plan: The provider, wire model, base URL and LiteLLM config.
        api_key: The key LiteLLM's config puts in the headers.
    """

    def __init__(self, plan: WirePlan, api_key: str) -> None:
        self.plan = plan
        self._api_key = api_key
        self._get_optional_params = _litellm().get_optional_params
        # What LiteLLM's configs read of its own call parameters (which provider serves the model, at which base).
        self._litellm_params = {"custom_llm_provider": plan.provider, "api_base": plan.api_base}
        self._mapped: dict[str, dict[str, Any]] = {}

    def __repr__(self) -> str:
        return f"RequestShaper(provider={self.plan.provider!r}, model={self.plan.wire_model!r})"

    def _optional_params(self, data: dict[str, Any]) -> dict[str, Any]:
        """LiteLLM's provider parameters for the OpenAI parameters ``data`` (a fresh dict; ``stream`` left out).

        ``get_optional_params`` depends on the parameters, the model, the provider and LiteLLM's drop settings, not
        on the messages, and costs more CPU than the rest of a call's shaping (it looks the model up in LiteLLM's
        tables several times): the few parameter sets a program sends are mapped once each.
        """
        litellm = _litellm()
        try:
            key = json.dumps([data, litellm.drop_params, getattr(litellm, "modify_params", None)], sort_keys=True)
        except (TypeError, ValueError):  # a value JSON cannot spell is mapped every time
            key = None
        known = self._mapped.get(key) if key is not None else None
        if known is None:
            known = self._get_optional_params(model=self.plan.wire_model, custom_llm_provider=self.plan.provider,
                                              **data)
            known.pop("stream", None)
            if key is not None:
                if len(self._mapped) >= _MAPPED_PARAMETER_SETS:
                    self._mapped.clear()
                self._mapped[key] = known
        return copy.deepcopy(known)

    def _litellm_shape(self, messages: Any, data: dict[str, Any], stream: bool,
                       stream_options: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """The URL, headers and body LiteLLM's provider config makes of the OpenAI parameters ``data``."""
        plan, config, key, params = self.plan, self.plan.config, self._api_key, self._litellm_params
        optional = self._optional_params(data)
        extra_body = optional.pop("extra_body", None)
        headers = config.validate_environment(headers={}, model=plan.wire_model, messages=messages,
                                              optional_params=optional, litellm_params=params, api_key=key,
                                              api_base=plan.api_base)
        attribution = getattr(config, "get_attribution_headers", None)  # a provider's source tag, as LiteLLM sends it
        if attribution is not None:
            for name, value in (attribution() or {}).items():
                headers.setdefault(name, value)
        url = config.get_complete_url(api_base=plan.api_base, api_key=key, model=plan.wire_model,
                                      optional_params=optional, litellm_params=params, stream=stream)
        body = config.transform_request(model=plan.wire_model, messages=messages, optional_params=optional,
                                        litellm_params=params, headers=headers)
        if extra_body:
            body = {**body, **config.transform_extra_body(extra_body=extra_body, request=body,
                                                          model=plan.wire_model, litellm_params=params)}
        if stream:  # as LiteLLM's handler: a call that does not stream says nothing of it
            body["stream"] = True
            if stream_options is not None:
                body["stream_options"] = stream_options
        return url, headers, body

    def shape(self, request: Any) -> Any:
        """The transport request LiteLLM would send for lm15's ``request`` (an OpenAI chat POST)."""
        data = json.loads(request.body)
        data.pop("model", None)
        messages = data.pop("messages")
        stream = bool(data.pop("stream", False))
        stream_options = data.pop("stream_options", None)
        extra = _EXTRA_ARGUMENTS.get()
        if extra:
            data.update(extra)
        try:
            url, headers, sent = self._litellm_shape(messages, data, stream, stream_options)
        except Exception as exc:  # LiteLLM refused the parameters (UnsupportedParamsError, 400): nothing was sent
            detail = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", self._api_key)
            raise RequestRejectedError(
                f"LiteLLM could not shape the request for {self.plan.provider}, so nothing was sent: "
                f"{type(exc).__name__}: {detail}", provider=self.plan.provider) from None
        replaced = {str(name).lower() for name in headers}
        merged = [(name, value) for name, value in request.headers if name.lower() not in replaced]
        merged.extend((str(name), str(value)) for name, value in headers.items())
        return replace(request, url=url, headers=merged, body=json.dumps(sent).encode())


class ShapedTransport:
    """An lm15 transport that sends every request as LiteLLM shapes it, over the pool's transport."""

    def __init__(self, inner: PooledTransport, shaper: RequestShaper) -> None:
        self.inner = inner
        self.shaper = shaper

    def __repr__(self) -> str:
        return f"ShapedTransport({self.shaper!r}, inner={self.inner!r})"

    def stream(self, request: Any) -> Any:
        return self.inner.stream(self.shaper.shape(request))


class OpenAIWireRoute:
    """lm15's OpenAI chat adapter for a LiteLLM provider, its requests shaped by LiteLLM, carried by the pool.

    Args:
        model: The DSPy model string (``"together_ai/meta-llama/..."``).
        plan: What LiteLLM says about it (:func:`plan_wire`).
        transport: The process's pooled transport.
        api_key: The configured key, or None for the one LiteLLM finds in the environment.
    """

    def __init__(self, *, model: str, plan: WirePlan, transport: PooledTransport, api_key: str | None) -> None:
        self.model = model
        self.plan = plan
        self.transport = transport
        self._api_key = api_key
        self._lm: Any = None

    def __repr__(self) -> str:
        return (f"OpenAIWireRoute(model={self.model!r}, provider={self.plan.provider!r}, "
                f"built={self._lm is not None})")

    def _provider_lm(self) -> Any:
        if self._lm is None:
            key = wire_api_key(self.plan, self.model, self._api_key)
            provider_id = "sharedlm-litellm-" + self.plan.provider.replace("_", "-")
            access = lm15.AccessPolicy(provider=provider_id, env_keys=(), base_url=self.plan.api_base)
            definition = lm15.ProviderDefinition.chat(access, compat=lm15.OpenAIChatCompat())
            shaped = ShapedTransport(self.transport, RequestShaper(self.plan, key))
            router = lm15.AsyncLMRouter(lm15.RouterConfig(
                providers=(definition,), env={}, transport=shaped, api_keys={provider_id: key},
                base_urls={provider_id: self.plan.api_base}))
            self._lm = router.lm(f"{provider_id}:{self.plan.wire_model}")
        return self._lm

    @staticmethod
    def _extra(request: lm15.Request) -> Mapping[str, Any] | None:
        return {"top_k": request.config.top_k} if request.config.top_k is not None else None

    async def complete(self, request: lm15.Request) -> lm15.Response:
        """One attempt over the pool; lm15 raises the provider's error with its status and retry hint."""
        provider_lm = self._provider_lm()
        token = _EXTRA_ARGUMENTS.set(self._extra(request))
        try:
            response: lm15.Response = await provider_lm.complete(replace(request, model=self.plan.wire_model))
        finally:
            _EXTRA_ARGUMENTS.reset(token)
        return response

    async def stream(self, request: lm15.Request) -> AsyncGenerator[Any, None]:
        """One streamed attempt, as lm15 events."""
        provider_lm = self._provider_lm()
        events = provider_lm.stream(replace(request, model=self.plan.wire_model))
        try:
            # The request is shaped and sent while the first event is awaited; the extra arguments are set for
            # that await only, so nothing leaks into the consumer's context between events.
            token = _EXTRA_ARGUMENTS.set(self._extra(request))
            try:
                first = await anext(events)
            except StopAsyncIteration:
                return
            finally:
                _EXTRA_ARGUMENTS.reset(token)
            yield first
            async for event in events:
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()


__all__ = ["OpenAIWireRoute", "RequestShaper", "ShapedTransport", "WirePlan", "plan_wire", "wire_api_key"]
