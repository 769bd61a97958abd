"""The runtime guard notices LMs made per call, foreign LMs and too many LMs, in each mode."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import dspy
import pytest

import sharedlm
from sharedlm import GuardError, GuardWarning, SharedLMModule
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings()) as server:
        yield server


@pytest.fixture
def shared(sim: BackgroundSimulator) -> dspy.LM:
    sharedlm.configure(model="openai/sim-model", api_key="k", api_base=sim.base_url, cache=False)
    return sharedlm.get_shared_lm()


def _foreign(sim: BackgroundSimulator) -> dspy.LM:
    return dspy.LM("openai/other-model", api_base=sim.base_url, api_key="k", cache=False)


class LeakyPipeline(SharedLMModule):
    """The seed's second anti-pattern: a new LM inside forward."""

    def __init__(self, shared_lm, base_url):
        super().__init__(shared_lm)
        self.base_url = base_url
        self.agent = dspy.Predict("question -> answer")

    def forward(self, question):
        lm = dspy.LM("openai/per-call", api_base=self.base_url, api_key="k", cache=False)
        self.agent.set_lm(lm)
        return self.agent(question=question)


class GoodPipeline(SharedLMModule):
    def __init__(self, shared_lm):
        super().__init__(shared_lm)
        self.agent = dspy.Predict("question -> answer")

    def forward(self, question):
        return self.agent(question=question)

    async def aforward(self, question):
        return await self.agent.acall(question=question)


def _guard_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, GuardWarning)]


def test_lm_created_in_forward_warns_once_with_file_and_line(shared: dspy.LM, sim: BackgroundSimulator) -> None:
    pipeline = LeakyPipeline(shared, sim.base_url)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pipeline(question="a")
        pipeline(question="b")
    found = _guard_warnings(record)
    assert len([m for m in found if "lm-in-forward" in m]) == 1
    assert "test_guard.py" in found[0]
    assert "LeakyPipeline.forward" in found[0]


def test_foreign_lm_on_a_predictor_is_reported(shared: dspy.LM, sim: BackgroundSimulator) -> None:
    pipeline = GoodPipeline(shared)
    pipeline.agent.set_lm(_foreign(sim))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pipeline(question="a")
    assert any("foreign-lm" in m for m in _guard_warnings(record))


def test_shared_lm_and_its_copies_raise_nothing(shared: dspy.LM) -> None:
    pipeline = GoodPipeline(shared)
    pipeline.agent.set_lm(shared.copy(temperature=0.5))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pipeline(question="a")
    assert _guard_warnings(record) == []


def test_error_mode_raises_at_the_end_of_the_module_call(monkeypatch: pytest.MonkeyPatch, shared: dspy.LM,
                                                         sim: BackgroundSimulator) -> None:
    monkeypatch.setenv("SHAREDLM_GUARD", "error")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardWarning)
        with pytest.raises(GuardError, match="lm-in-forward") as raised:
            LeakyPipeline(shared, sim.base_url)(question="a")
    assert raised.value.violations


async def test_error_mode_raises_in_async_calls(monkeypatch: pytest.MonkeyPatch, shared: dspy.LM,
                                                sim: BackgroundSimulator) -> None:
    monkeypatch.setenv("SHAREDLM_GUARD", "error")
    pipeline = GoodPipeline(shared)
    pipeline.agent.set_lm(_foreign(sim))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", GuardWarning)
        with pytest.raises(GuardError, match="foreign-lm"):
            await pipeline.acall(question="a")


def test_off_mode_watches_nothing(monkeypatch: pytest.MonkeyPatch, shared: dspy.LM, sim: BackgroundSimulator) -> None:
    monkeypatch.setenv("SHAREDLM_GUARD", "off")
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        LeakyPipeline(shared, sim.base_url)(question="a")
    assert _guard_warnings(record) == []


def test_too_many_live_lms_is_reported(monkeypatch: pytest.MonkeyPatch, shared: dspy.LM,
                                       sim: BackgroundSimulator) -> None:
    monkeypatch.setenv("SHAREDLM_GUARD_MAX_LMS", "2")
    pipeline = GoodPipeline(shared)
    lms = [_foreign(sim) for _ in range(3)]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for lm in lms:
            pipeline.agent.set_lm(lm)
            pipeline(question="a")
    assert any("too-many-lms" in m and "SHAREDLM_GUARD_MAX_LMS" in m for m in _guard_warnings(record))


def test_warn_mode_watches_the_first_calls_then_a_sample(shared: dspy.LM) -> None:
    from sharedlm._guard import WATCH_EVERY, WATCH_FIRST_CALLS, _watch_this_call, current_guard

    guard = current_guard()
    assert guard is not None
    assert guard.mode == "warn"
    watched = [_watch_this_call(guard) for _ in range(WATCH_FIRST_CALLS + 2 * WATCH_EVERY)]
    assert all(watched[:WATCH_FIRST_CALLS])
    assert sum(watched[WATCH_FIRST_CALLS:]) == 2


def test_error_mode_watches_every_call(monkeypatch: pytest.MonkeyPatch, shared: dspy.LM) -> None:
    from sharedlm._guard import _watch_this_call, current_guard

    monkeypatch.setenv("SHAREDLM_GUARD", "error")
    guard = current_guard()
    assert guard is not None
    assert all(_watch_this_call(guard) for _ in range(500))


def test_a_second_shared_model_is_not_a_foreign_lm(shared: dspy.LM) -> None:
    pipeline = GoodPipeline(shared)
    pipeline.agent.set_lm(sharedlm.get_shared_lm("openai/judge-model", cache=False))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        pipeline(question="a")
    assert _guard_warnings(record) == []


def test_copies_of_one_lm_count_once_towards_too_many_lms(monkeypatch: pytest.MonkeyPatch, shared: dspy.LM,
                                                          sim: BackgroundSimulator) -> None:
    monkeypatch.setenv("SHAREDLM_GUARD_MAX_LMS", "2")
    pipeline = GoodPipeline(shared)
    base = _foreign(sim)
    copies = [base.copy(rollout_id=i, temperature=1.0) for i in range(4)]
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        for lm in copies:
            pipeline.agent.set_lm(lm)
            pipeline(question="a")
    messages = _guard_warnings(record)
    assert any("foreign-lm" in m for m in messages)
    assert not any("too-many-lms" in m for m in messages)
