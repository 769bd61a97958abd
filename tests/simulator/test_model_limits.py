"""Limits of single models (``--model-limit``): one model is capped and 429'd while another on the same server is not.

Requests that must stay in flight use a latency far longer than any test and are abandoned at the end; budgets
use a frozen fake clock, so nothing here depends on how fast the machine is.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from _http_servers import wait_until
from sharedlm._errors import ConfigurationError
from sharedlm.simulator import ModelLimits, ModelStats, Simulator, SimulatorProcess, SimulatorSettings, SimulatorStats
from sharedlm.simulator.__main__ import main
from sharedlm.simulator._command import model_limit, register, settings_from_args

from ._helpers import chat_body

# Long enough that a request admitted during a test is still in flight when the test looks (it is abandoned).
FOREVER_S = 600.0


def _frozen_clock() -> float:
    return 1000.0


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> tuple[int, dict[str, str], Any]:
    async with http.post(url, json=body) as response:
        return response.status, dict(response.headers), await response.json(content_type=None)


def _chat(model: str, content: str = "hello") -> dict[str, Any]:
    return chat_body(content) | {"model": model}


@pytest.fixture
async def pending() -> AsyncIterator[Callable[[Awaitable[Any]], asyncio.Task[Any]]]:
    """Start requests that stay in flight; they are abandoned (cancelled) when the test ends."""
    tasks: list[asyncio.Task[Any]] = []

    def start(request: Awaitable[Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(request)
        tasks.append(task)
        return task

    yield start
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# --- settings -------------------------------------------------------------------------------------------------------


def test_settings_have_no_model_limits_by_default() -> None:
    settings = SimulatorSettings()
    assert settings.model_limits == ()
    assert settings.limits_for("sim-model") is None


def test_limits_for_finds_the_entry_of_the_named_model_only() -> None:
    entry = ModelLimits(model="model-a", max_concurrency=32)
    settings = SimulatorSettings(model_limits=(entry,))
    assert settings.limits_for("model-a") is entry
    assert settings.limits_for("model-b") is None


def test_a_model_limit_that_sets_no_limit_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"model-a.*sets no limit"):
        ModelLimits(model="model-a")


@pytest.mark.parametrize("field", ["max_concurrency", "rpm", "tpm"])
def test_a_model_limit_below_one_is_a_configuration_error_naming_the_model_and_the_limit(field: str) -> None:
    with pytest.raises(ConfigurationError, match=f"model_limits\\['model-a'\\].{field}"):
        ModelLimits(model="model-a", **{field: 0})


def test_a_model_limit_without_a_name_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="model name"):
        ModelLimits(model=" ", rpm=1)


def test_a_model_named_twice_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="'model-a' twice"):
        SimulatorSettings(model_limits=(ModelLimits(model="model-a", rpm=1), ModelLimits(model="model-a", tpm=9)))


def test_model_limits_must_be_model_limits_objects() -> None:
    with pytest.raises(ConfigurationError, match="model_limits must be a tuple of ModelLimits"):
        SimulatorSettings(model_limits=({"model": "model-a"},))  # type: ignore[arg-type]


def test_a_list_of_model_limits_is_kept_as_a_tuple_so_settings_stay_hashable() -> None:
    settings = SimulatorSettings(model_limits=[ModelLimits(model="model-a", rpm=1)])  # type: ignore[arg-type]
    assert settings.model_limits == (ModelLimits(model="model-a", rpm=1),)
    assert hash(settings.model_limits)


def test_the_vllm_personality_refuses_model_limits() -> None:
    with pytest.raises(ConfigurationError, match=r"vllm.*model_limits"):
        SimulatorSettings(personality="vllm", model_limits=(ModelLimits(model="model-a", max_concurrency=2),))


def test_model_limits_survive_the_command_line_round_trip() -> None:
    original = SimulatorSettings(max_concurrency=64, model_limits=(
        ModelLimits(model="model-a", max_concurrency=32, rpm=600, tpm=100_000),
        ModelLimits(model="anthropic.claude-3-haiku-20240307-v1:0", tpm=5000)))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    assert settings_from_args(parser.parse_args(["simulate", *original.command_args()])) == original


# --- command line ---------------------------------------------------------------------------------------------------


def test_model_limit_option_reads_the_name_up_to_the_last_colon() -> None:
    assert model_limit("anthropic.claude-v1:0:max-concurrency=3,rpm=60") == ModelLimits(
        model="anthropic.claude-v1:0", max_concurrency=3, rpm=60)


@pytest.mark.parametrize(("value", "named"), [
    ("model-a", "must be MODEL:LIMIT=N"),
    (":rpm=3", "must be MODEL:LIMIT=N"),
    ("model-a:", "'' in 'model-a:' is not LIMIT=N"),
    ("model-a:rpm=3,burst=4", "'burst=4' in 'model-a:rpm=3,burst=4' is not LIMIT=N"),
    ("model-a:rpm", "'rpm' in 'model-a:rpm' is not LIMIT=N"),
    ("model-a:rpm=0", "rpm in 'model-a:rpm=0' must be a whole number >= 1"),
    ("model-a:tpm=lots", "tpm in 'model-a:tpm=lots' must be a whole number >= 1"),
    ("model-a:rpm=3,rpm=4", "rpm is given twice"),
])
def test_a_bad_model_limit_is_a_usage_error_naming_the_bad_part(value: str, named: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--model-limit", value])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --model-limit" in err
    assert named in err


def test_the_same_model_given_twice_is_a_usage_error_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--model-limit", "model-a:rpm=3", "--model-limit", "model-a:tpm=9"]) == 2
    assert "--model-limit names the model 'model-a' twice" in capsys.readouterr().err


def test_help_lists_the_model_limit_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "--model-limit" in capsys.readouterr().out


# --- stats ----------------------------------------------------------------------------------------------------------


def test_per_model_stats_survive_json_and_from_dict() -> None:
    stats = SimulatorStats(requests=3, models={"model-a": ModelStats(
        requests=3, served=2, peak_in_flight=2, rate_limited=1,
        rate_limited_by={"model_concurrency": 1, "model_rpm": 0, "model_tpm": 0, "concurrency": 0, "rpm": 0,
                         "tpm": 0}, prompt_tokens=5, completion_tokens=7)})
    assert SimulatorStats.from_dict(json.loads(json.dumps(stats.as_dict()))) == stats


def test_stats_without_a_models_entry_read_as_no_models() -> None:
    data = SimulatorStats().as_dict()
    del data["models"]
    assert SimulatorStats.from_dict(data).models == {}


def test_a_model_no_request_named_reads_as_all_zeros() -> None:
    assert SimulatorStats().model("model-z") == ModelStats()


# --- the server -----------------------------------------------------------------------------------------------------


async def test_a_models_concurrency_cap_429s_that_model_and_leaves_another_alone(
        http: aiohttp.ClientSession, pending: Callable[[Awaitable[Any]], asyncio.Task[Any]]) -> None:
    settings = SimulatorSettings(latency=FOREVER_S, model_limits=(ModelLimits(model="model-a", max_concurrency=2),))
    async with Simulator(settings) as sim:
        url = f"{sim.base_url}/chat/completions"
        for i in range(2):
            pending(_post(http, url, _chat("model-a", str(i))))
        for i in range(4):
            pending(_post(http, url, _chat("model-b", str(i))))
        await wait_until(lambda: sim.stats().in_flight == 6)
        status, headers, body = await _post(http, url, _chat("model-a", "third"))
        assert status == 429
        assert "model-a" in body["error"]["message"]
        assert int(headers["retry-after-ms"]) > 1000  # the slots free when the long requests end
        a, b = sim.stats().model("model-a"), sim.stats().model("model-b")
        assert (a.peak_in_flight, a.rate_limited, a.rate_limited_by["model_concurrency"]) == (2, 1, 1)
        assert (b.peak_in_flight, b.rate_limited) == (4, 0)
        assert sim.stats().rate_limited_by["concurrency"] == 1


async def test_a_models_slot_frees_when_its_client_abandons_the_request(
        http: aiohttp.ClientSession, pending: Callable[[Awaitable[Any]], asyncio.Task[Any]]) -> None:
    settings = SimulatorSettings(latency=FOREVER_S, model_limits=(ModelLimits(model="model-a", max_concurrency=1),))
    async with Simulator(settings) as sim:
        url = f"{sim.base_url}/chat/completions"
        first = pending(_post(http, url, _chat("model-a")))
        await wait_until(lambda: sim.stats().model("model-a").in_flight == 1)
        first.cancel()
        await wait_until(lambda: sim.stats().model("model-a").in_flight == 0)
        pending(_post(http, url, _chat("model-a", "again")))
        await wait_until(lambda: sim.stats().model("model-a").in_flight == 1)
        assert sim.stats().model("model-a").rate_limited == 0


async def test_the_server_wide_cap_still_applies_to_a_model_with_limits_of_its_own(
        http: aiohttp.ClientSession, pending: Callable[[Awaitable[Any]], asyncio.Task[Any]]) -> None:
    settings = SimulatorSettings(latency=FOREVER_S, max_concurrency=2,
                                 model_limits=(ModelLimits(model="model-a", max_concurrency=10),))
    async with Simulator(settings) as sim:
        url = f"{sim.base_url}/chat/completions"
        for i in range(2):
            pending(_post(http, url, _chat("model-b", str(i))))
        await wait_until(lambda: sim.stats().in_flight == 2)
        assert (await _post(http, url, _chat("model-a")))[0] == 429
        a = sim.stats().model("model-a")
        assert (a.rate_limited_by["concurrency"], a.rate_limited_by["model_concurrency"]) == (1, 0)


async def test_a_models_request_budget_429s_only_that_model(http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(model_limits=(ModelLimits(model="model-a", rpm=2),))
    async with Simulator(settings, clock=_frozen_clock) as sim:
        url = f"{sim.base_url}/chat/completions"
        assert [(await _post(http, url, _chat("model-a")))[0] for _ in range(3)] == [200, 200, 429]
        assert [(await _post(http, url, _chat("model-b")))[0] for _ in range(5)] == [200] * 5
        stats = sim.stats()
        assert (stats.model("model-a").served, stats.model("model-a").rate_limited_by["model_rpm"]) == (2, 1)
        assert (stats.model("model-b").served, stats.model("model-b").rate_limited) == (5, 0)


async def test_a_models_429_from_the_default_personality_carries_the_exact_wait(http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(model_limits=(ModelLimits(model="model-a", rpm=1),))
    async with Simulator(settings, clock=_frozen_clock) as sim:
        url = f"{sim.base_url}/chat/completions"
        await _post(http, url, _chat("model-a"))
        status, headers, body = await _post(http, url, _chat("model-a"))
        assert status == 429
        assert headers["retry-after-ms"] == "60000"
        assert body["error"]["type"] == "requests"


async def test_a_models_429_from_the_openai_personality_reports_that_models_budget(
        http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(personality="openai", rpm=1000,
                                 model_limits=(ModelLimits(model="model-a", rpm=1),))
    async with Simulator(settings, clock=_frozen_clock) as sim:
        url = f"{sim.base_url}/chat/completions"
        status, headers, _ = await _post(http, url, _chat("model-a"))
        assert (status, headers["x-ratelimit-limit-requests"]) == (200, "1")
        status, headers, body = await _post(http, url, _chat("model-a"))
        assert status == 429
        assert "Retry-After" not in headers
        assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]) == ("1", "0")
        assert "Please try again in" in body["error"]["message"]
        status, headers, _ = await _post(http, url, _chat("model-b"))
        assert (status, headers["x-ratelimit-limit-requests"]) == (200, "1000")


async def test_a_gemini_models_name_is_its_path_segment(http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(personality="gemini", model_limits=(ModelLimits(model="gemini-2.5-flash", rpm=1),))
    async with Simulator(settings, clock=_frozen_clock) as sim:
        body = {"contents": [{"parts": [{"text": "hi"}]}]}
        url = f"{sim.gemini_base_url}/models/gemini-2.5-flash:generateContent"
        assert (await _post(http, url, body))[0] == 200
        status, _, data = await _post(http, url, body)
        assert (status, data["error"]["status"]) == (429, "RESOURCE_EXHAUSTED")
        assert (await _post(http, f"{sim.gemini_base_url}/models/gemini-2.5-pro:generateContent", body))[0] == 200
        assert sim.stats().model("gemini-2.5-flash").rate_limited == 1
        assert sim.stats().model("gemini-2.5-pro").rate_limited == 0


async def test_an_anthropic_models_name_is_the_bodys_model(http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(personality="anthropic", model_limits=(ModelLimits(model="claude-a", rpm=1),))
    async with Simulator(settings, clock=_frozen_clock) as sim:
        url = f"{sim.root_url}/v1/messages"
        body = {"model": "claude-a", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}
        assert (await _post(http, url, body))[0] == 200
        status, headers, _ = await _post(http, url, body)
        assert (status, headers["Retry-After"]) == (429, "60")  # whole seconds until the bucket holds one request
        assert headers["anthropic-ratelimit-requests-limit"] == "1"
        assert (await _post(http, url, body | {"model": "claude-b"}))[0] == 200


async def test_a_request_larger_than_a_models_whole_token_budget_is_400_naming_the_option(
        http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(model_limits=(ModelLimits(model="model-a", tpm=10),))
    async with Simulator(settings) as sim:
        url = f"{sim.base_url}/chat/completions"
        status, _, body = await _post(http, url, _chat("model-a", "x" * 400))
        assert (status, body["error"]["code"]) == (400, "request_too_large")
        assert "--model-limit" in body["error"]["message"]
        assert (await _post(http, url, _chat("model-b", "x" * 400)))[0] == 200


async def test_sim_stats_reports_each_models_peak_served_and_429s(http: aiohttp.ClientSession) -> None:
    settings = SimulatorSettings(model_limits=(ModelLimits(model="model-a", rpm=1),))
    async with Simulator(settings, clock=_frozen_clock) as sim:
        url = f"{sim.base_url}/chat/completions"
        for model in ("model-a", "model-a", "model-b"):
            await _post(http, url, _chat(model))
        async with http.get(f"{sim.root_url}/sim/stats") as response:
            models = (await response.json())["models"]
        assert {name: (m["served"], m["rate_limited"], m["peak_in_flight"]) for name, m in models.items()} == {
            "model-a": (1, 1, 1), "model-b": (1, 0, 1)}


async def test_reset_zeroes_the_per_model_counters(http: aiohttp.ClientSession) -> None:
    async with Simulator() as sim:
        await _post(http, f"{sim.base_url}/chat/completions", _chat("model-a"))
        sim.reset()
        assert sim.stats().models == {}


def test_a_simulator_process_enforces_model_limits_and_reports_them_per_model() -> None:
    def post(base_url: str, model: str) -> int:
        body = json.dumps(_chat(model)).encode()
        request = urllib.request.Request(f"{base_url}/chat/completions", method="POST", data=body,
                                         headers={"content-type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code

    with SimulatorProcess(SimulatorSettings(model_limits=(ModelLimits(model="model-a", rpm=1),))) as sim:
        assert [post(sim.base_url, "model-a") for _ in range(2)] == [200, 429]
        assert [post(sim.base_url, "model-b") for _ in range(2)] == [200, 200]
        stats = sim.stats()
    assert (stats.model("model-a").rate_limited_by["model_rpm"], stats.model("model-b").served) == (1, 2)
