"""Which way a DSPy model string reaches its provider: natively through lm15, or through LiteLLM.

Plain DSPy 3.4 sends a model string natively when lm15 has a door for its prefix (``openai/``, ``gemini/``,
``anthropic/``, ...) or when the provider was declared with ``dspy.lm15.register_provider``, and through LiteLLM
otherwise (``vertex_ai/``, ``bedrock/``, ``together_ai/``, ``mistral/``, ...). sharedlm takes the same two
routes, both under its one pool and flow control; this module only decides which, offline (no request is sent).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Literal

from dspy import lm15

from sharedlm._errors import ConfigurationError

RouteKind = Literal["native", "litellm"]


def registered_definitions() -> tuple[Any, ...]:
    """The lm15 definitions of the providers declared with ``dspy.lm15.register_provider``, in order."""
    return tuple(binding.definition for binding in lm15.registered_providers())


def registered_definition(prefix: str) -> Any | None:
    """The declared provider a model-string prefix names (its id or an alias), or None."""
    spellings = {prefix, prefix.replace("_", "-")}
    for definition in registered_definitions():
        if spellings & set(definition.spellings):
            return definition
    return None


def native_router_config(**options: Any) -> lm15.RouterConfig:
    """An lm15 router configuration that knows the declared providers; ``options`` go to ``RouterConfig``."""
    return lm15.RouterConfig(providers=registered_definitions(), **options)


@dataclass(frozen=True)
class Route:
    """How one model string is sent.

    Attributes:
        kind: ``"native"`` (lm15 over sharedlm's transport) or ``"litellm"`` (``litellm.acompletion`` over the
            same pool's HTTP session).
        model: The DSPy model string.
        provider: lm15's provider id (native) or LiteLLM's provider name (litellm), for messages and stats.
        resolution: lm15's resolution of the model string on the native route, else None.
    """

    kind: RouteKind
    model: str
    provider: str
    resolution: lm15.Resolution | None = None


def litellm_provider(model: str) -> str | None:
    """The LiteLLM provider a model string names, or None when LiteLLM does not know it either (offline)."""
    # Before LiteLLM is first imported: its price map must come from the bundled copy, never the network.
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    import litellm
    from litellm.types.utils import LlmProviders

    prefix = model.partition("/")[0]
    if prefix in LlmProviders._value2member_map_:
        # A prefix that names a LiteLLM provider is that provider. LiteLLM's own resolution would also look for the
        # provider's key, and for some (github_copilot, chatgpt) that starts a login over the network.
        return prefix
    # For a model it does not know, LiteLLM prints a coloured "Provider List" banner to stdout, which is the data
    # channel of sharedlm's commands (a dry run's report); the question is ours, so the banner is kept quiet.
    quiet = litellm.suppress_debug_info
    litellm.suppress_debug_info = True
    try:
        _model, provider, _key, _base = litellm.get_llm_provider(model)
    except Exception:  # LiteLLM raises its BadRequestError for an unknown prefix
        return None
    finally:
        litellm.suppress_debug_info = quiet
    return str(provider) if provider else None


def choose_route(model: str) -> Route:
    """The route ``model`` takes: lm15 when it can carry it (declared providers included), else LiteLLM.

    Raises:
        ConfigurationError: When neither lm15 nor LiteLLM knows the model string's provider.
    """
    try:
        resolution = lm15.AsyncLMRouter(native_router_config(env={})).resolve_openai_chat(model)
    except lm15.LM15Error as exc:
        refusal = exc.message.splitlines()[0]
    else:
        return Route(kind="native", model=model, provider=resolution.provider, resolution=resolution)
    if "/" in model:
        provider = litellm_provider(model)
        if provider is not None:
            return Route(kind="litellm", model=model, provider=provider)
    raise ConfigurationError(
        f"model {model!r} cannot be routed by DSPy's native engine ({refusal}) nor by LiteLLM. Use a provider "
        "prefix DSPy knows, such as 'openai/', 'gemini/', 'anthropic/', 'vertex_ai/', 'bedrock/' or 'together_ai/'; "
        "declare other OpenAI-compatible servers with dspy.lm15.register_provider, or use 'openai/<model>' with "
        "api_base"
    )


__all__ = ["Route", "RouteKind", "choose_route", "litellm_provider", "native_router_config", "registered_definition",
           "registered_definitions"]
