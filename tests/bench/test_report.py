"""Tables and JSON: every scenario renders, and values near a target are rounded toward failing it."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from sharedlm.bench._claims import evaluate_claims
from sharedlm.bench._report import format_claim_value, print_report, write_json


def _value(value: float, target: str, unit: str = "x") -> str:
    return format_claim_value({"value": value, "target": target, "unit": unit})


def test_a_ratio_that_must_reach_a_target_is_rounded_down() -> None:
    assert _value(3.99991, ">= 4x") == "3.999x"


def test_a_share_that_must_stay_under_a_target_is_rounded_up() -> None:
    assert _value(0.0500001, "<= 5%", "%") == "5.001%"


def test_megabytes_counts_and_seconds_read_in_their_unit() -> None:
    assert _value(27.79, "", "MB") == "27.8 MB"
    assert _value(1990.0, "", "count") == "1,990"
    assert _value(5.0641, "", "s") == "5.064 s"


def test_a_figure_without_target_is_shown_as_is() -> None:
    assert _value(1.23456, "") == "1.235x"


def test_every_scenario_table_the_machine_and_the_claims_are_printed(report: dict[str, Any]) -> None:
    report["claims"] = evaluate_claims(report)
    out = io.StringIO()
    print_report(report, console=Console(file=out, width=250))
    text = out.getvalue()
    for name in report["scenarios"]:
        assert f"{name}: t" in text
    assert "machine" in text
    assert "claims" in text
    assert "PASS" in text


def test_a_skipped_scenario_prints_its_reason(report: dict[str, Any]) -> None:
    report["scenarios"]["latency"]["skipped"] = "skipped: needs the simulator"
    out = io.StringIO()
    print_report(report, console=Console(file=out, width=250))
    assert "latency: skipped: needs the simulator" in out.getvalue()


def test_json_round_trips(report: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    write_json(report, path)
    assert json.loads(path.read_text()) == report
