"""SLM003 (predictors never bound to an LM) and SLM004 (an LM argument never checked against None)."""

from __future__ import annotations

import textwrap

import pytest

from sharedlm.lint import lint_source


def _codes(source: str, *, strict: bool = False) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in lint_source(textwrap.dedent(source), strict=strict)]


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


SUBMODULE_HELD_BY_AN_LM_PARENT = """
    import dspy
    class Child(dspy.Module):
        def __init__(self):
            self.p = dspy.Predict("q -> a")
    class Parent(dspy.Module):
        def __init__(self, lm):
            if lm is None:
                raise ValueError("lm")
            self.child = Child()
"""


def test_slm003_a_submodule_holding_unbound_predictors_is_flagged_where_it_is_created() -> None:
    assert _codes(SUBMODULE_HELD_BY_AN_LM_PARENT) == [("SLM003", 10)]


def test_slm003_strict_also_flags_the_submodule_predictor_itself() -> None:
    assert _codes(SUBMODULE_HELD_BY_AN_LM_PARENT, strict=True) == [("SLM003", 5), ("SLM003", 10)]


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
    """, strict=True) == [("SLM003", 5)]


def test_slm004_lm_argument_without_a_none_check() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            def __init__(self, shared_lm):
                self.shared_lm = shared_lm
    """, strict=True) == [("SLM004", 4)]


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
    assert [code for code, _ in _codes(source, strict=True)] == []


@pytest.mark.parametrize("parameter", ["lm", "shared_lm", "llm", "judge_lm", "_lm", "sharedLM", "model: dspy.LM",
                                       "engine: 'dspy.BaseLM | None'", "x: Optional[dspy.clients.base_lm.BaseLM]"])
def test_slm004_lm_parameters_by_name_or_annotation(parameter: str) -> None:
    source = ("import dspy\nfrom typing import Optional\nclass P(dspy.Module):\n"
              f"    def __init__(self, {parameter}):\n        pass\n")
    assert [code for code, _ in _codes(source, strict=True)] == ["SLM004"]


@pytest.mark.parametrize("parameter", ["lm_name", "model_name", "lm_kwargs", "film", "helm", "lm: str", "realm"])
def test_slm004_parameters_that_are_not_lms(parameter: str) -> None:
    source = f"import dspy\nclass P(dspy.Module):\n    def __init__(self, {parameter}):\n        pass\n"
    assert _codes(source, strict=True) == []


def test_slm004_is_exempt_for_subclasses_of_shared_lm_module() -> None:
    assert _codes("""
        import sharedlm
        class P(sharedlm.SharedLMModule):
            def __init__(self, shared_lm):
                super().__init__(shared_lm)
    """, strict=True) == []


def test_slm004_applies_to_a_plain_class_that_binds_the_lm() -> None:
    assert _codes("""
        import dspy
        class Service:
            def __init__(self, lm):
                self.program = dspy.Predict("q -> a")
                self.program.set_lm(lm)
    """, strict=True) == [("SLM004", 4)]


def test_slm004_is_strict_only() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            def __init__(self, shared_lm):
                self.shared_lm = shared_lm
    """) == []


def test_slm003_tuple_assignment_tracks_each_predictor() -> None:
    assert _codes(_module("self.p, self.q = dspy.Predict('q -> a'), dspy.Predict('q -> a')\nself.p.set_lm(lm)\n")) == [
        ("SLM003", 7)]


# --- binding across modules: the sub-module example and its variants ---

SUB = """
import dspy
import sharedlm
class Sub(dspy.Module):
    def __init__(self):
        super().__init__()
        self.cot = dspy.ChainOfThought("q -> a")
"""


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_submodule_built_by_a_shared_lm_module_parent_is_bound(strict: bool) -> None:
    assert _codes(SUB + """
class Top(sharedlm.SharedLMModule):
    def __init__(self, shared_lm):
        super().__init__(shared_lm)
        self.sub = Sub()
""", strict=strict) == []


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_submodule_bound_by_set_lm_on_the_parent_after_construction(strict: bool) -> None:
    assert _codes(SUB + """
class Top(dspy.Module):
    def __init__(self):
        super().__init__()
        self.sub = Sub()
def build(lm):
    top = Top()
    top.set_lm(lm)
    return top
""", strict=strict) == []


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_submodule_bound_by_bind_shared_lm_on_the_parent(strict: bool) -> None:
    assert _codes(SUB + """
class Top(dspy.Module):
    def __init__(self, lm):
        super().__init__()
        self.sub = Sub()
        sharedlm.bind_shared_lm(self, lm)
""", strict=strict) == []


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_submodule_bound_by_bind_shared_lm_where_the_parent_is_built(strict: bool) -> None:
    assert _codes(SUB + """
class Top(dspy.Module):
    def __init__(self):
        super().__init__()
        self.sub = Sub()
top = Top()
sharedlm.bind_shared_lm(top, sharedlm.get_shared_lm())
""", strict=strict) == []


TWO_PARENTS = SUB + """
class Top(sharedlm.SharedLMModule):
    def __init__(self, shared_lm):
        super().__init__(shared_lm)
        self.sub = Sub()
class Other(dspy.Module):
    def __init__(self):
        super().__init__()
        self.sub = Sub()
"""


def test_submodule_used_by_two_parents_is_flagged_at_the_parent_that_does_not_bind() -> None:
    [finding] = lint_source(TWO_PARENTS)
    assert (finding.code, finding.line) == ("SLM003", 16)
    assert "self.sub (Sub(...), which holds predictors it does not bind)" in finding.message
    assert "Other.__init__" in finding.message
    assert "self.sub.set_lm(shared_lm)" in finding.fix


def test_submodule_used_by_two_parents_strict_also_flags_it_at_the_submodule() -> None:
    findings = lint_source(TWO_PARENTS, strict=True)
    assert [(f.code, f.line) for f in findings] == [("SLM003", 7), ("SLM003", 16)]
    assert "where Sub is built at <string>:16" in findings[0].message


def test_submodule_never_built_in_the_checked_code_is_silent_by_default() -> None:
    assert (_codes(SUB), _codes(SUB, strict=True)) == ([], [("SLM003", 7)])


def test_submodule_built_by_a_parent_that_uses_no_lm_is_silent_by_default() -> None:
    source = SUB + """
class Top(dspy.Module):
    def __init__(self):
        super().__init__()
        self.sub = Sub()
"""
    assert (_codes(source), _codes(source, strict=True)) == ([], [("SLM003", 7), ("SLM003", 12)])


def test_predictors_of_a_module_using_only_the_global_lm_are_silent_by_default() -> None:
    source = """
        import dspy
        dspy.configure(lm=dspy.LM("m"))
        class RAG(dspy.Module):
            def __init__(self):
                self.respond = dspy.ChainOfThought("context, question -> response")
            def forward(self, question):
                return self.respond(context="", question=question)
        rag = RAG()
    """
    assert (_codes(source), _codes(source, strict=True)) == ([], [("SLM005", 3), ("SLM003", 6)])


def test_predictor_left_unbound_beside_a_bound_one_is_a_hazard() -> None:
    assert _codes(_module("self.p = dspy.Predict('q -> a')\nself.q = dspy.Predict('q -> a')\n"
                          "self.p.set_lm(lm)\n")) == [("SLM003", 8)]


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_slm003_predictor_only_run_inside_dspy_context_with_an_lm_is_bound(strict: bool) -> None:
    assert _codes(_module("self.lm = lm\nself.judge = dspy.ChainOfThought('q -> a')\n") + textwrap.dedent("""
            def forward(self, q):
                with dspy.context(lm=self.lm):
                    return self.judge(q=q)
    """).replace("\n", "\n    ").rstrip() + "\n", strict=strict) == []


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_slm003_predictor_run_with_an_lm_argument_is_bound(strict: bool) -> None:
    assert _codes(_module("self.lm = lm\nself.judge = dspy.Predict('q -> a')\n") + textwrap.dedent("""
            async def aforward(self, q):
                return await self.judge.acall(q=q, lm=self.lm)
    """).replace("\n", "\n    ").rstrip() + "\n", strict=strict) == []


def test_slm003_predictor_also_run_outside_the_lm_context_is_unbound_for_strict() -> None:
    # The class uses its LM for one call, so whether the other call means the global LM cannot be told.
    source = _module("self.lm = lm\nself.judge = dspy.Predict('q -> a')\n") + textwrap.dedent("""
            def forward(self, q):
                with dspy.context(lm=self.lm):
                    first = self.judge(q=q)
                return self.judge(q=first.a)
    """).replace("\n", "\n    ").rstrip() + "\n"
    assert (_codes(source), _codes(source, strict=True)) == ([], [("SLM003", 8)])


def test_slm003_lm_received_and_used_for_something_else_is_silent_by_default() -> None:
    source = """
        import dspy
        class Agent(dspy.Module):
            def __init__(self, sub_lm=None):
                self.sub_lm = sub_lm
                self.act = dspy.Predict("q -> a")
            def query(self, prompt):
                return self.sub_lm(prompt)
    """
    assert (_codes(source), _codes(source, strict=True)) == ([], [("SLM004", 4), ("SLM003", 6)])


def test_slm003_lm_received_but_never_used_is_a_hazard() -> None:
    assert _codes("""
        import dspy
        class Agent(dspy.Module):
            def __init__(self, lm):
                self.lm = lm
                self.act = dspy.Predict("q -> a")
            def forward(self, q):
                return self.act(q=q)
    """) == [("SLM003", 6)]
