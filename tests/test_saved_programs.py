"""Programs bound to shared LMs copy, save and load as DSPy programs do, and come back bound to shared LMs."""

from __future__ import annotations

import copy
import json
import logging
import os
import pickle
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import dspy
import pytest

import sharedlm
from sharedlm import SharedLMModule
from sharedlm._registry import REGISTRY
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

SECRET = "sk-saved-programs-secret"


@pytest.fixture(scope="module")
def sim() -> Iterator[BackgroundSimulator]:
    with BackgroundSimulator(SimulatorSettings()) as server:
        yield server


class DraftAndJudge(SharedLMModule):
    """A two-model program: a draft on the default model, a judge on another."""

    def __init__(self, shared_lm: dspy.LM, judge_lm: dspy.LM) -> None:
        super().__init__(shared_lm)
        self.draft = dspy.Predict("question -> answer")
        self.judge = dspy.Predict("question, answer -> verdict")
        self.judge.set_lm(judge_lm)

    def forward(self, question: str) -> dspy.Prediction:
        answer = self.draft(question=question).answer
        return self.judge(question=question, answer=answer)


class Plain(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.draft = dspy.Predict("question -> answer")
        self.judge = dspy.Predict("question, answer -> verdict")


@pytest.fixture
def program(sim: BackgroundSimulator) -> DraftAndJudge:
    sharedlm.configure(model="openai/draft-model", api_key=SECRET, api_base=sim.base_url, cache=False)
    judge = sharedlm.get_shared_lm("openai/judge-model", temperature=0.0)
    return DraftAndJudge(sharedlm.get_shared_lm(), judge)


def _engine(lm: dspy.LM) -> object:
    return lm._async_engine_spec


def test_saved_state_names_models_and_holds_no_secret(program: DraftAndJudge, tmp_path: Path) -> None:
    path = tmp_path / "program.json"
    program.save(str(path))
    text = path.read_text()
    saved = json.loads(text)
    assert saved["draft"]["lm"]["model"] == "openai/draft-model"
    assert saved["judge"]["lm"]["model"] == "openai/judge-model"
    assert "engine" not in saved["judge"]["lm"]
    assert SECRET not in text
    assert "127.0.0.1" not in text


def test_plain_load_needs_no_unsafe_flag_and_warns_nothing(program: DraftAndJudge, tmp_path: Path,
                                                           caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "program.json"
    program.save(str(path))
    fresh = DraftAndJudge(sharedlm.get_shared_lm(), sharedlm.get_shared_lm("openai/judge-model"))
    with caplog.at_level(logging.WARNING):
        fresh.load(str(path))
    assert not [r for r in caplog.records if "unsafe" in r.getMessage().lower()]


def test_a_loaded_shared_module_is_bound_to_the_shared_lms(program: DraftAndJudge, tmp_path: Path) -> None:
    path = tmp_path / "program.json"
    program.save(str(path))
    fresh = DraftAndJudge(sharedlm.get_shared_lm(), sharedlm.get_shared_lm("openai/judge-model"))
    fresh.load(str(path))
    assert fresh.draft.lm is sharedlm.get_shared_lm()
    assert _engine(fresh.judge.lm) is _engine(sharedlm.get_shared_lm("openai/judge-model"))
    assert fresh.judge.lm.kwargs["temperature"] == 0.0


def test_bind_shared_lm_binds_each_predictor_by_its_model(sim: BackgroundSimulator) -> None:
    sharedlm.configure(model="openai/draft-model", api_key=SECRET, api_base=sim.base_url)
    plain = Plain()
    plain.judge.set_lm(dspy.LM("openai/judge-model", temperature=0.3))
    sharedlm.bind_shared_lm(plain)
    assert plain.draft.lm is sharedlm.get_shared_lm()
    assert _engine(plain.judge.lm) is _engine(sharedlm.get_shared_lm("openai/judge-model"))
    assert plain.judge.lm.kwargs["temperature"] == 0.3


def test_a_plain_lm_gives_its_base_url_to_a_model_not_yet_built(sim: BackgroundSimulator) -> None:
    sharedlm.configure(model="gemini/gemini-2.5-flash", api_key="g")
    plain = Plain()
    plain.judge.set_lm(dspy.LM("openai/judge-model", api_base=sim.base_url, api_key=SECRET))
    sharedlm.bind_shared_lm(plain)
    assert sharedlm.get_settings("openai/judge-model").api_base == sim.base_url
    assert "api_key" not in plain.judge.lm.kwargs
    assert plain.judge(question="q", answer="a").verdict


def test_deepcopy_shares_the_engines_without_a_warning(program: DraftAndJudge,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        copied = program.deepcopy()
    assert not [r for r in caplog.records if "deep copy" in r.getMessage()]
    assert _engine(copied.judge.lm) is _engine(program.judge.lm)
    assert _engine(copied.draft.lm) is _engine(program.draft.lm)
    assert copy.deepcopy(program.draft.lm) is not program.draft.lm


def test_copies_of_a_shared_lm_share_its_engine(program: DraftAndJudge) -> None:
    lm = sharedlm.get_shared_lm()
    hot = lm.copy(temperature=1.0, rollout_id=3)
    assert _engine(hot) is _engine(lm)
    assert REGISTRY.is_shared(hot)


def test_pickled_lm_comes_back_on_this_process_engine(program: DraftAndJudge) -> None:
    data = pickle.dumps(program.judge.lm)
    assert SECRET.encode() not in data
    restored = pickle.loads(data)
    assert _engine(restored) is _engine(sharedlm.get_shared_lm("openai/judge-model"))


_FRESH_PROCESS = textwrap.dedent("""
    import sys, warnings
    import dspy
    import sharedlm
    sys.path.insert(0, {here!r})
    from test_saved_programs import DraftAndJudge
    sharedlm.configure(model="openai/draft-model", api_key="sk-other-process", api_base={base!r}, cache=False)
    mode = sys.argv[1]
    if mode == "state":
        program = DraftAndJudge(sharedlm.get_shared_lm(), sharedlm.get_shared_lm("openai/judge-model"))
        program.load({path!r})
    else:
        program = dspy.load({path!r}, allow_pickle=True)
    engine = sharedlm.get_shared_lm("openai/judge-model")._async_engine_spec
    assert program.judge.lm._async_engine_spec is engine, "judge not on this process's shared LM"
    assert program.draft.lm._async_engine_spec is sharedlm.get_shared_lm()._async_engine_spec
    print(program(question="what is two plus two?").verdict)
    models = sharedlm.stats().models
    print(sorted(models), models["openai/judge-model"].calls_succeeded)
""")


@pytest.mark.parametrize("mode", ["state", "program"])
def test_a_fresh_process_loads_and_runs_on_its_shared_lms(program: DraftAndJudge, sim: BackgroundSimulator,
                                                          tmp_path: Path, mode: str) -> None:
    path = tmp_path / ("program.json" if mode == "state" else "whole")
    program.save(str(path), save_program=mode == "program")
    saved = b"".join(p.read_bytes() for p in ([path] if path.is_file() else path.iterdir()))
    assert SECRET.encode() not in saved
    script = _FRESH_PROCESS.format(here=str(Path(__file__).parent), base=sim.base_url, path=str(path))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHAREDLM_") or k == "SHAREDLM_STATE_DIR"}
    done = subprocess.run([sys.executable, "-c", script, mode], capture_output=True, text=True, timeout=120,
                          env=env, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "['openai/draft-model', 'openai/judge-model'] 1" in done.stdout
