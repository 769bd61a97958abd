"""The PNG plot, drawn from a report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sharedlm.bench._plot import write_plot

pytest.importorskip("matplotlib")


def test_plot_writes_a_png(report: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "bench.png"
    write_plot(report, path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_of_a_report_without_workflow_scenarios_still_writes_a_png(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    write_plot({"date": "today", "scenarios": {}}, path)
    assert path.exists()
