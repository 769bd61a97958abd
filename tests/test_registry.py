"""Several shared LMs in one process: one per model, one pool for all, flow state and stats per model."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator

import dspy
import pytest

import sharedlm
from sharedlm import ConfigurationError
from sharedlm._registry import REGISTRY
from sharedlm._singleton import shared_engines
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings(latency=0.0)) as server:
        yield server


@pytest.fixture
def two_models(sim: BackgroundSimulator) -> tuple[dspy.LM, dspy.LM]:
    sharedlm.configure(model="openai/model-a", api_key="sk-registry-secret", api_base=sim.base_url,
                       max_parallel_requests=8, cache=False)
    return sharedlm.get_shared_lm(), sharedlm.get_shared_lm("openai/model-b", cache=False)


def test_racing_threads_get_one_object_per_model() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    barrier = threading.Barrier(100)
    seen: dict[str, list[object]] = {"openai/model-a": [], "openai/model-b": []}

    def grab(model: str) -> None:
        barrier.wait()
        seen[model].append(sharedlm.get_shared_lm(model))

    threads = [threading.Thread(target=grab, args=(model,)) for model in seen for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    a, b = (seen[model] for model in seen)
    assert len(a) == len(b) == 50
    assert len({id(lm) for lm in a}) == 1
    assert len({id(lm) for lm in b}) == 1
    assert a[0] is not b[0]
    assert a[0] is sharedlm.get_shared_lm()


def test_the_default_model_by_name_is_the_default_shared_lm() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    assert sharedlm.get_shared_lm("openai/model-a") is sharedlm.get_shared_lm()


def test_same_model_and_settings_again_is_the_same_object() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    lm = sharedlm.get_shared_lm("openai/model-b", rpm=600, temperature=0.0)
    assert sharedlm.get_shared_lm("openai/model-b", rpm=600, temperature=0.0) is lm
    assert sharedlm.get_shared_lm("openai/model-b") is lm


def test_other_settings_for_an_existing_model_name_them_and_the_way_out() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    sharedlm.get_shared_lm("openai/model-b", rpm=600)
    with pytest.raises(ConfigurationError) as raised:
        sharedlm.get_shared_lm("openai/model-b", rpm=900, temperature=1.0)
    message = str(raised.value)
    assert "rpm" in message
    assert "lm_kwargs" in message
    assert "lm.copy(" in message
    assert "reset_shared_lm()" in message
    assert "900" not in message


def test_settings_are_checked_when_the_model_is_asked_for() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    with pytest.raises(ConfigurationError, match="rpm"):
        sharedlm.get_shared_lm("openai/model-b", rpm=-1)


def test_a_model_of_the_same_provider_keeps_key_and_base_url() -> None:
    sharedlm.configure(model="openai/model-a", api_key="sk-a", api_base="http://127.0.0.1:9/v1", rpm=100,
                       temperature=0.7)
    settings = sharedlm.get_settings("openai/model-b")
    assert settings.model == "openai/model-b"
    assert settings.api_key == "sk-a"
    assert settings.api_base == "http://127.0.0.1:9/v1"
    assert settings.flow.rpm is None  # a request budget describes one model
    assert dict(settings.lm_kwargs) == {}  # temperature describes one model


def test_a_model_of_another_provider_reads_its_own_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-own")
    sharedlm.configure(model="openai/model-a", api_key="sk-a", api_base="http://127.0.0.1:9/v1")
    settings = sharedlm.get_settings("anthropic/claude-x")
    assert settings.api_key == "sk-ant-own"
    assert settings.api_base is None


@pytest.mark.parametrize("configured_in_code", [False, True], ids=["environment", "code"])
def test_the_default_models_key_and_base_variables_never_reach_another_provider(
        monkeypatch: pytest.MonkeyPatch, configured_in_code: bool) -> None:
    monkeypatch.setenv("SHAREDLM_MODEL", "openai/model-a")
    monkeypatch.setenv("SHAREDLM_API_KEY", "sk-openai-default")
    monkeypatch.setenv("SHAREDLM_API_BASE", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-own")
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    if configured_in_code:
        sharedlm.configure(api_key="sk-openai-code", api_base="http://127.0.0.1:8/v1")

    anthropic = sharedlm.get_settings("anthropic/claude-x")
    gemini = sharedlm.get_settings("gemini/gemini-x")

    assert anthropic.api_key == "sk-ant-own"
    assert anthropic.api_base is None
    assert gemini.api_key is None  # no GEMINI_API_KEY: the first call says which variable to set
    assert gemini.api_base is None


def test_models_declared_in_code_get_their_settings() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k", models={"openai/judge": {"rpm": 300, "temperature": 0}})
    judge = sharedlm.get_shared_lm("openai/judge")
    assert sharedlm.get_settings("openai/judge").flow.rpm == 300
    assert judge.kwargs["temperature"] == 0


def test_models_declared_in_the_environment_get_their_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_MODELS", '{"openai/judge": {"tpm": 5000, "max_tokens": 64}}')
    sharedlm.configure(model="openai/model-a", api_key="k")
    assert sharedlm.get_settings("openai/judge").flow.tpm == 5000
    assert sharedlm.get_shared_lm("openai/judge").kwargs["max_tokens"] == 64


def test_a_malformed_models_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHAREDLM_MODELS", '["openai/judge"]')
    sharedlm.configure(model="openai/model-a", api_key="k")
    with pytest.raises(ConfigurationError, match="SHAREDLM_MODELS must be a JSON object"):
        sharedlm.get_shared_lm("openai/judge")


def test_declaring_other_settings_for_a_built_model_is_refused() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    sharedlm.get_shared_lm("openai/judge")
    with pytest.raises(ConfigurationError, match=r"openai/judge.*rpm"):
        sharedlm.configure(model="openai/model-a", api_key="k", models={"openai/judge": {"rpm": 10}})


def test_connection_settings_belong_to_the_process() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    with pytest.raises(ConfigurationError, match=r"connect_timeout.*one connection pool"):
        sharedlm.get_shared_lm("openai/model-b", connect_timeout=3.0)


def test_models_share_one_transport_and_one_sync_loop() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k", max_parallel_requests=16)
    sharedlm.get_shared_lm("openai/model-b", max_parallel_requests=4)
    sync_a, engine_a = shared_engines()
    sync_b, engine_b = shared_engines("openai/model-b")
    assert engine_a.transport is engine_b.transport
    assert sync_a._loop_thread is sync_b._loop_thread
    assert engine_a.pacer is not engine_b.pacer
    assert (engine_a.cap, engine_b.cap) == (16, 4)


def test_every_model_stays_within_the_process_connection_cap(two_models: tuple[dspy.LM, dspy.LM],
                                                             sim: BackgroundSimulator) -> None:
    a, b = two_models
    before = sim.stats().distinct_connections

    async def both() -> None:
        request = "say hi"
        await asyncio.gather(*[lm.acall(f"{request} {i}") for i in range(40) for lm in (a, b)])

    asyncio.run(both())
    stats = sharedlm.stats()
    assert stats.models["openai/model-a"].calls_succeeded == 40
    assert stats.models["openai/model-b"].calls_succeeded == 40
    assert stats.calls_succeeded == 80
    assert stats.connections_opened <= 8
    assert sim.stats().distinct_connections - before <= 8


def test_sync_calls_of_two_models_share_the_sync_loop_pool(two_models: tuple[dspy.LM, dspy.LM]) -> None:
    a, b = two_models
    threads = [threading.Thread(target=lm, args=(f"hello {i}",)) for i in range(10) for lm in (a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    stats = sharedlm.stats()
    assert stats.calls_succeeded == 20
    assert stats.connections_opened <= 8


def test_stats_of_one_model_are_the_totals() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k", max_parallel_requests=12)
    sharedlm.get_shared_lm()
    stats = sharedlm.stats()
    assert list(stats.models) == ["openai/model-a"]
    assert stats.cap == stats.models["openai/model-a"].cap == 12
    assert stats.as_dict()["models"]["openai/model-a"]["cap"] == 12


def test_stats_before_any_model_are_empty() -> None:
    assert sharedlm.stats().models == {}
    assert sharedlm.stats().calls == 0


def test_reset_forgets_every_model() -> None:
    sharedlm.configure(model="openai/model-a", api_key="k")
    b = sharedlm.get_shared_lm("openai/model-b")
    sharedlm.reset_shared_lm()
    sharedlm.configure(model="openai/model-a", api_key="k")
    assert sharedlm.get_shared_lm("openai/model-b") is not b
    assert REGISTRY.connections is not None


def test_repr_shows_models_and_pool() -> None:
    sharedlm.configure(model="openai/model-a", api_key="sk-registry-secret", max_parallel_requests=5)
    sharedlm.get_shared_lm("openai/model-b")
    text = repr(REGISTRY)
    assert "openai/model-b" in text
    assert "pool_size=5" in text
    assert "sk-registry-secret" not in text


def test_a_429_storm_on_one_model_leaves_the_other_model_alone() -> None:
    from sharedlm.simulator import ModelLimits

    limits = (ModelLimits(model="storm-model", max_concurrency=2),)
    with BackgroundSimulator(SimulatorSettings(latency=0.05, model_limits=limits)) as server:
        sharedlm.configure(model="openai/calm-model", api_key="k", api_base=server.base_url,
                           max_parallel_requests=32, cache=False, backoff_base=0.01, backoff_max=0.05,
                           max_retry_after=0.05, max_retries=20)
        calm = sharedlm.get_shared_lm()
        storm = sharedlm.get_shared_lm("openai/storm-model", cache=False, backoff_base=0.01, backoff_max=0.05,
                                       max_retry_after=0.05, max_retries=20)

        async def both() -> None:
            await asyncio.gather(*[lm.acall(f"q {i}") for i in range(24) for lm in (calm, storm)])

        asyncio.run(both())
        served = server.stats()
    stats = sharedlm.stats()
    calm_stats, storm_stats = stats.models["openai/calm-model"], stats.models["openai/storm-model"]
    assert served.model("storm-model").rate_limited > 0
    assert served.model("calm-model").rate_limited == 0
    assert storm_stats.rate_limited > 0
    assert (calm_stats.rate_limited, calm_stats.pauses) == (0, 0)
    assert storm_stats.limit < calm_stats.limit
    assert calm_stats.calls_succeeded == storm_stats.calls_succeeded == 24


def test_every_model_from_every_loop_stays_within_the_process_cap_at_the_server() -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.2)) as slow:
        sharedlm.configure(model="openai/model-a", api_key="k", api_base=slow.base_url, max_parallel_requests=8,
                           cache=False)
        a, b = sharedlm.get_shared_lm(), sharedlm.get_shared_lm("openai/model-b", cache=False)
        # Sync calls run on the sync loop's pool; the async ones on this test's loop: two pools, one cap.
        threads = [threading.Thread(target=lm, args=(f"sync {i}",)) for i in range(12) for lm in (a, b)]

        async def gathered() -> None:
            await asyncio.gather(*[lm.acall(f"async {i}") for i in range(12) for lm in (a, b)])

        for thread in threads:
            thread.start()
        asyncio.run(gathered())
        for thread in threads:
            thread.join(60)

        assert sharedlm.stats().calls_succeeded == 48
        assert slow.stats().peak_in_flight <= 8


def test_a_sync_call_inside_a_loop_whose_calls_hold_every_slot_completes() -> None:
    with BackgroundSimulator(SimulatorSettings(latency=0.3)) as slow:
        sharedlm.configure(model="openai/model-a", api_key="k", api_base=slow.base_url, max_parallel_requests=2,
                           cache=False)
        lm = sharedlm.get_shared_lm()
        answers: list[object] = []

        async def handler() -> None:
            held = [asyncio.ensure_future(lm.acall(f"async {i}")) for i in range(4)]
            for _ in range(200):  # until this loop's own calls hold both slots
                if sharedlm.stats().in_flight >= 2:
                    break
                await asyncio.sleep(0.05)
            answers.append(lm("sync, blocking this loop"))  # the mistake a web handler makes; plain DSPy completes
            await asyncio.gather(*held)

        thread = threading.Thread(target=asyncio.run, args=(handler(),), daemon=True)
        thread.start()
        thread.join(60)

        assert not thread.is_alive()
        assert len(answers) == 1
        assert sharedlm.stats().calls_succeeded == 5
