"""Behaviour of the demo's bundled dataset and row source."""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path

from sharedlm.runner._demo import demo_dataset, demo_rows

GENERATOR = Path(__file__).parents[2] / "src" / "sharedlm" / "data" / "_make_demo_rows.py"


def load_generator() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("make_demo_rows_under_test", GENERATOR)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_bundled_dataset_has_at_least_1000_rows_with_unique_ids_and_text() -> None:
    rows = demo_dataset()

    assert len(rows) >= 1000
    assert len({row["id"] for row in rows}) == len(rows)
    assert all(set(row) == {"id", "text"} and len(row["text"]) > 20 for row in rows)


def test_the_bundled_dataset_is_exactly_what_its_generator_writes() -> None:
    generator = load_generator()

    assert generator.render(generator.make_rows()) == generator.OUTPUT.read_text(encoding="utf-8")


def test_demo_rows_take_the_first_rows() -> None:
    source, total = demo_rows(3)

    rows = list(source)
    assert total == 3
    assert [r.fields["id"] for r in rows if r.fields] == ["msg-0001", "msg-0002", "msg-0003"]


def test_more_demo_rows_than_the_dataset_cycle_with_new_ids() -> None:
    size = len(demo_dataset())
    source, total = demo_rows(size + 2)

    ids = [r.fields["id"] for r in source if r.fields]
    assert total == size + 2
    assert len(set(ids)) == size + 2
    assert ids[-1] == "msg-0002-2"
