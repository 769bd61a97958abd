"""Presenting a report: one ``rich`` table per scenario, the machine, the claims; and the JSON file.

Figures compared against a target are shown rounded toward failing it (a ratio that must reach 4 is rounded
down, a cost that must stay under 5% is rounded up), so a table never reads as a pass it is not.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from sharedlm.bench._scenarios import (
    BUDGET,
    BUDGET_RPM,
    CONNECTIONS,
    LATENCY,
    LONG_LATENCY,
    OVERHEAD,
    PERSONALITIES,
    PERSONALITY_SCENARIOS,
    RATE_LIMITED,
)

Row = Mapping[str, Any]
Column = tuple[str, Callable[[Row], str]]
TABLE_WIDTH = 200


def _num(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _server(key: str) -> Callable[[Row], str]:
    return lambda r: _int((r.get("server") or {}).get(key))


def _engine(key: str) -> Callable[[Row], str]:
    return lambda r: _int((r.get("engine") or {}).get(key))


def _note(row: Row) -> str:
    parts = [row["note"]] if row.get("note") else []
    errors = row.get("errors") or {}
    parts += [f"{kind}: {count:,}" for kind, count in sorted(errors.items(), key=lambda kv: -kv[1])]
    if row["status"] in ("timed out", "crashed") and row.get("error_example"):
        parts.append(str(row["error_example"]))
    return "; ".join(parts)


def _rate(row: Row) -> str:
    if not row.get("wall_s") or row.get("units_ok") is None:
        return "-"
    return f"{row['units_ok'] / row['wall_s'] * 60:,.1f}"


def _share_429(row: Row) -> str:
    server = row.get("server") or {}
    if not server.get("ok"):
        return "-"
    return f"{math.ceil(server['rate_limited'] / server['ok'] * 10000) / 100:.2f}%"


_COMMON_HEAD: list[Column] = [
    ("variant", lambda r: r["variant"]),
]
_WALL: list[Column] = [
    ("status", lambda r: r["status"]),
    ("wall s", lambda r: _num(r["wall_s"], 3)),
    ("x best", lambda r: _ratio(r["vs_best"])),
]

COLUMNS: dict[str, list[Column]] = {
    CONNECTIONS: [*_COMMON_HEAD, ("workflows", lambda r: _int(r["workflows"])),
                  ("open-file limit", lambda r: r["fd_limit"] or "machine"), *_WALL,
                  ("x floor", lambda r: _ratio(r["vs_floor"])), ("ok", lambda r: _int(r["units_ok"])),
                  ("failed", lambda r: _int(r["units_failed"])), ("peak fds", lambda r: _int(r["peak_fds"])),
                  ("server conns", _server("distinct_connections")),
                  ("server peak in flight", _server("peak_in_flight")),
                  ("RSS MB", lambda r: _num(r["rss_peak_mb"], 0)), ("note", _note)],
    LATENCY: [*_COMMON_HEAD, ("workflows", lambda r: _int(r["workflows"])), *_WALL,
              ("x floor", lambda r: _ratio(r["vs_floor"])), ("ok", lambda r: _int(r["units_ok"])),
              ("failed", lambda r: _int(r["units_failed"])), ("peak fds", lambda r: _int(r["peak_fds"])),
              ("server peak in flight", _server("peak_in_flight")), ("RSS MB", lambda r: _num(r["rss_peak_mb"], 0)),
              ("note", _note)],
    RATE_LIMITED: [*_COMMON_HEAD, ("calls", lambda r: _int(r["workflows"])), *_WALL,
                   ("x ideal", lambda r: _ratio(r["vs_floor"])), ("ok", lambda r: _int(r["units_ok"])),
                   ("failed", lambda r: _int(r["units_failed"])), ("server 429s", _server("rate_limited")),
                   ("429 / 200", _share_429), ("server peak in flight", _server("peak_in_flight")),
                   ("engine retries", _engine("retries")), ("engine limit (peak)", _engine("peak_limit")),
                   ("engine limit (end)", _engine("limit")),
                   ("note", _note)],
    BUDGET: [*_COMMON_HEAD, ("calls", lambda r: _int(r["workflows"])), *_WALL,
             (f"x floor (rpm {BUDGET_RPM})", lambda r: _ratio(r["vs_floor"])), ("ok", lambda r: _int(r["units_ok"])),
             ("failed", lambda r: _int(r["units_failed"])), ("calls / min", _rate),
             ("most in 60 s", lambda r: _int((r.get("completions") or {}).get("max_in_60s"))),
             ("server 429s", _server("rate_limited")), ("note", _note)],
    OVERHEAD: [*_COMMON_HEAD, ("calls", lambda r: _int(r["workflows"])), ("status", lambda r: r["status"]),
               ("calls/s", lambda r: _num(r["calls_per_s"], 1)),
               ("x best (time)", lambda r: _ratio(r["vs_best"])), ("wall s (median)", lambda r: _num(r["wall_s"], 3)),
               ("all runs s", lambda r: ", ".join(f"{w:.3f}" for w in r.get("samples_wall_s") or []) or "-"),
               ("ok", lambda r: _int(r["units_ok"])), ("failed", lambda r: _int(r["units_failed"])),
               ("peak fds", lambda r: _int(r["peak_fds"])), ("note", _note)],
}
# Issue 14's scenarios read like the ones they extend: calls against a provider's limits, workflows against a floor.
COLUMNS.update({name: COLUMNS[RATE_LIMITED] for name in PERSONALITY_SCENARIOS})
COLUMNS[PERSONALITIES] = COLUMNS[LONG_LATENCY] = COLUMNS[LATENCY]


def scenario_table(name: str, scenario: Mapping[str, Any]) -> Table:
    """The table of one scenario.

    Args:
        name: The scenario's name.
        scenario: Its entry in the report.
    """
    floor = scenario.get("floor_s")
    caption = f"floor {floor:g} s" if floor is not None else "floor: see x floor per row"
    if scenario.get("repeats", 1) > 1:
        caption += f"; each row is the median of {scenario['repeats']} runs"
    table = Table(title=f"{name}: {scenario['title']}", caption=caption, title_justify="left")
    columns = COLUMNS[name]
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in scenario["rows"]:
        table.add_row(*(cell(row) for _, cell in columns))
    return table


def machine_table(report: Mapping[str, Any]) -> Table:
    """Machine facts, date, command and provider."""
    machine = report["machine"]
    table = Table(title="machine", show_header=False, title_justify="left")
    table.add_column("fact")
    table.add_column("value", overflow="fold")
    limit = machine["open_file_limit"]
    versions = ", ".join(f"{k} {v}" for k, v in machine["versions"].items() if v)
    for fact, value in (
        ("cores", f"{machine['cores']} ({machine['usable_cores']} usable) {machine['cpu'] or ''}".strip()),
        ("memory", f"{machine['memory_mb']:,} MB" if machine["memory_mb"] else "unknown"),
        ("open-file limit", f"soft {limit['soft']}, hard {limit['hard']}"),
        ("load average", f"at start {machine.get('load_average_at_start')}, at end "
                         f"{machine.get('load_average_at_end')} (1/5/15 min; other work skews figures)"),
        ("python", f"{machine['python']} on {machine['platform']}"),
        ("versions", versions),
        ("date", report["date"]),
        ("command", report["command"]),
        ("provider", report["provider"]),
    ):
        table.add_row(fact, value)
    return table


def format_claim_value(claim: Mapping[str, Any]) -> str:
    """A claim's value in its unit, rounded toward failing its target when it has a one-sided one."""
    value = claim.get("value")
    if value is None:
        return "-"
    unit = claim.get("unit", "x")
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "MB":
        return f"{value:,.1f} MB"
    if unit == "s":
        return f"{value:,.3f} s"
    target = claim.get("target") or ""
    scaled = value * 100 if unit == "%" else value
    if target.startswith(">="):
        shown, digits = math.floor(scaled * 1000) / 1000, 3
    elif target.startswith("<="):
        shown, digits = math.ceil(scaled * 1000) / 1000, 3
    else:  # two-sided or no target: more digits instead of a direction
        shown, digits = scaled, 4 if target else 3
    return f"{shown:.{digits}f}{'%' if unit == '%' else 'x'}"


def claims_table(claims: Sequence[Mapping[str, Any]], title: str = "claims") -> Table:
    """The claims with their targets and verdicts."""
    table = Table(title=title, title_justify="left")
    for header in ("issue", "claim", "target", "value", "measured", "result", "note"):
        table.add_column(header, overflow="fold")
    for claim in claims:
        passed = claim.get("passed")
        verdict = ("[green]PASS[/green]" if passed else "[red]FAIL[/red]") if passed is not None else (
            "figure" if claim.get("value") is not None else "-")
        table.add_row(str(claim["issue"]), claim["claim"], claim.get("target") or "-", format_claim_value(claim),
                      claim.get("measured") or "-", verdict, claim.get("note") or "")
    return table


def make_console() -> Console:
    """A console on stdout, wide enough for the tables when stdout is a file or a pipe."""
    console = Console()
    return console if console.is_terminal else Console(width=TABLE_WIDTH)


def print_report(report: Mapping[str, Any], *, console: Console | None = None,
                 claims: Sequence[Mapping[str, Any]] | None = None) -> None:
    """Print the machine, every scenario's table, and the claims.

    Args:
        report: The report.
        console: Where to print; stdout when None.
        claims: The claims to show; every claim in the report when None.
    """
    console = console or make_console()
    console.print(machine_table(report))
    for name, scenario in report["scenarios"].items():
        if scenario.get("skipped"):
            console.print(f"[bold]{name}[/bold]: {scenario['skipped']}")
            continue
        if scenario.get("error"):
            console.print(f"[bold]{name}[/bold]: [red]stopped[/red]: {scenario['error']}")
        if scenario["rows"]:
            console.print(scenario_table(name, scenario))
    shown = report.get("claims", []) if claims is None else claims
    if shown:
        console.print(claims_table(shown))


def write_json(report: Mapping[str, Any], path: Path) -> None:
    """Write the report as indented JSON (the file holds no key: the report never contains one).

    Args:
        report: The report.
        path: The file to write; its directory must exist.
    """
    path.write_text(json.dumps(report, indent=2) + "\n")


__all__ = ["claims_table", "format_claim_value", "machine_table", "print_report", "scenario_table", "write_json"]
