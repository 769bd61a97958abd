"""benchmarks/bench_many_models.py: its options, checked before anything runs (no simulator, no LM)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_many_models.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_many_models", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look the module up by name
    spec.loader.exec_module(module)
    return module


def test_defaults_are_the_issues_run(bench: ModuleType) -> None:
    args = bench.parse_args([])
    assert (args.workflows, args.b_calls, args.a_cap, args.latency) == (2000, 2000, 32, 0.5)
    assert bench.command_line(args) == "python benchmarks/bench_many_models.py"


def test_quick_lowers_only_the_counts_not_given(bench: ModuleType) -> None:
    args = bench.parse_args(["--quick", "--b-calls", "300"])
    assert (args.workflows, args.b_calls) == (400, 300)


def test_the_command_line_repeats_the_options_given(bench: ModuleType) -> None:
    args = bench.parse_args(["--latency", "1", "--json", "out file.json"])
    assert bench.command_line(args) == "python benchmarks/bench_many_models.py --latency 1 --json 'out file.json'"


@pytest.mark.parametrize(("argv", "named"), [
    (["--workflows", "0"], "--workflows"),
    (["--latency", "-1"], "--latency"),
    (["--b-calls", "10", "--b-workers", "20"], "--b-workers"),
    (["--a-cap", "256", "--cap", "256"], "--a-cap"),
    (["--personality", "vllm"], "--personality"),
])
def test_a_bad_option_is_a_usage_error_naming_it(bench: ModuleType, argv: list[str], named: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        bench.parse_args(argv)
    assert exited.value.code == 2
    assert f"argument {named}" in capsys.readouterr().err
