"""A synthetic report in the documented shape, for the claims, tables and plot."""

from __future__ import annotations

from typing import Any

import pytest


def make_row(variant: str, count: int, wall: float, **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "variant": variant, "workflows": count, "status": "ok", "note": None, "fd_limit": None, "wall_s": wall,
        "floor_s": None, "vs_best": 1.0, "vs_floor": None, "units_ok": count, "units_failed": 0, "errors": {},
        "error_example": None, "calls_per_s": count / wall, "fds_before": 5, "peak_fds": 100, "rss_peak_mb": 80.0,
        "server": None, "engine": None, "completions": None, "samples_wall_s": [wall], "worker_s": wall + 1,
    }
    row.update(extra)
    return row


def _scenario(rows: list[dict[str, Any]], floor: float | None = None) -> dict[str, Any]:
    return {"title": "t", "unit": "workflows", "simulator": {}, "floor_s": floor, "repeats": 1, "skipped": None,
            "error": None, "rows": rows}


@pytest.fixture
def report() -> dict[str, Any]:
    server_rl = {"requests": 3200, "ok": 3000, "rate_limited": 120, "distinct_connections": 64,
                 "peak_in_flight": 64, "responses_by_status": {"200": 3000, "429": 120}}
    return {
        "version": 1,
        "machine": {"cores": 2, "usable_cores": 2, "cpu": "cpu", "memory_mb": 1000,
                    "open_file_limit": {"soft": 1024, "hard": 4096}, "load_average_at_start": [0.1, 0.1, 0.1],
                    "load_average_at_end": [0.2, 0.1, 0.1], "platform": "linux", "python": "3.11",
                    "versions": {"dspy": "3.4.1", "aiohttp": "3.12"}},
        "date": "2025-01-01T00:00:00+00:00", "command": "sharedlm bench", "quick": False, "provider": "simulator",
        "model": "openai/bench-model",
        "scenarios": {
            "connections": _scenario([
                make_row("sharedlm", 2000, 5.0, peak_fds=1000),
                make_row("lm-per-module", 2000, 20.0, peak_fds=4000),
                make_row("sharedlm", 2000, 6.0, fd_limit="1024 soft", peak_fds=900),
                make_row("lm-per-module", 2000, 3.0, fd_limit="1024 soft", status="failures", units_ok=10,
                         units_failed=1990, errors={"OSError(24, too many open files)": 1990}),
            ], 0.2),
            "latency": _scenario([
                make_row("sharedlm", 1000, 2.5, rss_peak_mb=130.0, vs_floor=1.25),
                make_row("plain-shared", 1000, 20.0, vs_floor=10.0),
                make_row("sharedlm", 1, 2.1, rss_peak_mb=80.0, note="RSS baseline (1 workflow)"),
            ], 2.0),
            "rate-limited": _scenario([
                make_row("sharedlm", 3000, 11.0, floor_s=9.375, vs_floor=11.0 / 9.375, server=server_rl),
                make_row("plain-shared", 3000, 30.0, floor_s=9.375, vs_floor=3.2, units_failed=300, units_ok=2700,
                         status="failures", server=server_rl),
            ]),
            "budget": _scenario([
                make_row("sharedlm", 700, 70.5, server={**server_rl, "rate_limited": 0, "requests": 700},
                         completions={"first_s": 0.0, "last_s": 70.4, "max_in_60s": 595}),
            ]),
            "overhead": _scenario([
                make_row("instant-engine", 3000, 3.0),
                make_row("plain-shared", 3000, 10.0),
                make_row("sharedlm", 3000, 3.5),
                make_row("sharedlm-flow-off", 3000, 3.4),
            ]),
        },
    }
