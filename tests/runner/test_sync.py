"""Behaviour of run_many from sync code and from inside a running event loop (as in a notebook)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest

from sharedlm.runner import run_many


class Upper:
    async def aforward(self, text: str) -> dict[str, str]:
        return {"upper": text.upper(), "thread": threading.current_thread().name}


def test_run_many_returns_one_result_per_row_from_sync_code() -> None:
    results = run_many(Upper(), [{"id": n, "text": f"t{n}"} for n in range(10)], concurrency=3)

    assert sorted(r.id for r in results) == list(range(10))
    assert all(r.ok for r in results)


async def test_run_many_works_inside_a_running_loop_on_a_helper_thread() -> None:
    results = run_many(Upper(), [{"text": "a"}])

    assert results[0].output is not None
    assert results[0].output["upper"] == "A"
    assert results[0].output["thread"] == "sharedlm-run-many"
    assert asyncio.get_running_loop().is_running()


def test_run_many_propagates_usage_errors_before_running() -> None:
    from sharedlm._errors import UsageError

    with pytest.raises(UsageError):
        run_many(Upper(), [{"text": "a"}], concurrency=0)


def test_run_many_shows_progress_on_stderr_and_nothing_on_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    results = run_many(Upper(), [{"text": "a"}], progress=True)

    assert results[0].ok
    captured = capsys.readouterr()
    assert "1/1 rows" in captured.err
    assert captured.out == ""


def _dspy_fixture(name: str) -> Any:
    from sharedlm.runner._program import load_program_target

    return load_program_target(f"{Path(__file__).parent / 'fixtures' / 'dspy_programs.py'}:{name}")


@pytest.fixture
def offline_shared_lm() -> None:
    import sharedlm

    # Nothing listens there: the fixture programs below never call the LM.
    sharedlm.configure(model="openai/sim-model", api_key="k", api_base="http://127.0.0.1:9/v1")


def _saved_state(path: Path) -> Path:
    program = _dspy_fixture("NoCall")()
    program.answer.signature = program.answer.signature.with_instructions("Answer like a pirate.")
    program.save(str(path))
    return path


@pytest.mark.usefixtures("offline_shared_lm")
def test_run_many_builds_a_plain_dspy_module_class_on_the_shared_lm() -> None:
    results = run_many(_dspy_fixture("NoCall"), [{"question": "a"}])

    assert results[0].output is not None
    assert results[0].output["shared"] is True


@pytest.mark.usefixtures("offline_shared_lm")
def test_run_many_calls_a_factory_function() -> None:
    results = run_many(_dspy_fixture("make_with_shared_lm"), [{"question": "a"}])

    assert results[0].output == {"answer": "A", "instructions": "Answer the question.", "shared": True,
                                 "model": "openai/sim-model"}


@pytest.mark.usefixtures("offline_shared_lm")
def test_run_many_loads_a_saved_state_before_the_first_row(tmp_path: Path) -> None:
    results = run_many(_dspy_fixture("NoCall"), [{"question": "a"}], load=_saved_state(tmp_path / "state.json"))

    assert results[0].output is not None
    assert results[0].output["instructions"] == "Answer like a pirate."


def test_run_many_with_a_missing_load_file_raises_naming_load(tmp_path: Path) -> None:
    from sharedlm._errors import UsageError

    with pytest.raises(UsageError, match=r"^load= .*nope\.json' does not exist"):
        run_many(Upper(), [{"text": "a"}], load=tmp_path / "nope.json")


@pytest.mark.usefixtures("offline_shared_lm")
async def test_arun_many_loads_a_saved_state_before_the_first_row(tmp_path: Path) -> None:
    from sharedlm.runner import arun_many

    rows = arun_many(_dspy_fixture("NoCall"), [{"question": "a"}], load=_saved_state(tmp_path / "state.json"))
    results = [result async for result in rows]

    assert results[0].output is not None
    assert results[0].output["instructions"] == "Answer like a pirate."


def test_an_error_a_row_raises_carries_no_trace_of_how_run_many_found_its_loop() -> None:
    seen: list[BaseException] = []

    async def program(text: str) -> dict[str, str]:
        try:
            raise ValueError(f"bad {text}")
        except ValueError as exc:
            seen.append(exc)
            raise

    results = run_many(program, [{"text": "a"}])

    assert results[0].error is not None
    assert seen[0].__context__ is None
