"""Optimize a program with two models, save it, load it in a fresh process, and run it over a file.

A strong teacher model writes the few-shot demos (``dspy.BootstrapFewShot`` with a teacher LM) for a cheaper
task model, which is the one the saved program runs on. Both models are sharedlm shared LMs: one
connection pool for the process, flow control per model. The tour then shows the optimize-save-load workflow::

    python examples/optimize_two_models.py            # against the built-in simulator: no key, no network

1. optimizes ``SentimentClassifier`` and saves it: ``program.save("optimized.json")`` (no key in the file);
2. starts a fresh Python process that loads it with a plain ``program.load("optimized.json")`` and classifies
   a few texts (``python examples/optimize_two_models.py classify optimized.json TEXT...``);
3. runs the loaded program over a JSONL file with the bulk runner, in another fresh process::

       sharedlm run examples/optimize_two_models.py:SentimentClassifier --load optimized.json \\
           --input reviews.jsonl --output sentiments.jsonl

With no ``SHAREDLM_MODEL`` in the environment it starts the simulator on 127.0.0.1 and points every step at it.
With a real provider, the task model and its key come from the usual variables, the teacher from ``TEACHER_MODEL``
(the same provider keeps the key and base URL; ``SHAREDLM_MODELS`` gives it settings of its own)::

    export SHAREDLM_MODEL=openai/gpt-4o-mini OPENAI_API_KEY=... TEACHER_MODEL=openai/gpt-4o
    export SHAREDLM_MODELS='{"openai/gpt-4o": {"rpm": 500}}'     # optional
    python examples/optimize_two_models.py --workdir out/

Files go to ``--workdir`` (default ``./two_models``): optimized.json, reviews.jsonl, sentiments.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import dspy

import sharedlm

SIMULATED_TASK_MODEL = "openai/task-model"
SIMULATED_TEACHER_MODEL = "openai/teacher-model"

TRAINSET = [
    dspy.Example(text=text, sentiment=sentiment).with_inputs("text")
    for text, sentiment in [
        ("The blender died after two days and support never answered.", "negative"),
        ("Arrived early, works perfectly, would buy again.", "positive"),
        ("It is a phone case. It holds the phone.", "neutral"),
        ("Refund took five weeks and three angry emails.", "negative"),
        ("The staff went out of their way to help us.", "positive"),
        ("Delivered on the date they said.", "neutral"),
        ("Broken on arrival, and the box was soaked.", "negative"),
        ("Best headphones I have owned: clear and comfortable.", "positive"),
    ]
]

DEVSET = [
    dspy.Example(text=text, sentiment=sentiment).with_inputs("text")
    for text, sentiment in [
        ("Stopped charging after a month; the warranty desk shrugged.", "negative"),
        ("Quick checkout, friendly courier, great value.", "positive"),
        ("The manual is twelve pages long.", "neutral"),
        ("Exactly what I hoped for, and it was cheaper than elsewhere.", "positive"),
    ]
]

REVIEWS = [
    "The charger stopped working within a week.",
    "Lovely fabric and it fits exactly as described.",
    "The parcel came on Tuesday.",
    "I waited forty minutes on hold and then got cut off.",
    "Setup took two minutes and it has run flawlessly since.",
    "Average coffee, average prices.",
]


class Sentiment(dspy.Signature):
    """Classify the sentiment of a customer review."""

    text: str = dspy.InputField()
    sentiment: Literal["positive", "negative", "neutral"] = dspy.OutputField()


class SentimentClassifier(sharedlm.SharedLMModule):
    """The program being optimized: reason briefly, then classify. Every predictor uses ``shared_lm``."""

    def __init__(self, shared_lm: Any) -> None:
        super().__init__(shared_lm)
        self.classify = dspy.ChainOfThought(Sentiment)

    def forward(self, text: str) -> dspy.Prediction:
        return self.classify(text=text)

    async def aforward(self, text: str) -> dspy.Prediction:
        return await self.classify.acall(text=text)


def same_sentiment(example: dspy.Example, prediction: dspy.Prediction, trace: Any = None) -> bool:
    """The metric: a teacher's answer becomes a demo only when its sentiment is the labelled one."""
    return bool(prediction.sentiment == example.sentiment)


def optimize(path: Path) -> SentimentClassifier:
    """Optimize the classifier with the teacher model's demos, check it on the task model, and save it to ``path``."""
    task_lm = sharedlm.get_shared_lm()  # the default model: SHAREDLM_MODEL
    teacher_lm = sharedlm.get_shared_lm(os.environ.get("TEACHER_MODEL", SIMULATED_TEACHER_MODEL))
    # DSPy's way to give BootstrapFewShot a teacher model: the teacher copy runs under teacher_settings["lm"].
    optimizer = dspy.BootstrapFewShot(metric=same_sentiment, teacher_settings={"lm": teacher_lm},
                                      max_bootstrapped_demos=3, max_labeled_demos=3)
    optimized = optimizer.compile(SentimentClassifier(shared_lm=task_lm), trainset=TRAINSET)
    # BootstrapFewShot returns a reset copy of the student, whose predictors hold no LM: bind them again.
    sharedlm.bind_shared_lm(optimized, task_lm)
    evaluate = dspy.Evaluate(devset=DEVSET, metric=same_sentiment, num_threads=4, display_progress=False)
    print(f"   score on the task model: {evaluate(optimized).score:.0f}% of {len(DEVSET)} held-out reviews")
    optimized.save(str(path))  # predictors saved as their model string: no key, no base URL
    return optimized


def classify(path: Path, texts: list[str]) -> None:
    """Load the saved program into a new classifier (this is a fresh process) and classify ``texts``."""
    program = SentimentClassifier(shared_lm=sharedlm.get_shared_lm())
    program.load(str(path))  # plain DSPy load; the predictors come back bound to this process's shared LM
    demos = len(program.classify.predict.demos)
    print(f"loaded {path}: {demos} demos, running on {program.classify.predict.lm.model}")
    for text in texts:
        print(f"  {program(text=text).sentiment:8}  {text}")


@contextlib.contextmanager
def provider() -> Iterator[None]:
    """The real provider the environment names, or the simulator on 127.0.0.1 when it names none.

    The simulator's settings go into this process's environment, so the fresh processes started below use it too.
    """
    if os.environ.get("SHAREDLM_MODEL"):
        yield
        return
    from sharedlm.simulator import BackgroundSimulator, SimulatorSettings

    with BackgroundSimulator(SimulatorSettings(latency=0.05)) as sim:
        # Both models declared through SHAREDLM_MODELS, with DSPy's cache off so every run really calls them.
        declared = {SIMULATED_TASK_MODEL: {"cache": False}, SIMULATED_TEACHER_MODEL: {"cache": False}}
        os.environ.update(SHAREDLM_MODEL=SIMULATED_TASK_MODEL, SHAREDLM_API_BASE=sim.base_url,
                          SHAREDLM_API_KEY="simulator-key", SHAREDLM_MODELS=json.dumps(declared),
                          TEACHER_MODEL=SIMULATED_TEACHER_MODEL)
        print(f"No SHAREDLM_MODEL set: using the simulator at {sim.base_url} (its answers are synthetic, so "
              "scores and sentiments mean nothing here)")
        yield


def tour(workdir: Path) -> int:
    """Optimize and save, load in a fresh process, then ``sharedlm run --load`` over a file."""
    workdir.mkdir(parents=True, exist_ok=True)
    state, reviews, results = workdir / "optimized.json", workdir / "reviews.jsonl", workdir / "sentiments.jsonl"
    with provider():
        print(f"1. optimizing with task model {os.environ['SHAREDLM_MODEL']} and teacher "
              f"{os.environ.get('TEACHER_MODEL', SIMULATED_TEACHER_MODEL)}")
        optimize(state)
        for model, stats in sharedlm.stats().models.items():
            print(f"   {model}: {stats.calls_succeeded} calls")
        print(f"   saved {state}")

        print("2. a fresh process loads it and classifies two reviews")
        here = str(Path(__file__).resolve())
        step = subprocess.run([sys.executable, here, "classify", str(state), *REVIEWS[:2]], check=False)
        if step.returncode:
            return step.returncode

        reviews.write_text("".join(json.dumps({"id": f"r-{n}", "text": text}) + "\n"
                                   for n, text in enumerate(REVIEWS)), encoding="utf-8")
        command = [sys.executable, "-m", "sharedlm", "run", f"{here}:SentimentClassifier", "--load", str(state),
                   "--input", str(reviews), "--output", str(results), "--overwrite", "--progress", "off"]
        print(f"3. sharedlm run ...:SentimentClassifier --load {state} --input {reviews} --output {results}")
        step = subprocess.run(command, check=False)
        if step.returncode:
            return step.returncode
    for line in results.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        print(f"   {row['id']}: {(row['output'] or {}).get('sentiment')}")
    return 0


def main(argv: list[str]) -> int:
    """``[--workdir DIR]`` runs the tour; ``classify STATE.json TEXT...`` is its fresh-process step."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("two_models"), help="where the files go")
    if argv[1:2] == ["classify"]:
        step = argparse.ArgumentParser(prog=f"{argv[0]} classify")
        step.add_argument("state", type=Path)
        step.add_argument("texts", nargs="+")
        args = step.parse_args(argv[2:])
        classify(args.state, args.texts)
        return 0
    return tour(parser.parse_args(argv[1:]).workdir)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
