"""Import aliases: every public spelling of dspy's classes resolves to a dotted dspy name."""

from __future__ import annotations

import ast

import pytest

from sharedlm.lint._names import collect_aliases, is_dspy, is_dspy_configure, is_sharedlm


def _qualify(source: str, expression: str) -> str | None:
    aliases = collect_aliases(ast.parse(source))
    node = ast.parse(expression, mode="eval").body
    return aliases.qualify(node)


@pytest.mark.parametrize(("source", "expression", "dotted"), [
    ("import dspy", "dspy.LM", "dspy.LM"),
    ("import dspy as d", "d.LM", "dspy.LM"),
    ("from dspy import LM", "LM", "dspy.LM"),
    ("from dspy import Predict as P", "P", "dspy.Predict"),
    ("from dspy.clients import LM", "LM", "dspy.clients.LM"),
    ("from dspy.clients.lm import LM", "LM", "dspy.clients.lm.LM"),
    ("import dspy.predict", "dspy.predict.Predict", "dspy.predict.Predict"),
    ("import dspy.predict as dp", "dp.ChainOfThought", "dspy.predict.ChainOfThought"),
    ("from dspy import *", "ChainOfThought", "dspy.ChainOfThought"),
    ("import dspy\nLanguageModel = dspy.LM", "LanguageModel", "dspy.LM"),
    ("from . import utils", "utils.get_shared_lm", ".utils.get_shared_lm"),
    ("from .base import Base", "Base", ".base.Base"),
])
def test_alias_resolves_to_the_dotted_name(source: str, expression: str, dotted: str) -> None:
    assert _qualify(source, expression) == dotted


def test_an_unimported_name_stays_as_written() -> None:
    assert _qualify("", "Pipeline") == "Pipeline"


def test_a_call_result_is_not_a_name() -> None:
    assert _qualify("import dspy", "make().LM") is None


def test_lm_classes_are_recognised_under_every_module_path() -> None:
    names = frozenset({"LM"})
    assert all(is_dspy(dotted, names) for dotted in ("dspy.LM", "dspy.clients.LM", "dspy.clients.lm.LM"))
    assert not is_dspy("mylib.LM", names)


def test_configure_is_recognised_on_dspy_and_its_settings_only() -> None:
    assert is_dspy_configure("dspy.configure")
    assert is_dspy_configure("dspy.settings.configure")
    assert is_dspy_configure("dspy.dsp.utils.settings.settings.configure")
    assert not is_dspy_configure("sharedlm.configure")
    assert not is_dspy_configure("dspy.teleprompt.configure")


def test_sharedlm_names_are_recognised_from_the_package_or_a_private_module() -> None:
    assert is_sharedlm("sharedlm.SharedLMModule", "SharedLMModule")
    assert is_sharedlm("sharedlm._module.SharedLMModule", "SharedLMModule")
    assert not is_sharedlm("other.SharedLMModule", "SharedLMModule")
