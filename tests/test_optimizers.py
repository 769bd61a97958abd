"""DSPy optimizers and LLM judges with two models, all on shared LMs, against the simulator on 127.0.0.1.

MIPROv2 (a prompt model and a task model), GEPA (a reflection model) and an evaluation whose metric asks a judge
model each run once per module, with more threads than the process's connection cap. Each test checks one thing
of that run: it completed, both models were called through their shared LMs, the simulator saw at most the cap
in connections, the runtime guard found no foreign LM, and no program copy failed to copy its LM.
"""

from __future__ import annotations

import logging
import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dspy
import pytest

import sharedlm
from sharedlm import GuardWarning, SharedLMModule
from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

CAP = 8  # the process's connection cap (max_parallel_requests)
THREADS = 16  # optimizer threads: twice the cap, so the cap is what holds connections down
TASK_MODEL = "openai/task-model"
# A little simulated latency so calls overlap and the threads really contend for the cap.
SIM_LATENCY_S = 0.005


class QA(SharedLMModule):
    """The program being optimized: one predictor, bound to the task model's shared LM."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.answer = dspy.Predict("question -> answer")

    def forward(self, question: str) -> dspy.Prediction:
        return self.answer(question=question)


class Judge(dspy.Signature):
    """Does the answer answer the question correctly?"""

    question: str = dspy.InputField()
    reference: str = dspy.InputField()
    answer: str = dspy.InputField()
    correct: bool = dspy.OutputField()


@dataclass(frozen=True)
class TwoModelRun:
    """What one optimizer or evaluation run did, seen from sharedlm and from the simulator.

    Args:
        result: What the run returned (an optimized program, an evaluation result).
        calls: Successful calls per model string, from ``sharedlm.stats().models``.
        distinct_connections: Client connections the simulator served.
        guard_warnings: The runtime guard's warnings during the run.
        deepcopy_failures: DSPy's "Failed to deep copy" log messages during the run.
    """

    result: Any
    calls: dict[str, int]
    distinct_connections: int
    guard_warnings: list[str]
    deepcopy_failures: list[str]


class _Records(logging.Handler):
    """Keeps the log messages of a run."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _examples(count: int) -> list[dspy.Example]:
    return [dspy.Example(question=f"What is {n} plus {n}?", answer=str(2 * n)).with_inputs("question")
            for n in range(count)]


def run_with_two_models(state_dir: Path, second_model: str,
                        body: Callable[[dspy.LM, dspy.LM], Any]) -> TwoModelRun:
    """Run ``body(task_lm, second_lm)`` on two shared LMs against a fresh simulator and record what happened.

    The process's every DSPy call is watched by the runtime guard (``install_guard``), so a call on any LM that
    is not one of the shared LMs would be reported as ``foreign-lm``.

    Args:
        state_dir: Where the engine keeps what it learns about deployments (never the user's cache).
        second_model: The model string of the second shared LM.
        body: The optimizer or evaluation run.
    """
    # DSPy logs "Failed to deep copy" on the root logger, and most else on "dspy", which does not propagate.
    loggers = (logging.getLogger(), logging.getLogger("dspy"))
    records = _Records()
    previous_callbacks = list(dspy.settings.callbacks or [])
    with pytest.MonkeyPatch.context() as env, BackgroundSimulator(SimulatorSettings(latency=SIM_LATENCY_S)) as sim:
        for name in list(os.environ):
            if name.startswith("SHAREDLM_"):
                env.delenv(name)
        env.setenv("SHAREDLM_STATE_DIR", str(state_dir))
        sharedlm.reset_shared_lm()
        sharedlm.configure(model=TASK_MODEL, api_key="sk-optimizers", api_base=sim.base_url,
                           max_parallel_requests=CAP, cache=False)
        task, second = sharedlm.get_shared_lm(), sharedlm.get_shared_lm(second_model)
        for logger in loggers:
            logger.addHandler(records)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                sharedlm.install_guard()
                result = body(task, second)
        finally:
            dspy.configure(callbacks=previous_callbacks)
            for logger in loggers:
                logger.removeHandler(records)
        stats = sharedlm.stats()
        seen = sim.stats()
        sharedlm.reset_shared_lm()
    return TwoModelRun(
        result=result,
        calls={model: model_stats.calls_succeeded for model, model_stats in stats.models.items()},
        distinct_connections=seen.distinct_connections,
        guard_warnings=[str(w.message) for w in caught if issubclass(w.category, GuardWarning)],
        deepcopy_failures=[m for m in records.messages if "Failed to deep copy" in m],
    )


# --- MIPROv2: a prompt model proposes instructions, the task model runs the program ------------------------------

PROMPT_MODEL = "openai/prompt-model"


def _answered(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> bool:
    return bool(prediction.answer)


@pytest.fixture(scope="module")
def mipro_run(tmp_path_factory: pytest.TempPathFactory) -> TwoModelRun:
    pytest.importorskip("optuna", reason="MIPROv2 needs optuna (pip install optuna)")
    data = _examples(18)  # 12 validation examples: each evaluation has more calls at once than the cap allows

    def optimize(task: dspy.LM, prompt: dspy.LM) -> Any:
        optimizer = dspy.MIPROv2(metric=_answered, prompt_model=prompt, task_model=task, auto="light",
                                 num_threads=THREADS, max_bootstrapped_demos=1, max_labeled_demos=1)
        return optimizer.compile(QA(task), trainset=data[:6], valset=data[6:])

    return run_with_two_models(tmp_path_factory.mktemp("mipro-state"), PROMPT_MODEL, optimize)


def test_mipro_with_a_prompt_and_a_task_model_returns_an_optimized_program(mipro_run: TwoModelRun) -> None:
    assert isinstance(mipro_run.result, QA)
    assert mipro_run.result.answer.signature.instructions


def test_mipro_calls_both_models_through_their_shared_lms(mipro_run: TwoModelRun) -> None:
    assert mipro_run.calls[TASK_MODEL] > 0
    assert mipro_run.calls[PROMPT_MODEL] > 0


def test_mipro_stays_within_the_connection_cap(mipro_run: TwoModelRun) -> None:
    assert 0 < mipro_run.distinct_connections <= CAP


def test_mipro_runs_on_no_foreign_lm(mipro_run: TwoModelRun) -> None:
    assert not [m for m in mipro_run.guard_warnings if "foreign-lm" in m]


def test_mipro_copies_programs_without_failing_to_copy_an_lm(mipro_run: TwoModelRun) -> None:
    assert mipro_run.deepcopy_failures == []


# --- GEPA: a reflection model rewrites instructions from the metric's feedback ------------------------------------

REFLECTION_MODEL = "openai/reflection-model"


def _never_right(gold: dspy.Example, prediction: dspy.Prediction, trace: Any = None, pred_name: str | None = None,
                 pred_trace: Any = None) -> dspy.Prediction:
    # A score below perfect on every minibatch makes GEPA reflect (and so call the reflection model) each round.
    return dspy.Prediction(score=0.0, feedback=f"The answer should be {gold.answer}, a number and nothing else.")


@pytest.fixture(scope="module")
def gepa_run(tmp_path_factory: pytest.TempPathFactory) -> TwoModelRun:
    data = _examples(16)  # 10 validation examples: the first full evaluation has more calls at once than the cap

    def optimize(task: dspy.LM, reflection: dspy.LM) -> Any:
        optimizer = dspy.GEPA(metric=_never_right, reflection_lm=reflection, max_metric_calls=50,
                              num_threads=THREADS, reflection_minibatch_size=3)
        return optimizer.compile(QA(task), trainset=data[:6], valset=data[6:])

    return run_with_two_models(tmp_path_factory.mktemp("gepa-state"), REFLECTION_MODEL, optimize)


def test_gepa_with_a_reflection_model_returns_an_optimized_program(gepa_run: TwoModelRun) -> None:
    assert isinstance(gepa_run.result, QA)


def test_gepa_calls_both_models_through_their_shared_lms(gepa_run: TwoModelRun) -> None:
    assert gepa_run.calls[TASK_MODEL] > 0
    assert gepa_run.calls[REFLECTION_MODEL] > 0


def test_gepa_stays_within_the_connection_cap(gepa_run: TwoModelRun) -> None:
    assert 0 < gepa_run.distinct_connections <= CAP


def test_gepa_runs_on_no_foreign_lm(gepa_run: TwoModelRun) -> None:
    assert not [m for m in gepa_run.guard_warnings if "foreign-lm" in m]


def test_gepa_copies_programs_without_failing_to_copy_an_lm(gepa_run: TwoModelRun) -> None:
    assert gepa_run.deepcopy_failures == []


# --- An LLM judge: the metric of an evaluation asks a judge model ------------------------------------------------

JUDGE_MODEL = "openai/judge-model"
DEVSET_SIZE = 24


def _judge_metric(judge_lm: dspy.LM) -> Callable[..., float]:
    judge = sharedlm.bind_shared_lm(dspy.Predict(Judge), judge_lm)

    def metric(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> float:
        verdict = judge(question=example.question, reference=example.answer, answer=prediction.answer)
        return float(verdict.correct)

    return metric


def _evaluate_with_a_judge(task: dspy.LM, judge_lm: dspy.LM) -> Any:
    evaluate = dspy.Evaluate(devset=_examples(DEVSET_SIZE), metric=_judge_metric(judge_lm), num_threads=THREADS,
                             display_progress=False, max_errors=1)  # any failed example stops the run
    return evaluate(QA(task))


@pytest.fixture(scope="module")
def judge_run(tmp_path_factory: pytest.TempPathFactory) -> TwoModelRun:
    return run_with_two_models(tmp_path_factory.mktemp("judge-state"), JUDGE_MODEL, _evaluate_with_a_judge)


def test_judged_evaluation_scores_every_example(judge_run: TwoModelRun) -> None:
    assert len(judge_run.result.results) == DEVSET_SIZE
    assert 0.0 <= judge_run.result.score <= 100.0


def test_judged_evaluation_calls_the_task_and_the_judge_model_once_per_example(judge_run: TwoModelRun) -> None:
    assert judge_run.calls[TASK_MODEL] == DEVSET_SIZE
    assert judge_run.calls[JUDGE_MODEL] == DEVSET_SIZE


def test_judged_evaluation_stays_within_the_connection_cap(judge_run: TwoModelRun) -> None:
    assert 0 < judge_run.distinct_connections <= CAP


def test_judged_evaluation_runs_on_no_foreign_lm(judge_run: TwoModelRun) -> None:
    assert not [m for m in judge_run.guard_warnings if "foreign-lm" in m]


# --- The harness itself: a judge on a plain dspy.LM is what it would report -----------------------------------------


def test_the_harness_reports_a_judge_on_a_plain_lm(tmp_path: Path) -> None:
    def evaluate_with_a_plain_judge(task: dspy.LM, judge_lm: dspy.LM) -> Any:
        plain = dspy.LM(JUDGE_MODEL, api_base=sharedlm.get_settings(JUDGE_MODEL).api_base, api_key="sk-optimizers",
                        cache=False)
        evaluate = dspy.Evaluate(devset=_examples(4), metric=_judge_metric(plain), num_threads=2,
                                 display_progress=False)
        return evaluate(QA(task))

    run = run_with_two_models(tmp_path, JUDGE_MODEL, evaluate_with_a_plain_judge)
    assert [m for m in run.guard_warnings if "foreign-lm" in m]



def test_the_harness_records_a_failed_deep_copy(tmp_path: Path) -> None:
    def copy_a_program_holding_a_lock(task: dspy.LM, second: dspy.LM) -> Any:
        program = QA(task)
        program.lock = threading.Lock()  # cannot be deep-copied: DSPy logs and falls back to a reference
        return program.deepcopy()

    run = run_with_two_models(tmp_path, JUDGE_MODEL, copy_a_program_holding_a_lock)
    assert run.deepcopy_failures
