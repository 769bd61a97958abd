"""What one model's tokens cost: prices from DSPy's bundled model metadata, or a price the user supplies.

Prices are USD per token, read from the same place a plain ``dspy.LM`` reads them
(``dspy.clients.model_metadata``, a snapshot of LiteLLM's price map bundled with DSPy), so a call priced here
costs what plain DSPy would put in ``lm.history[i]["cost"]`` for the same usage. The metadata is never fetched
from the network: before its first read ``LITELLM_LOCAL_MODEL_COST_MAP`` is set to ``true`` unless the user set
it, which makes DSPy use its bundled snapshot.

A model the metadata has no price for is *unknown*: :func:`model_price` returns None and costs are None, never
0. ``--price prompt=0.15,completion=0.6`` (USD per million tokens, :func:`parse_price`) supplies one; the runner
reads which model a ``--price`` is for (:func:`sharedlm.runner._cost.resolve_prices`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dspy import lm15

from sharedlm._errors import UsageError

PER_MILLION = 1_000_000
# What --price accepts, each in USD per million tokens.
PRICE_FIELDS = ("prompt", "completion", "cached", "batch_prompt", "batch_completion")
SOURCE_USER = "--price"
_LOCAL_MAP_VARIABLE = "LITELLM_LOCAL_MODEL_COST_MAP"


@dataclass(frozen=True, kw_only=True)
class ModelPrice:
    """The price of one model's tokens, in USD per token.

    Args:
        model: The model string priced (``openai/gpt-4o-mini``).
        prompt: One prompt (input) token.
        completion: One completion (output) token.
        cached_prompt: One prompt token read from the provider's prompt cache, or None to price it as ``prompt``.
        batch_prompt: One prompt token sent through the provider's batch API, or None when unknown.
        batch_completion: One completion token through the batch API, or None when unknown.
        max_output_tokens: The most tokens the model may answer, per the metadata, or None.
        tiered: The metadata prices long prompts or service tiers apart, so only DSPy's own estimate prices a call.
        source: Where the price came from, for people: the metadata snapshot and its entry, or ``--price``.
    """

    model: str
    prompt: float
    completion: float
    cached_prompt: float | None = None
    batch_prompt: float | None = None
    batch_completion: float | None = None
    max_output_tokens: int | None = None
    tiered: bool = False
    source: str = SOURCE_USER

    def cost(self, prompt_tokens: int, completion_tokens: int, *, cached_tokens: int = 0,
             batch: bool = False) -> float:
        """USD for ``prompt_tokens`` in and ``completion_tokens`` out.

        Args:
            prompt_tokens: Prompt tokens, the cached ones included (as OpenAI-style usage reports them).
            completion_tokens: Completion tokens.
            cached_tokens: How many of the prompt tokens were read from the prompt cache.
            batch: Price at the batch API's rates (falls back to the ordinary rates where the metadata has none).
        """
        prompt_rate = self.batch_prompt if batch and self.batch_prompt is not None else self.prompt
        completion_rate = self.batch_completion if batch and self.batch_completion is not None else self.completion
        cached = min(max(cached_tokens, 0), max(prompt_tokens, 0))
        cached_rate = self.cached_prompt if self.cached_prompt is not None else prompt_rate
        return (prompt_tokens - cached) * prompt_rate + cached * cached_rate + completion_tokens * completion_rate

    def describe(self) -> str:
        """The price per million tokens and where it came from, in one line."""
        parts = [f"${self.prompt * PER_MILLION:g}/M prompt", f"${self.completion * PER_MILLION:g}/M completion"]
        if self.cached_prompt is not None:
            parts.append(f"${self.cached_prompt * PER_MILLION:g}/M cached prompt")
        return f"{self.model}: {', '.join(parts)} (from {self.source})"


def use_bundled_metadata() -> None:
    """Make DSPy read its bundled price snapshot instead of fetching LiteLLM's map (unless the user chose)."""
    os.environ.setdefault(_LOCAL_MAP_VARIABLE, "true")


def metadata_source() -> str:
    """Where DSPy's model metadata came from, e.g. ``DSPy's bundled model metadata (LiteLLM 1.105.0 snapshot)``."""
    use_bundled_metadata()
    from dspy.clients.model_metadata import source_info

    info = source_info()
    where = "bundled" if info.get("source") == "local" else "downloaded"
    version = info.get("snapshot_version")
    return f"DSPy's {where} model metadata" + (f" (LiteLLM {version} price snapshot)" if version else "")


def resolve_route(model: str) -> tuple[str, str] | None:
    """The provider and wire model a DSPy model string is priced under, or None when nothing routes it.

    Natively routed models give lm15's provider and model (``openai-chat``, ``gpt-4o-mini``), providers declared
    with ``dspy.lm15.register_provider`` included; models only LiteLLM reaches give LiteLLM's provider and the rest
    of the string (``together_ai``, ``meta-llama/Llama-3.3-70B-Instruct-Turbo``), which is how DSPy's bundled
    metadata (a snapshot of LiteLLM's price map) names them.
    """
    from sharedlm._errors import ConfigurationError
    from sharedlm._providers import choose_route

    try:
        route = choose_route(model)
    except ConfigurationError:
        return None
    if route.resolution is not None:
        return route.provider, route.resolution.model
    return route.provider, model.partition("/")[2]


def metadata_namespaces(provider: str) -> tuple[str, ...] | None:
    """The metadata namespaces a provider declared with ``register_provider`` may be priced from; None when the
    provider is not a declared one (its own name is its namespace)."""
    binding = next((b for b in lm15.registered_providers() if b.id == provider), None)
    return None if binding is None else tuple(binding.metadata_namespaces)


def _rate(info: Mapping[str, Any], key: str) -> float | None:
    value = info.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def model_price(model: str) -> ModelPrice | None:
    """The bundled price of ``model``, or None when the metadata has none (unknown, never 0).

    Args:
        model: A DSPy model string such as ``openai/gpt-4o-mini``.
    """
    route = resolve_route(model)
    if route is None:
        return None
    use_bundled_metadata()
    from dspy.clients.model_metadata import model_info

    provider, wire_model = route
    namespaces = metadata_namespaces(provider)
    if namespaces is not None and not namespaces:
        return None  # declared without metadata namespaces: DSPy prices nothing for it either
    info = model_info(provider, wire_model, namespaces=namespaces)
    prompt, completion = _rate(info, "input_cost_per_token"), _rate(info, "output_cost_per_token")
    if prompt is None or completion is None:
        return None
    max_output = info.get("max_output_tokens")
    return ModelPrice(
        model=model, prompt=prompt, completion=completion,
        cached_prompt=_rate(info, "cache_read_input_token_cost"),
        batch_prompt=_rate(info, "input_cost_per_token_batches"),
        batch_completion=_rate(info, "output_cost_per_token_batches"),
        max_output_tokens=max_output if isinstance(max_output, int) and max_output > 0 else None,
        tiered=any("_above_" in key for key in info),
        source=metadata_source(),
    )


def parse_price(text: str, *, model: str, named: bool = False) -> ModelPrice:
    """Read a ``--price`` value: ``prompt=0.15,completion=0.6[,cached=0.075]``, USD per million tokens.

    Args:
        text: The option's value (after ``MODEL=`` when the value names its model). Fields: ``prompt`` and
            ``completion`` (required), ``cached``, ``batch_prompt``, ``batch_completion``.
        model: The model the price is for.
        named: The value named ``model`` (``--price MODEL=prompt=..,completion=..``): errors name the model, and
            their example is of that form.

    Raises:
        UsageError: When a field is unknown, repeated, missing or not a finite number >= 0.
    """
    flag = f"--price for {model!r}" if named else "--price"
    spec = f"{model}=prompt=0.15,completion=0.6" if named else "prompt=0.15,completion=0.6"
    example = f"--price {spec} (USD per million tokens)"
    values: dict[str, float] = {}
    for item in text.split(","):
        name, sep, raw = item.strip().partition("=")
        name = name.strip()
        if not sep or name not in PRICE_FIELDS:
            raise UsageError(f"{flag} takes {', '.join(f'{f}=USD' for f in PRICE_FIELDS)} per million tokens; "
                             f"got {item.strip()!r} in {text!r}. Example: {example}")
        if name in values:
            raise UsageError(f"{flag} names {name} twice in {text!r}: give each field once")
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number) or number < 0:
            raise UsageError(f"{flag}: {name} must be a number of USD per million tokens >= 0, got {raw.strip()!r}")
        values[name] = number / PER_MILLION
    missing = [name for name in ("prompt", "completion") if name not in values]
    if missing:
        raise UsageError(f"{flag} needs {' and '.join(missing)}; example: {example}")
    bundled = model_price(model)
    return ModelPrice(model=model, prompt=values["prompt"], completion=values["completion"],
                      cached_prompt=values.get("cached"), batch_prompt=values.get("batch_prompt"),
                      batch_completion=values.get("batch_completion"),
                      max_output_tokens=bundled.max_output_tokens if bundled is not None else None,
                      source=SOURCE_USER)


def usage_cost(price: ModelPrice | None, usage: Mapping[str, Any], *, batch: bool = False) -> float | None:
    """The cost of one OpenAI-style usage dict (``prompt_tokens``, ``completion_tokens``, cached details), or None.

    Args:
        price: The model's price, or None when unknown.
        usage: A DSPy usage entry, as ``lm.history[i]["usage"]`` or a usage tracker holds.
        batch: Price at the batch API's rates (the call was answered from a provider batch).
    """
    if price is None:
        return None
    details = usage.get("prompt_tokens_details") or {}
    cached = details.get("cached_tokens") if isinstance(details, Mapping) else None
    return price.cost(_count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")),
                      cached_tokens=_count(cached), batch=batch)


def response_cost(price: ModelPrice | None, response: lm15.Response, *, provider: str | None, wire_model: str,
                  request: lm15.Request | None = None) -> float | None:
    """What one provider response cost, as plain DSPy prices it; None when unknown.

    The engine prices every call on its event loop, where DSPy's ``estimate_cost`` takes about 44 µs (it copies
    the model's metadata entry each time). A plain text answer whose usage has only prompt and completion tokens,
    at the standard tier of a model without long-context prices, costs ``prompt * rate + completion * rate`` in
    DSPy's formula too, so that case is computed here directly (the same floating-point sum); every other case
    goes through :func:`response_cost_details`.
    """
    cost = plain_cost(price, response, request)
    if cost is not None:
        return cost
    return response_cost_details(price, response, provider=provider, wire_model=wire_model, request=request)[0]


def plain_cost(price: ModelPrice | None, response: lm15.Response, request: lm15.Request | None) -> float | None:
    """The cost of a plain answer at a bundled price, computed as DSPy's ``estimate_cost`` computes it; None when
    the answer is not plain (see :func:`response_cost`) and only DSPy's estimate can price it.
    """
    if price is None or price.source == SOURCE_USER or price.tiered or not _plain(response, request):
        return None
    usage = response.usage
    assert usage.input_tokens is not None
    assert usage.output_tokens is not None
    # The same terms in the same order as DSPy's sum, so the float is the same.
    return sum(count * rate for count, rate in ((usage.input_tokens, price.prompt),
                                                (usage.output_tokens, price.completion)) if count)


_STANDARD_TIERS = (None, "default", "standard", "auto", "ON_DEMAND")


def _plain(response: lm15.Response, request: lm15.Request | None) -> bool:
    """Whether DSPy would price ``response`` as prompt and completion tokens only, at the standard tier."""
    usage = response.usage
    if usage.input_tokens is None or usage.output_tokens is None:
        return False
    if any((usage.cache_read_tokens, usage.cache_write_tokens, usage.reasoning_tokens, usage.input_audio_tokens,
            usage.output_audio_tokens)):
        return False
    if any(part.type != "text" for part in response.message.parts):
        return False
    raw = response.provider_data or {}
    tiers = (raw.get("service_tier"), (raw.get("usageMetadata") or {}).get("serviceTier"),
             request.config.service_tier if request is not None else None)
    if any(tier not in _STANDARD_TIERS for tier in tiers):
        return False
    return request is None or not request.tools


def response_cost_details(price: ModelPrice | None, response: lm15.Response, *, provider: str | None,
                          wire_model: str, request: lm15.Request | None = None) -> tuple[float | None, dict[str, Any]]:
    """What one provider response cost and how it was priced, in the shape of DSPy's ``cost_details``.

    A bundled price goes through DSPy's own ``estimate_cost`` (long-context tiers, reasoning and cache tokens,
    service tiers), so the figure and its details equal plain DSPy's ``lm.history[i]["cost"]`` and
    ``["cost_details"]``. A ``--price`` prices the reported prompt, cached and completion tokens.

    Args:
        price: The model's price, or None when unknown.
        response: The response, with the usage the provider reported.
        provider: The lm15 provider the call went to (``openai-chat``).
        wire_model: The model id sent on the wire (``gpt-4o-mini``).
        request: The request, when known (its service tier and tools matter to DSPy's estimate).
    """
    if price is None:
        return None, {"kind": "unknown", "reason": f"no price for {wire_model!r}: supply one with --price"}
    usage = response.usage
    if price.source != SOURCE_USER:
        from dspy.clients.costs import estimate_cost

        namespaces = metadata_namespaces(provider) if provider is not None else None
        cost, details = estimate_cost(response, provider=provider, requested_model=wire_model, request=request,
                                      namespaces=namespaces)
        return (None if cost is None else float(cost)), dict(details)
    if usage.input_tokens is None or usage.output_tokens is None:
        return None, {"kind": "unknown", "reason": "input or output usage was not reported"}
    cost = price.cost(usage.input_tokens, usage.output_tokens, cached_tokens=usage.cache_read_tokens or 0)
    return cost, {"kind": "estimate", "currency": "USD", "provider": provider, "model": wire_model,
                  "source": SOURCE_USER}


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value)


__all__ = [
    "PRICE_FIELDS",
    "SOURCE_USER",
    "ModelPrice",
    "metadata_namespaces",
    "metadata_source",
    "model_price",
    "parse_price",
    "plain_cost",
    "resolve_route",
    "response_cost",
    "response_cost_details",
    "usage_cost",
    "use_bundled_metadata",
]
