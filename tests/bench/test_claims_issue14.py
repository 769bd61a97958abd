"""The claims of issue 14, judged on a report: each personality's cap and header rows, latency, long latency."""

from __future__ import annotations

from typing import Any

import pytest

from sharedlm.bench._claims import evaluate_claims
from sharedlm.bench._scenarios import HEADERS_NOTE

from .conftest import make_row


def _claim(claims: list[dict[str, Any]], *fragments: str) -> dict[str, Any]:
    matches = [c for c in claims if all(f in c["claim"] for f in fragments)]
    assert len(matches) == 1, [c["claim"] for c in claims]
    return matches[0]


def _scenario(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"title": "t", "unit": "calls", "simulator": None, "floor_s": None, "repeats": 1, "skipped": None,
            "error": None, "rows": rows}


@pytest.fixture
def report14() -> dict[str, Any]:
    capped = {"requests": 3060, "ok": 3000, "rate_limited": 60, "distinct_connections": 64, "peak_in_flight": 64,
              "responses_by_status": {}}
    headers = {**capped, "requests": 3100, "rate_limited": 100}
    return {"scenarios": {
        "openai": _scenario([
            {**make_row("sharedlm", 3000, 10.5, floor_s=9.375, vs_floor=10.5 / 9.375, server=capped),
             "note": "64 in flight, no Retry-After"},
            {**make_row("sharedlm", 3000, 33.0, floor_s=30.0, vs_floor=1.1, server=headers), "note": HEADERS_NOTE},
        ]),
        "personalities": _scenario([
            {**make_row("sharedlm", 1000, 2.8, floor_s=2.0, vs_floor=1.4), "note": "gemini"},
            {**make_row("plain-shared", 1000, 14.0, floor_s=2.0, vs_floor=7.0), "note": "gemini"},
        ]),
        "long-latency": _scenario([
            {**make_row("sharedlm", 3000, 50.0, floor_s=40.0, vs_floor=1.25), "note": "max_parallel_requests=5000"},
        ]),
    }}


def test_a_capped_row_is_judged_on_loss_ideal_and_429_share(report14: dict[str, Any]) -> None:
    claims = evaluate_claims(report14, (14,))
    assert _claim(claims, "openai", "no Retry-After", "no call lost")["passed"] is True
    ideal = _claim(claims, "openai", "no Retry-After", "within 1.2x")
    assert ideal["value"] == pytest.approx(10.5 / 9.375)
    assert ideal["passed"] is True
    share = _claim(claims, "openai", "no Retry-After", "429s at most 3%")
    assert share["value"] == pytest.approx(60 / 3060)
    assert share["passed"] is True


def test_a_header_row_has_the_tighter_targets(report14: dict[str, Any]) -> None:
    claims = evaluate_claims(report14, (14,))
    assert _claim(claims, HEADERS_NOTE, "within 1.15x")["passed"] is True
    share = _claim(claims, HEADERS_NOTE, "429s at most 2%")
    assert share["value"] == pytest.approx(100 / 3100)
    assert share["passed"] is False


def test_personality_latency_is_judged_against_the_floor_and_plain(report14: dict[str, Any]) -> None:
    claims = evaluate_claims(report14, (14,))
    assert _claim(claims, "gemini personality", "within 1.5x")["passed"] is True
    speedup = _claim(claims, "gemini personality", "at least 4x")
    assert speedup["value"] == pytest.approx(5.0)
    assert speedup["passed"] is True


def test_long_latency_just_over_the_target_fails(report14: dict[str, Any]) -> None:
    claim = _claim(evaluate_claims(report14, (14,)), "20 s latency")
    assert claim["value"] == pytest.approx(1.25)
    assert claim["passed"] is False


def test_claims_of_scenarios_not_run_are_left_out(report14: dict[str, Any]) -> None:
    del report14["scenarios"]["long-latency"]
    assert not [c for c in evaluate_claims(report14, (14,)) if "20 s latency" in c["claim"]]


def test_dspy_alone_is_a_figure_beside_the_default_personality_without_a_target(report14: dict[str, Any]) -> None:
    report14["scenarios"]["personalities"]["rows"] += [
        {**make_row("sleeping-engine", 1000, 3.2, floor_s=2.0, vs_floor=1.6), "note": "DSPy alone, no network"},
        {**make_row("sharedlm", 1000, 4.0, floor_s=2.0, vs_floor=2.0), "note": "default"},
    ]
    claims = evaluate_claims(report14, (14,))
    alone = _claim(claims, "1,000 workflows at 1 s, DSPy alone")
    assert (alone["value"], alone["passed"]) == (pytest.approx(1.6), None)
    added = _claim(claims, "1,000 workflows at 1 s, sharedlm (default) against DSPy alone")
    assert (added["value"], added["passed"]) == (pytest.approx(4.0 / 3.2), None)
