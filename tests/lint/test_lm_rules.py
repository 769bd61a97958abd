"""SLM001, SLM002, SLM005, SLM006, SLM007: where LMs are built and the knobs that do nothing."""

from __future__ import annotations

import textwrap

from sharedlm.lint import Finding, lint_source


def _lint(source: str, *, strict: bool = False) -> list[Finding]:
    return lint_source(textwrap.dedent(source), strict=strict)


def _codes(source: str, *, strict: bool = False) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in _lint(source, strict=strict)]


def test_slm001_lm_built_in_aforward() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            async def aforward(self, q):
                return dspy.LM("m")
    """) == [("SLM001", 5)]


def test_slm001_message_names_the_call_path() -> None:
    [finding] = _lint("""
        import dspy
        class P(dspy.Module):
            def forward(self, q):
                return self._lm()
            def _lm(self):
                return dspy.LM("m")
    """)
    assert finding.code == "SLM001"
    assert "P.forward -> P._lm" in finding.message


def test_slm001_follows_super_calls_to_a_base_method() -> None:
    assert _codes("""
        import dspy
        class Base(dspy.Module):
            def build(self):
                return dspy.LM("m")
        class P(Base):
            def forward(self, q):
                return super().build()
    """) == [("SLM001", 5)]


def test_slm001_follows_class_name_calls_to_static_methods() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            @staticmethod
            def build():
                return dspy.LM("m")
            def forward(self, q):
                return P.build()
    """) == [("SLM001", 6)]


def test_slm001_counts_a_method_passed_as_a_callback() -> None:
    assert _codes("""
        import asyncio, dspy
        class P(dspy.Module):
            def build(self):
                return dspy.LM("m")
            async def aforward(self, q):
                return await asyncio.to_thread(self.build)
    """) == [("SLM001", 5)]


def test_slm001_is_not_reported_for_a_method_only_the_constructor_calls() -> None:
    assert _codes("""
        import dspy
        class P:
            def setup(self):
                return dspy.LM("m")
            def __init__(self):
                self.lm = self.setup()
    """) == [("SLM005", 5)]


def test_cached_factory_called_from_forward_is_clean() -> None:
    assert _codes("""
        import functools, dspy
        @functools.lru_cache(maxsize=1)
        def shared():
            return dspy.LM("m")
        class P(dspy.Module):
            def forward(self, q):
                return shared()
    """) == []


def test_slm002_lm_built_in_a_module_constructor() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            def __init__(self):
                self.lm = dspy.LM("m")
    """) == [("SLM002", 5)]


def test_slm002_applies_to_a_subclass_of_a_subclass_in_the_same_file() -> None:
    assert _codes("""
        import dspy
        class A(dspy.Module): ...
        class B(A): ...
        class C(B):
            def __init__(self):
                self.lm = dspy.LM("m")
    """) == [("SLM002", 7)]


def test_slm005_strict_reports_an_lm_at_import_time() -> None:
    assert _codes("""
        import dspy
        dspy.configure(lm=dspy.LM("m"))
    """, strict=True) == [("SLM005", 3)]


def test_single_module_level_lm_used_through_configure_is_a_singleton_by_default() -> None:
    assert _codes("""
        import dspy
        lm = dspy.LM("m")
        dspy.configure(lm=lm)
    """) == []


def test_slm005_strict_reports_a_factory_building_a_new_lm_per_call() -> None:
    [finding] = _lint("""
        import dspy
        def make_lm():
            return dspy.LM("m")
    """, strict=True)
    assert finding.code == "SLM005"
    assert "make_lm()" in finding.message


def test_factory_not_seen_running_repeatedly_is_silent_by_default() -> None:
    assert _codes("""
        import dspy
        def main():
            dspy.configure(lm=dspy.LM("m"))
        main()
    """) == []


def test_global_none_check_singleton_is_clean() -> None:
    assert _codes("""
        import dspy
        _lm = None
        def get_lm():
            global _lm
            if _lm is None:
                _lm = dspy.LM("m")
            return _lm
    """) == []


def test_lazy_init_of_module_level_state_through_a_builder_is_clean() -> None:
    assert _codes("""
        import threading, dspy
        class _State:
            lm = None
        _state = _State()
        _lock = threading.Lock()
        def _build():
            _state.lm = dspy.LM("m")
        def get_lm():
            with _lock:
                if _state.lm is None:
                    _build()
            return _state.lm
    """) == []


def test_a_builder_also_called_without_a_check_is_flagged() -> None:
    assert _codes("""
        import dspy
        _lm = None
        def _build():
            return dspy.LM("m")
        def get_lm():
            global _lm
            if _lm is None:
                _lm = _build()
            return _lm
        def fresh():
            return _build()
    """, strict=True) == [("SLM005", 5)]


def test_cache_on_an_instance_method_is_per_instance_and_flagged() -> None:
    assert _codes("""
        import functools, dspy
        class Holder:
            @functools.cache
            def lm(self):
                return dspy.LM("m")
    """) == [("SLM005", 6)]


def test_subclass_of_dspy_lm_defined_in_the_file_counts_as_an_lm() -> None:
    assert _codes("""
        import dspy
        class MyLM(dspy.LM): ...
        class P(dspy.Module):
            def forward(self, q):
                return MyLM("m")
    """) == [("SLM001", 6)]


def test_lm_copy_is_not_a_new_lm() -> None:
    assert _codes("""
        import dspy
        class P(dspy.Module):
            def forward(self, q):
                return self.lm.copy(temperature=0.5)
    """) == []


def test_slm006_points_at_the_keyword() -> None:
    source = textwrap.dedent("""
        import functools, dspy
        @functools.cache
        def get_lm():
            return dspy.LM("m",
                           max_parallel_requests=2000)
    """)
    [knob] = lint_source(source)
    line = source.splitlines()[knob.line - 1]
    assert (knob.code, knob.line, line[knob.column - 1:]) == ("SLM006", 6, "max_parallel_requests=2000)")
    assert "sharedlm.configure(max_parallel_requests=...)" in knob.fix
    assert "SHAREDLM_MAX_PARALLEL_REQUESTS" in knob.fix


def test_slm006_is_not_reported_for_sharedlm_configure() -> None:
    assert _codes("""
        import sharedlm
        sharedlm.configure(max_parallel_requests=2000)
    """) == []


def test_slm007_async_max_workers_in_configure() -> None:
    [finding] = _lint("""
        import dspy
        dspy.settings.configure(async_max_workers=2000)
    """)
    assert (finding.code, finding.line) == ("SLM007", 3)
    assert "sharedlm.configure(max_parallel_requests=...)" in finding.fix


def test_slm007_other_configure_settings_are_fine() -> None:
    assert _codes("""
        import dspy
        dspy.configure(track_usage=True, adapter=None)
    """) == []


def test_slm005_in_the_main_block_says_so() -> None:
    [finding] = _lint("""
        import dspy
        if __name__ == "__main__":
            dspy.configure(lm=dspy.LM("m"))
    """, strict=True)
    assert finding.code == "SLM005"
    assert "__main__ block" in finding.message


def test_slm006_is_not_reported_for_a_custom_base_lm_with_its_own_parameter() -> None:
    assert _codes("""
        import functools, dspy
        class Bounded(dspy.BaseLM):
            def __init__(self, model, max_parallel_requests):
                super().__init__(model)
        @functools.cache
        def get_lm():
            return Bounded("m", max_parallel_requests=10)
    """) == []


def test_slm006_is_reported_for_a_subclass_of_dspy_lm() -> None:
    assert _codes("""
        import functools, dspy
        class Tagged(dspy.LM): ...
        @functools.cache
        def get_lm():
            return Tagged("m", max_parallel_requests=10)
    """) == [("SLM006", 6)]


def test_slm005_second_module_level_lm_for_the_same_model_is_a_hazard() -> None:
    [finding] = _lint("""
        import dspy
        extract_lm = dspy.LM("openai/gpt-4o-mini")
        judge_lm = dspy.LM("openai/gpt-4o-mini", temperature=1.0)
    """)
    assert (finding.code, finding.line) == ("SLM005", 4)
    assert "`extract_lm` (line 3)" in finding.message
    assert "extract_lm.copy(" in finding.fix


def test_module_level_lms_for_different_models_are_clean_by_default() -> None:
    assert _codes("""
        import dspy
        student = dspy.LM("openai/gpt-4o-mini")
        teacher = dspy.LM("openai/gpt-4o")
    """) == []


def test_rebinding_the_same_name_replaces_the_lm_and_is_clean_by_default() -> None:
    assert _codes("""
        import dspy
        lm = dspy.LM("openai/gpt-4o-mini")
        lm = dspy.LM("openai/gpt-4o-mini", api_key="k")
    """) == []


def test_slm005_lm_built_inside_a_loop_is_a_hazard() -> None:
    [finding] = _lint("""
        import dspy
        def run(questions):
            for question in questions:
                lm = dspy.LM("m")
                lm(question)
    """)
    assert (finding.code, finding.line) == ("SLM005", 5)
    assert "every iteration" in finding.message
    assert "before the loop" in finding.fix


def test_one_lm_per_loop_value_is_strict_only() -> None:
    source = """
        import dspy
        lms = [dspy.LM(model) for model in ("a", "b")]
    """
    assert (_codes(source), _codes(source, strict=True)) == ([], [("SLM005", 3)])


def test_slm005_factory_called_in_a_loop_is_a_hazard() -> None:
    [finding] = _lint("""
        import dspy
        def make_lm():
            return dspy.LM("m")
        def run(questions):
            return [make_lm()(q) for q in questions]
    """)
    assert (finding.code, finding.line) == ("SLM005", 4)
    assert "line 6" in finding.message
    assert "@functools.cache" in finding.fix


def test_slm005_lm_built_per_instance_of_a_plain_class_is_a_hazard() -> None:
    [finding] = _lint("""
        import dspy
        def make_lm():
            return dspy.LM("m")
        class Agent:
            def __init__(self):
                self.lm = make_lm()
    """)
    assert (finding.code, finding.line) == ("SLM005", 4)
    assert "every Agent instance" in finding.message
    assert "Agent.__init__ -> make_lm()" in finding.message


def test_slm002_follows_the_constructor_into_a_module_level_factory() -> None:
    assert _codes("""
        import dspy
        def make_lm():
            return dspy.LM("m")
        class P(dspy.Module):
            def __init__(self):
                self.predict = dspy.Predict("q -> a")
                self.predict.set_lm(make_lm())
    """) == [("SLM002", 4)]


def test_slm001_lm_built_in_a_web_request_handler() -> None:
    [finding] = _lint("""
        import dspy
        from fastapi import FastAPI
        app = FastAPI()
        @app.post("/predict")
        async def predict(question: str):
            lm = dspy.LM("m")
            return await lm.acall(question)
    """)
    assert (finding.code, finding.line) == ("SLM001", 7)
    assert "web route handler predict()" in finding.message
    assert "outside the handler" in finding.fix


def test_slm007_is_not_reported_when_dspy_asyncify_is_used() -> None:
    assert _codes("""
        import dspy
        dspy.configure(async_max_workers=4)
        program = dspy.asyncify(dspy.Predict("q -> a"))
    """, strict=True) == []


def test_module_level_lms_in_exclusive_branches_are_not_duplicates() -> None:
    assert _codes("""
        import os, dspy
        if os.getenv("FAST"):
            fast = dspy.LM("openai/gpt-4o-mini")
        else:
            slow = dspy.LM("openai/gpt-4o-mini", temperature=0)
    """) == []


def test_lm_built_in_a_loop_over_fixed_values_is_strict_only() -> None:
    source = """
        import dspy
        def check_choices():
            for choice in ("auto", "none", "required"):
                lm = dspy.LM("m", cache=False)
                lm("hi", tool_choice=choice)
    """
    assert (_codes(source), _codes(source, strict=True)) == ([], [("SLM005", 5)])
    assert "a loop over 3 fixed values builds 3 LMs" in _lint(source, strict=True)[0].message


def test_slm005_strict_message_on_a_custom_lm_class_does_not_claim_dspy_lm_limits() -> None:
    [finding] = _lint("""
        import dspy
        class Echo(dspy.BaseLM): ...
        echo = Echo("m")
    """, strict=True)
    assert finding.code == "SLM005"
    assert "100 connections" not in finding.message


def test_several_shared_models_are_not_findings_even_in_strict_mode() -> None:
    assert _codes("""
        import dspy
        import sharedlm
        task_lm = sharedlm.get_shared_lm()
        judge_lm = sharedlm.get_shared_lm("openai/gpt-4o")
        class Judge(dspy.Module):
            def __init__(self):
                super().__init__()
                self.judge = dspy.Predict("q, a -> ok")
                self.judge.set_lm(sharedlm.get_shared_lm("openai/gpt-4o"))
            def forward(self, q, a):
                with dspy.context(lm=sharedlm.get_shared_lm("openai/gpt-4o-mini")):
                    return self.judge(q=q, a=a)
        def optimize():
            return dspy.MIPROv2(metric=None, prompt_model=judge_lm, task_model=task_lm, auto="light")
    """, strict=True) == []


def test_slm005_fix_names_the_shared_lm_of_the_same_model() -> None:
    [finding] = _lint("""
        import dspy
        judge_lm = dspy.LM("openai/gpt-4o")
    """, strict=True)
    assert finding.code == "SLM005"
    assert "sharedlm.get_shared_lm('openai/gpt-4o')" in (finding.fix or "")
