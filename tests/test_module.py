"""SharedLMModule refuses a missing LM and binds the shared LM into every predictor it holds."""

from __future__ import annotations

import dspy
import pytest

import sharedlm
from sharedlm import SharedLMModule, bind_shared_lm

LM = dspy.LM("openai/unused-model")


class Leaf(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = dspy.Predict("q -> a")


class Pipeline(SharedLMModule):
    def __init__(self, shared_lm):
        super().__init__(shared_lm)
        self.first = dspy.Predict("q -> a")
        self.steps = [dspy.ChainOfThought("a -> b"), dspy.Predict("b -> c")]
        self.by_name = {"x": dspy.Predict("c -> d")}
        self.nested = Leaf()


class LongerPipeline(Pipeline):
    def __init__(self, shared_lm):
        super().__init__(shared_lm)
        self.added_later = dspy.Predict("d -> e")


def _lms(module: dspy.Module) -> set[int]:
    return {id(predictor.lm) for _, predictor in module.named_predictors()}


def test_every_nested_predictor_uses_the_shared_lm() -> None:
    pipeline = Pipeline(LM)
    assert len(pipeline.named_predictors()) == 5  # ChainOfThought holds one Predict
    assert _lms(pipeline) == {id(LM)}


def test_predictor_added_by_a_subclass_after_super_init_is_bound() -> None:
    pipeline = LongerPipeline(LM)
    assert pipeline.added_later.lm is LM
    assert _lms(pipeline) == {id(LM)}


def test_none_is_refused_naming_get_shared_lm() -> None:
    with pytest.raises(ValueError, match=r"sharedlm\.get_shared_lm\(\)"):
        Pipeline(None)


def test_subclass_that_skips_super_init_gets_a_clear_error() -> None:
    class Forgetful(SharedLMModule):
        def __init__(self, shared_lm):
            self.p = dspy.Predict("q -> a")

    with pytest.raises(TypeError, match=r"super\(\)\.__init__\(shared_lm\)"):
        Forgetful(LM)


def test_bind_shared_lm_binds_a_plain_module() -> None:
    leaf = bind_shared_lm(Leaf(), LM)
    assert leaf.inner.lm is LM


def test_bind_shared_lm_without_an_lm_binds_the_default_shared_lm() -> None:
    sharedlm.configure(model="openai/default-model", api_key="k")
    leaf = bind_shared_lm(Leaf())
    assert leaf.inner.lm is sharedlm.get_shared_lm()
