"""Shared LMs behave as plain dspy.LMs do for usage tracking, callbacks, the cache and history, for every model."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import dspy
import pytest
from dspy.utils.callback import BaseCallback

import sharedlm
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

JUDGE = "openai/judge-model"


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings()) as server:
        yield server


@pytest.fixture
def models(sim: BackgroundSimulator) -> tuple[dspy.LM, dspy.LM]:
    sharedlm.configure(model="openai/draft-model", api_key="k", api_base=sim.base_url, cache=False)
    return sharedlm.get_shared_lm(), sharedlm.get_shared_lm(JUDGE)


class DraftAndJudge(dspy.Module):
    def __init__(self, draft_lm: dspy.LM, judge_lm: dspy.LM) -> None:
        super().__init__()
        self.draft = dspy.Predict("question -> answer")
        self.judge = dspy.Predict("question, answer -> verdict")
        self.draft.set_lm(draft_lm)
        self.judge.set_lm(judge_lm)

    def forward(self, question: str) -> dspy.Prediction:
        answer = self.draft(question=question).answer
        return self.judge(question=question, answer=answer)


class Recorder(BaseCallback):
    def __init__(self) -> None:
        self.started: list[str] = []
        self.ended: list[str] = []

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        self.started.append(instance.model)

    def on_lm_end(self, call_id: str, outputs: Any, exception: Exception | None = None) -> None:
        self.ended.append(call_id)


def test_track_usage_counts_each_models_tokens(models: tuple[dspy.LM, dspy.LM]) -> None:
    program = DraftAndJudge(*models)
    with dspy.context(track_usage=True):
        prediction = program(question="what is two plus two?")
    usage = prediction.get_lm_usage()
    assert set(usage) == {"openai/draft-model", JUDGE}
    assert all(entry["prompt_tokens"] > 0 and entry["completion_tokens"] > 0 for entry in usage.values())
    assert usage[JUDGE]["prompt_tokens"] == models[1].history[-1]["usage"]["prompt_tokens"]


def test_callbacks_see_every_models_calls(models: tuple[dspy.LM, dspy.LM]) -> None:
    recorder = Recorder()
    with dspy.context(callbacks=[recorder]):
        DraftAndJudge(*models)(question="q")
    assert recorder.started == ["openai/draft-model", JUDGE]
    assert len(recorder.ended) == 2


def test_the_dspy_cache_answers_a_repeated_call_without_a_request(sim: BackgroundSimulator) -> None:
    sharedlm.configure(model="openai/draft-model", api_key="k", api_base=sim.base_url)
    judge = sharedlm.get_shared_lm(JUDGE, cache=True)
    prompt = f"cache me {uuid.uuid4()}"
    before = sim.stats().requests
    first, second = judge(prompt), judge(prompt)
    assert first == second
    assert sim.stats().requests == before + 1
    assert sharedlm.stats().models[JUDGE].calls == 1


def test_inspect_history_shows_each_models_last_call(models: tuple[dspy.LM, dspy.LM],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    DraftAndJudge(*models)(question="what is the capital of France?")
    capsys.readouterr()
    models[1].inspect_history(n=1)
    judge_view = capsys.readouterr().out
    dspy.inspect_history(n=2)
    global_view = capsys.readouterr().out
    assert "verdict" in judge_view
    assert "capital of France" in judge_view
    assert global_view.count("capital of France") >= 2
    assert models[1].history[-1]["model"] == JUDGE
