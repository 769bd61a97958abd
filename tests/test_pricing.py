"""Pricing: bundled prices match plain DSPy's, unknown is None (never 0), and --price is read strictly."""

from __future__ import annotations

import pytest
from dspy import lm15
from dspy.clients.costs import estimate_cost

from sharedlm._errors import UsageError
from sharedlm._pricing import (
    SOURCE_USER,
    ModelPrice,
    metadata_source,
    model_price,
    parse_price,
    response_cost,
    usage_cost,
)

PRICED = "openai/gpt-4o-mini"


def _response(prompt: int, completion: int, *, cached: int | None = None) -> lm15.Response:
    return lm15.Response(id="r1", model="gpt-4o-mini",
                         message=lm15.Message(role="assistant", parts=(lm15.TextPart(text="hi"),)),
                         finish_reason="stop",
                         usage=lm15.Usage(input_tokens=prompt, output_tokens=completion,
                                          total_tokens=prompt + completion, cache_read_tokens=cached))


def test_bundled_price_of_a_known_model_comes_from_dspy_metadata() -> None:
    price = model_price(PRICED)
    assert price is not None
    assert price.prompt == pytest.approx(0.15e-6)
    assert price.completion == pytest.approx(0.6e-6)
    assert price.cached_prompt == pytest.approx(0.075e-6)
    assert (price.batch_prompt, price.batch_completion) == (pytest.approx(0.075e-6), pytest.approx(0.3e-6))
    assert price.max_output_tokens == 16384
    assert "bundled model metadata" in price.source


def test_unknown_model_has_no_price_rather_than_zero() -> None:
    assert model_price("openai/sim-model") is None
    assert usage_cost(None, {"prompt_tokens": 10, "completion_tokens": 5}) is None


def test_unroutable_model_has_no_price() -> None:
    assert model_price("no-provider-model") is None


def test_cost_of_reported_usage_matches_the_reference_figure() -> None:
    price = model_price(PRICED)
    assert price is not None
    assert price.cost(126, 19) == pytest.approx(3.03e-05)


def test_response_cost_equals_plain_dspy_estimate() -> None:
    price = model_price(PRICED)
    response = _response(1234, 321, cached=200)
    plain, details = estimate_cost(response, provider="openai-chat", requested_model="gpt-4o-mini")
    ours = response_cost(price, response, provider="openai-chat", wire_model="gpt-4o-mini")
    assert details["kind"] == "estimate"
    assert ours == pytest.approx(plain, rel=1e-12)


def test_cached_prompt_tokens_are_priced_at_the_cache_rate() -> None:
    price = ModelPrice(model="m", prompt=2e-6, completion=8e-6, cached_prompt=1e-6)
    assert price.cost(100, 10, cached_tokens=40) == pytest.approx(60 * 2e-6 + 40 * 1e-6 + 10 * 8e-6)


def test_batch_prices_apply_only_to_batch_calls() -> None:
    price = ModelPrice(model="m", prompt=2e-6, completion=8e-6, batch_prompt=1e-6, batch_completion=4e-6)
    assert price.cost(100, 10, batch=True) == pytest.approx(100 * 1e-6 + 10 * 4e-6)
    assert price.cost(100, 10) == pytest.approx(100 * 2e-6 + 10 * 8e-6)


def test_usage_cost_reads_cached_tokens_from_prompt_details() -> None:
    price = ModelPrice(model="m", prompt=2e-6, completion=8e-6, cached_prompt=1e-6)
    usage = {"prompt_tokens": 100, "completion_tokens": 10, "prompt_tokens_details": {"cached_tokens": 40}}
    assert usage_cost(price, usage) == pytest.approx(price.cost(100, 10, cached_tokens=40))


def test_user_price_is_read_per_million_tokens() -> None:
    price = parse_price("prompt=0.15, completion=0.6,cached=0.075", model="openai/sim-model")
    assert (price.prompt, price.completion, price.cached_prompt) == (
        pytest.approx(0.15e-6), pytest.approx(0.6e-6), pytest.approx(0.075e-6))
    assert price.source == SOURCE_USER


def test_user_price_prices_a_response_from_its_usage() -> None:
    price = parse_price("prompt=1,completion=2", model="openai/sim-model")
    cost = response_cost(price, _response(1000, 500), provider="openai-chat", wire_model="sim-model")
    assert cost == pytest.approx(1000 * 1e-6 + 500 * 2e-6)


@pytest.mark.parametrize("text", ["prompt=0.15", "completion=0.6", "prompt=x,completion=1", "prompt=-1,completion=1",
                                  "prompt=1,completion=1,bogus=2", "prompt=1,prompt=2,completion=1", "0.15"])
def test_malformed_user_price_is_a_usage_error_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match="--price"):
        parse_price(text, model="openai/sim-model")


def test_metadata_source_names_the_bundled_snapshot() -> None:
    assert metadata_source().startswith("DSPy's bundled model metadata (LiteLLM ")


def test_describe_shows_prices_per_million_and_their_source() -> None:
    price = ModelPrice(model="m", prompt=0.15e-6, completion=0.6e-6, source=SOURCE_USER)
    assert price.describe() == "m: $0.15/M prompt, $0.6/M completion (from --price)"


@pytest.mark.parametrize(("prompt", "completion"), [(126, 19), (1, 0), (0, 7), (98_765, 4_321), (3, 3)])
def test_plain_usage_costs_exactly_what_dspy_estimates(prompt: int, completion: int) -> None:
    price = model_price(PRICED)
    response = _response(prompt, completion)
    plain, _details = estimate_cost(response, provider="openai-chat", requested_model="gpt-4o-mini")
    assert response_cost(price, response, provider="openai-chat", wire_model="gpt-4o-mini") == plain


def test_model_with_long_context_prices_is_marked_tiered() -> None:
    price = model_price("gemini/gemini-2.5-pro")  # prices prompts above 200k tokens apart
    assert price is not None
    assert price.tiered
    assert not model_price(PRICED).tiered  # type: ignore[union-attr]


def test_a_model_only_litellm_reaches_is_priced_from_the_same_metadata() -> None:
    from dspy.clients.model_metadata import model_info

    price = model_price("mistral/mistral-large-latest")
    info = model_info("mistral", "mistral-large-latest")
    assert price is not None
    assert (price.prompt, price.completion) == (info["input_cost_per_token"], info["output_cost_per_token"])


def test_a_declared_provider_is_priced_from_its_metadata_namespaces() -> None:
    access = lm15.AccessPolicy(provider="pricedecl", env_keys=("PRICEDECL_API_KEY",), base_url="http://127.0.0.1:9/v1")
    definition = lm15.ProviderDefinition.chat(access, compat=lm15.OpenAIChatCompat())
    try:
        lm15.register_provider(definition, metadata_namespaces=("fireworks_ai",), replace=True)
        priced = model_price("pricedecl/accounts/fireworks/models/llama-v3p1-8b-instruct")
        lm15.register_provider(definition, replace=True)
        unpriced = model_price("pricedecl/accounts/fireworks/models/llama-v3p1-8b-instruct")
    finally:
        lm15.unregister_provider("pricedecl")
    assert priced is not None
    assert priced.prompt > 0
    assert unpriced is None  # no namespace declared: DSPy prices nothing for it either
