"""SLM003 (predictors never bound to an LM) and SLM004 (an LM argument never checked against None)."""

from __future__ import annotations

import textwrap

import pytest

from sharedlm.lint import lint_source


def _codes(source: str) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in lint_source(textwrap.dedent(source))]


CHECKED = "        if lm is None:\n            raise ValueError('lm required')\n"


def _module(body: str, signature: str = "self, lm") -> str:
    return (f"import dspy\nimport sharedlm\nclass P(dspy.Module):\n    def __init__({signature}):\n{CHECKED}"
            + textwrap.indent(textwrap.dedent(body), "        "))


@pytest.mark.parametrize("predictor", [
    "Predict", "ChainOfThought", "ReAct", "ProgramOfThought", "MultiChainComparison", "BestOfN", "Refine",
])
def test_slm003_each_predictor_kind_needs_binding(predictor: str) -> None:
    assert _codes(_module(f"self.p = dspy.{predictor}('q -> a')\n")) == [("SLM003", 7)]


def test_slm003_set_lm_on_the_predictor_binds_it() -> None:
    assert _codes(_module("self.p = dspy.Predict('q -> a')\nself.p.set_lm(lm)\n")) == []


def test_slm003_set_lm_on_self_binds_every_predictor() -> None:
    assert _codes(_module("self.p = dspy.Predict('q -> a')\nself.q = dspy.Predict('q -> a')\nself.set_lm(lm)\n")) == []


def test_slm003_bind_shared_lm_on_self_binds_every_predictor() -> None:
    assert _codes(_module("self.p = dspy.Predict('q -> a')\nsharedlm.bind_shared_lm(self, lm)\n")) == []


def test_slm003_binding_one_predictor_leaves_the_other_flagged() -> None:
    assert _codes(_module("self.p = dspy.Predict('q -> a')\nself.q = dspy.Predict('q -> a')\nself.p.set_lm(lm)\n")) == [
        ("SLM003", 8)]


def test_slm003_list_of_predictors_bound_in_a_loop() -> None:
    assert _codes(_module("self.ps = [dspy.Predict('q -> a') for _ in range(3)]\nfor p in self.ps:\n"
                          "    p.set_lm(lm)\n")) == []


def test_slm003_dict_of_predictors_bound_through_values() -> None:
    assert _codes(_module("self.ps = {'a': dspy.Predict('q -> a')}\nfor p in self.ps.values():\n"
                          "    p.set_lm(lm)\n")) == []


def test_slm003_predictors_added_to_a_dict_one_by_one_are_tracked() -> None:
    assert _codes(_module("self.ps = {}\nself.ps['a'] = dspy.Predict('q -> a')\n")) == [("SLM003", 8)]


def test_slm003_is_exempt_for_subclasses_of_shared_lm_module() -> None:
    assert _codes("""
        import dspy
        from sharedlm import SharedLMModule
        class Base(SharedLMModule): ...
        class P(Base):
            def __init__(self, shared_lm):
                super().__init__(shared_lm)
                self.p = dspy.Predict("q -> a")
    """) == []


def test_slm003_a_submodule_holding_unbound_predictors_is_flagged_where_it_is_created() -> None:
    assert _codes("""
        import dspy
        class Child(dspy.Module):
            def __init__(self):
                self.p = dspy.Predict("q -> a")
        class Parent(dspy.Module):
            def __init__(self, lm):
                if lm is None:
                    raise ValueError("lm")
                self.child = Child()
    """) == [("SLM003", 5), ("SLM003", 10)]


def test_slm003_a_submodule_given_the_lm_is_bound() -> None:
    assert _codes("""
        import dspy
        class Child(dspy.Module):
            def __init__(self, lm):
                if lm is None:
                    raise ValueError("lm")
                self.p = dspy.Predict("q -> a")
                self.p.set_lm(lm)
        class Parent(dspy.Module):
            def __init__(self, lm):
                if lm is None:
                    raise ValueError("lm")
                self.child = Child(lm)
    """) == []


def test_slm003_is_not_reported_outside_dspy_modules() -> None:
    assert _codes("""
        import dspy
        class Holder:
            def __init__(self):
                self.p = dspy.Predict("q -> a")
    """) == []


def test_slm003_predictor_from_a_base_constructor_is_reported_once() -> None:
    assert _codes("""
        import dspy
        class Base(dspy.Module):
            def __init__(self):
                self.p = dspy.Predict("q -> a")
        class Sub(Base):
            def __init__(self):
                super().__init__()
    """) == [("SLM003", 5)]


def test_slm004_lm_argument_without_a_none_check() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            def __init__(self, shared_lm):
                self.shared_lm = shared_lm
    """) == [("SLM004", 4)]


@pytest.mark.parametrize("check", [
    "if shared_lm is None: raise ValueError('x')",
    "if shared_lm is not None: self.set_lm(shared_lm)",
    "if not shared_lm: raise ValueError('x')",
    "assert shared_lm is not None",
    "assert shared_lm",
    "self.lm = shared_lm or get_shared_lm()",
    "self.lm = shared_lm if shared_lm is not None else get_shared_lm()",
    "if not isinstance(shared_lm, dspy.LM): raise TypeError('x')",
    "sharedlm.bind_shared_lm(self, shared_lm)",
    "self.lm = require_lm(shared_lm)",
])
def test_slm004_recognised_checks(check: str) -> None:
    source = ("import dspy\nimport sharedlm\nclass P(dspy.Module):\n"
              f"    def __init__(self, shared_lm):\n        {check}\n")
    assert [code for code, _ in _codes(source)] == []


@pytest.mark.parametrize("parameter", ["lm", "shared_lm", "llm", "judge_lm", "_lm", "sharedLM", "model: dspy.LM",
                                       "engine: 'dspy.BaseLM | None'", "x: Optional[dspy.clients.base_lm.BaseLM]"])
def test_slm004_lm_parameters_by_name_or_annotation(parameter: str) -> None:
    source = ("import dspy\nfrom typing import Optional\nclass P(dspy.Module):\n"
              f"    def __init__(self, {parameter}):\n        pass\n")
    assert [code for code, _ in _codes(source)] == ["SLM004"]


@pytest.mark.parametrize("parameter", ["lm_name", "model_name", "lm_kwargs", "film", "helm", "lm: str", "realm"])
def test_slm004_parameters_that_are_not_lms(parameter: str) -> None:
    source = f"import dspy\nclass P(dspy.Module):\n    def __init__(self, {parameter}):\n        pass\n"
    assert _codes(source) == []


def test_slm004_is_exempt_for_subclasses_of_shared_lm_module() -> None:
    assert _codes("""
        import sharedlm
        class P(sharedlm.SharedLMModule):
            def __init__(self, shared_lm):
                super().__init__(shared_lm)
    """) == []


def test_slm004_applies_to_a_plain_class_that_binds_the_lm() -> None:
    assert _codes("""
        import dspy
        class Service:
            def __init__(self, lm):
                self.program = dspy.Predict("q -> a")
                self.program.set_lm(lm)
    """) == [("SLM004", 4)]


def test_slm003_tuple_assignment_tracks_each_predictor() -> None:
    assert _codes(_module("self.p, self.q = dspy.Predict('q -> a'), dspy.Predict('q -> a')\nself.p.set_lm(lm)\n")) == [
        ("SLM003", 7)]
