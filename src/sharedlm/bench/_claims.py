"""The speed claims of issues 2, 5, 6 and 14, checked against one run's report.

A claim with a target passes or fails; a claim without one (``passed`` None) is a figure to report. A claim is
evaluated on the size it names when that size was run, else on the largest size that was, and then says so in
its ``note``: a figure from a smaller run is indicative, not the claim. Ratios are never rounded here.

Claim fields: ``issue``, ``claim``, ``target``, ``value`` (the number compared, or None), ``unit`` (``"x"`` a ratio,
``"%"`` a fraction shown as a percentage, ``"MB"``, ``"s"``, ``"count"``), ``measured`` (how the value was obtained,
in words), ``passed`` (True, False, or None for figures without a target), ``note``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sharedlm.bench._scenarios import (
    BUDGET,
    BUDGET_RPM,
    CAPPED_NOTE,
    CONNECTIONS,
    HEADERS_NOTE,
    LATENCY,
    LONG_LATENCY,
    LONG_LATENCY_MAX_PARALLEL,
    LOW_FD_LIMIT,
    OVERHEAD,
    PERSONALITIES,
    PERSONALITY_SCENARIOS,
    RATE_LIMITED,
    RSS_BASELINE_NOTE,
)
from sharedlm.bench._spec import (
    INSTANT_ENGINE,
    LM_PER_CALL,
    LM_PER_MODULE,
    PLAIN_SHARED,
    SEED_AS_WRITTEN,
    SHAREDLM,
    SHAREDLM_FLOW_OFF,
    SLEEPING_ENGINE,
)

MEASURED = ("ok", "failures")
LATENCY_CLAIM_WORKFLOWS = 1000
LATENCY_SPEEDUP_TARGET = 4.0
OVERHEAD_VS_PLAIN_TARGET = 2.0
OVERHEAD_VS_INSTANT_TARGET = 0.8
RATE_LIMITED_CLAIM_CALLS = 3000
RATE_LIMITED_IDEAL_FACTOR = 1.25
RATE_LIMITED_429_SHARE = 0.05
BUDGET_RATE_TOLERANCE = 0.10
FLOW_COST_TARGET = 0.05
# Issue 14: flow control that holds against real providers.
PERSONALITY_LATENCY_TARGET = 1.5
LONG_LATENCY_TARGET = 1.2
CAPPED_TARGET = 1.2
CAPPED_429_SHARE = 0.03
HEADERS_TARGET = 1.15
HEADERS_429_SHARE = 0.02
# How a claim's value reads: a ratio, a fraction shown as a percentage, megabytes, seconds, or a count.
UNIT_RATIO = "x"
UNIT_FRACTION = "%"
UNIT_MB = "MB"
UNIT_SECONDS = "s"
UNIT_COUNT = "count"

Row = Mapping[str, Any]


def _rows(report: Mapping[str, Any], scenario: str) -> Sequence[Row]:
    data = report.get("scenarios", {}).get(scenario)
    return data.get("rows", []) if data else []


def _measured(rows: Sequence[Row], variant: str, *, fd_limit: str | None = None, baseline: bool = False) -> list[Row]:
    return [r for r in rows if r["variant"] == variant and r["status"] in MEASURED and r.get("fd_limit") == fd_limit
            and (r.get("note") == RSS_BASELINE_NOTE) == baseline]


def _at(rows: Sequence[Row], variants: Sequence[str], wanted: int) -> tuple[dict[str, Row], int | None]:
    """Rows of every variant at ``wanted`` units, else at the largest count all of them were measured at."""
    counts: set[int] | None = None
    for variant in variants:
        have = {r["workflows"] for r in _measured(rows, variant)}
        counts = have if counts is None else counts & have
    if not counts:
        return {}, None
    count = wanted if wanted in counts else max(counts)
    found = {v: next(r for r in _measured(rows, v) if r["workflows"] == count) for v in variants}
    return found, count


def _size_note(count: int, wanted: int, unit: str) -> str | None:
    if count == wanted:
        return None
    return f"measured at {count:,} {unit}; the claim is at {wanted:,} (indicative only)"


def _claim(issue: int, claim: str, target: str | None, value: float | None, measured: str, passed: bool | None,
           note: str | None = None, *, unit: str = UNIT_RATIO, scenario: str | None = None) -> dict[str, Any]:
    found = {"issue": issue, "claim": claim, "target": target, "value": value, "unit": unit, "measured": measured,
             "passed": passed, "note": note}
    if scenario is not None:
        found["scenario"] = scenario  # which scenario measured it, when its text does not say
    return found


def _missing(issue: int, claim: str, target: str | None, why: str) -> dict[str, Any]:
    return _claim(issue, claim, target, None, "not measured", None, why)


def _failed_note(rows: Mapping[str, Row]) -> str | None:
    failing = [f"{v}: {r['units_failed']:,} failed" for v, r in rows.items() if r["units_failed"]]
    return "; ".join(failing) or None


def issue2_claims(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 2 (core): latency speed-up, overhead against plain and instant engines, RSS per 1,000 workflows."""
    claims: list[dict[str, Any]] = []
    rows = _rows(report, LATENCY)
    text = f"{LATENCY_CLAIM_WORKFLOWS:,} workflows at 1 s latency: sharedlm at least 4x faster than plain-shared"
    found, count = _at(rows, (SHAREDLM, PLAIN_SHARED), LATENCY_CLAIM_WORKFLOWS)
    if count is None:
        claims.append(_missing(2, text, ">= 4x", "latency scenario did not measure both variants"))
    else:
        ours, plain = found[SHAREDLM], found[PLAIN_SHARED]
        value = plain["wall_s"] / ours["wall_s"]
        notes = [n for n in (_size_note(count, LATENCY_CLAIM_WORKFLOWS, "workflows"), _failed_note(found)) if n]
        claims.append(_claim(2, text, f">= {LATENCY_SPEEDUP_TARGET:g}x", value,
                             f"plain-shared {plain['wall_s']:.3f} s / sharedlm {ours['wall_s']:.3f} s",
                             value >= LATENCY_SPEEDUP_TARGET and ours["units_failed"] == 0, "; ".join(notes) or None))
    rows = _rows(report, OVERHEAD)
    for other, target, text in (
        (PLAIN_SHARED, OVERHEAD_VS_PLAIN_TARGET, "zero latency: sharedlm calls/s at least 2x plain-shared"),
        (INSTANT_ENGINE, OVERHEAD_VS_INSTANT_TARGET, "zero latency: sharedlm calls/s at least 80% of an instant "
                                                     "engine"),
    ):
        found, count = _at(rows, (SHAREDLM, other), 3000)
        if count is None:
            claims.append(_missing(2, text, f">= {target:g}x", f"overhead scenario did not measure {other}"))
            continue
        ours, theirs = found[SHAREDLM], found[other]
        value = ours["calls_per_s"] / theirs["calls_per_s"]
        notes = [n for n in (_size_note(count, 3000, "calls"), _failed_note(found)) if n]
        measured = f"sharedlm {ours['calls_per_s']:.1f} calls/s / {other} {theirs['calls_per_s']:.1f} calls/s"
        claims.append(_claim(2, text, f">= {target:g}x", value, measured,
                             value >= target and ours["units_failed"] == 0, "; ".join(notes) or None))
    claims.append(rss_claim(report))
    return claims


def rss_per_1000(report: Mapping[str, Any]) -> dict[int, float]:
    """Peak RSS (MB) per 1,000 in-flight workflows of sharedlm, by workflow count, over the 1-workflow baseline."""
    rows = _rows(report, LATENCY)
    baseline = _measured(rows, SHAREDLM, baseline=True)
    if not baseline:
        return {}
    base_mb = baseline[0]["rss_peak_mb"]
    return {r["workflows"]: (r["rss_peak_mb"] - base_mb) / (r["workflows"] / 1000)
            for r in _measured(rows, SHAREDLM) if r["workflows"] >= 100}


def rss_claim(report: Mapping[str, Any]) -> dict[str, Any]:
    """The RSS figure of issue 2 (no target: reported)."""
    text = "peak RSS per 1,000 in-flight workflows (sharedlm, 1 s latency)"
    per = rss_per_1000(report)
    if not per:
        return _missing(2, text, None, "latency scenario did not measure sharedlm and its baseline")
    count = max(per)
    others = ", ".join(f"{per[c]:.1f} MB at {c:,}" for c in sorted(per) if c != count)
    return _claim(2, text, None, per[count], f"(ru_maxrss at {count:,} - 1-workflow baseline) / {count / 1000:g}",
                  None, f"also {others}" if others else None, unit=UNIT_MB)


def issue5_claims(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 5 (flow control): the rate-limited provider, the rpm budget, the limiter's own cost."""
    claims: list[dict[str, Any]] = []
    rows = _rows(report, RATE_LIMITED)
    found, count = _at(rows, (SHAREDLM,), RATE_LIMITED_CLAIM_CALLS)
    if count is None:
        for text in ("64-in-flight provider: no sharedlm call fails",
                     "64-in-flight provider: sharedlm within 1.25x of the ideal time",
                     "64-in-flight provider: 429s at most 5% of successful requests"):
            claims.append(_missing(5, text, None, "rate-limited scenario did not measure sharedlm"))
    else:
        ours = found[SHAREDLM]
        size = _size_note(count, RATE_LIMITED_CLAIM_CALLS, "calls")
        claims.append(_claim(5, f"64-in-flight provider, {count:,} calls at once: no sharedlm call fails", "0 failed",
                             float(ours["units_failed"]), f"{ours['units_failed']:,} of {count:,} failed",
                             ours["units_failed"] == 0, size, unit=UNIT_COUNT))
        value = ours["vs_floor"]
        claims.append(_claim(5, "64-in-flight provider: sharedlm within 1.25x of the ideal time",
                             f"<= {RATE_LIMITED_IDEAL_FACTOR:g}x", value,
                             f"{ours['wall_s']:.3f} s / ideal {ours['floor_s']:.3f} s",
                             value is not None and value <= RATE_LIMITED_IDEAL_FACTOR, size))
        server = ours.get("server")
        if server:
            share = server["rate_limited"] / server["ok"] if server["ok"] else None
            claims.append(_claim(5, "64-in-flight provider: 429s at most 5% of successful requests",
                                 f"<= {RATE_LIMITED_429_SHARE:.0%}", share,
                                 f"{server['rate_limited']:,} 429s / {server['ok']:,} answers 200 (server counts)",
                                 share is not None and share <= RATE_LIMITED_429_SHARE, size, unit=UNIT_FRACTION))
        else:
            claims.append(_missing(5, "64-in-flight provider: 429s at most 5% of successful requests", "<= 5%",
                                   "needs the simulator's counters"))
        plain = [r for r in _measured(rows, PLAIN_SHARED) if r["workflows"] == count]
        if plain:
            p = plain[0]
            server = p.get("server") or {}
            claims.append(_claim(5, "64-in-flight provider: plain-shared in the same run (DSPy defaults, "
                                    "num_retries=3)", None, p["wall_s"],
                                 f"{p['wall_s']:.3f} s ({p['vs_floor']:.2f}x ideal), {p['units_failed']:,} of "
                                 f"{count:,} calls failed, {server.get('rate_limited', 'n/a')} 429s", None, size,
                                 unit=UNIT_SECONDS))
    claims.extend(_budget_claims(report))
    claims.append(flow_cost_claim(report))
    return claims


def _budget_claims(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    rows = _measured(_rows(report, BUDGET), SHAREDLM)
    if not rows:
        return [_missing(5, f"rpm={BUDGET_RPM} budget: zero 429s, throughput within 10% of rpm", None,
                         "budget scenario did not measure sharedlm")]
    ours = max(rows, key=lambda r: r["workflows"])
    claims = []
    server = ours.get("server")
    if server:
        claims.append(_claim(5, f"rpm={BUDGET_RPM} budget against a provider enforcing rpm={BUDGET_RPM}: zero 429s "
                                "(no 60 s window above the budget)", "0", float(server["rate_limited"]),
                             f"{server['rate_limited']:,} 429s in {server['requests']:,} requests (server counts)",
                             server["rate_limited"] == 0, unit=UNIT_COUNT))
    rate = ours["units_ok"] / ours["wall_s"] * 60 if ours["wall_s"] else None
    value = rate / BUDGET_RPM if rate is not None else None
    completions = ours.get("completions") or {}
    short = ours["wall_s"] < 60
    claims.append(_claim(
        5, f"rpm={BUDGET_RPM} budget: throughput within 10% of {BUDGET_RPM}/min",
        f"{1 - BUDGET_RATE_TOLERANCE:g}x to {1 + BUDGET_RATE_TOLERANCE:g}x", value,
        f"{ours['units_ok']:,} calls in {ours['wall_s']:.2f} s = {rate:.1f}/min; most finished in any 60 s: "
        f"{completions.get('max_in_60s', 'n/a')}",
        value is not None and abs(value - 1) <= BUDGET_RATE_TOLERANCE and ours["units_failed"] == 0,
        "run shorter than 60 s: checks the rate only; the 60 s window itself is checked by the full run" if short
        else None))
    return claims


def flow_cost_claim(report: Mapping[str, Any]) -> dict[str, Any]:
    """Issue 5: the limiter's own cost, sharedlm with flow control on against off, zero latency."""
    text = "flow control's own cost: sharedlm adaptive=True vs adaptive=False, zero latency"
    found, count = _at(_rows(report, OVERHEAD), (SHAREDLM, SHAREDLM_FLOW_OFF), 3000)
    if count is None:
        return _missing(5, text, f"<= {FLOW_COST_TARGET:.0%}", "overhead scenario did not measure both")
    on, off = found[SHAREDLM], found[SHAREDLM_FLOW_OFF]
    cost = 1 - on["calls_per_s"] / off["calls_per_s"]
    samples = ("wall s of every run: on " + ", ".join(f"{w:.3f}" for w in on.get("samples_wall_s") or []) +
               "; off " + ", ".join(f"{w:.3f}" for w in off.get("samples_wall_s") or []))
    note = "; ".join(n for n in (_size_note(count, 3000, "calls"), samples) if n)
    return _claim(5, text, f"<= {FLOW_COST_TARGET:.0%}", cost,
                  f"1 - {on['calls_per_s']:.1f} / {off['calls_per_s']:.1f} calls/s (median of repeats)",
                  cost <= FLOW_COST_TARGET, note, unit=UNIT_FRACTION)


def issue6_claims(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 6 (the bench): descriptors and survival of each pattern, as figures (no targets)."""
    rows = _rows(report, CONNECTIONS)
    claims: list[dict[str, Any]] = []
    ours_rows = _measured(rows, SHAREDLM)
    if not ours_rows:
        return [_missing(6, "connections: descriptors and failures by pattern", None,
                         "connections scenario did not measure sharedlm")]
    count = max(r["workflows"] for r in ours_rows)
    ours = next(r for r in ours_rows if r["workflows"] == count)
    for variant in (LM_PER_MODULE, LM_PER_CALL, SEED_AS_WRITTEN, PLAIN_SHARED):
        theirs = [r for r in _measured(rows, variant) if r["workflows"] == count]
        if not theirs:
            continue
        t = theirs[0]
        claims.append(_claim(6, f"{count:,} workflows: peak descriptors of {variant} / sharedlm", None,
                             t["peak_fds"] / ours["peak_fds"] if ours["peak_fds"] else None,
                             f"{t['peak_fds']:,} / {ours['peak_fds']:,}; wall {t['wall_s']:.2f} s vs "
                             f"{ours['wall_s']:.2f} s; failed {t['units_failed']:,} vs {ours['units_failed']:,}", None))
    for label in (f"{LOW_FD_LIMIT} soft", f"{LOW_FD_LIMIT} soft+hard"):
        low = [r for r in rows if r.get("fd_limit") == label]
        if not low:
            continue
        parts = []
        for r in low:
            if r["status"] in MEASURED:
                parts.append(f"{r['variant']}: {r['units_ok']:,} ok / {r['units_failed']:,} failed")
            else:
                parts.append(f"{r['variant']}: {r['status']}")
        survivors = sum(1 for r in low if r["status"] == "ok")
        claims.append(_claim(6, f"{low[0]['workflows']:,} workflows under open-file limit {label}: who survives",
                             None, float(survivors), "; ".join(parts), None, unit=UNIT_COUNT))
    return claims


def _row_claims(scenario: str, label: str, row: Row, *, target: float, share: float | None) -> list[dict[str, Any]]:
    """No call lost, within ``target`` of the ideal, and (with ``share``) 429s at most that share of answers."""
    claims = [_claim(14, f"{label}: no call lost", "0 failed", float(row["units_failed"]),
                     f"{row['units_failed']:,} of {row['workflows']:,} failed", row["units_failed"] == 0,
                     unit=UNIT_COUNT, scenario=scenario)]
    value = row["vs_floor"]
    claims.append(_claim(14, f"{label}: within {target:g}x of the ideal", f"<= {target:g}x", value,
                         f"{row['wall_s']:.3f} s / ideal {row['floor_s']:.3f} s",
                         value is not None and value <= target, scenario=scenario))
    if share is not None:
        server = row.get("server")
        text = f"{label}: 429s at most {share:.0%} of answers"
        if not server or not server["requests"]:
            claims.append(_missing(14, text, f"<= {share:.0%}", "needs the simulator's counters") | {
                "scenario": scenario})
        else:
            measured = server["rate_limited"] / server["requests"]
            claims.append(_claim(14, text, f"<= {share:.0%}", measured,
                                 f"{server['rate_limited']:,} 429s / {server['requests']:,} answers (server counts)",
                                 measured <= share, unit=UNIT_FRACTION, scenario=scenario))
    return claims


def _dspy_alone_claims(rows: Sequence[Row], *, latency: str, floor: str, beside: str,
                       scenario: str) -> list[dict[str, Any]]:
    """Figures without a target: the program on the sleeping engine (DSPy alone), and sharedlm's row ``beside`` it.

    Args:
        rows: The scenario's rows.
        latency: The provider latency, in words.
        floor: The scenario's floor, in words.
        beside: The note of the sharedlm row compared with DSPy alone.
        scenario: The scenario's name.
    """
    claims = []
    for alone in _measured(rows, SLEEPING_ENGINE):
        label = f"{alone['workflows']:,} workflows at {latency}"
        claims.append(_claim(14, f"{label}, DSPy alone (an engine that sleeps {latency}, no network): its own floor",
                             None, alone["vs_floor"], f"{alone['wall_s']:.3f} s / floor {alone['floor_s']:.3f} s",
                             None, _failed_note({SLEEPING_ENGINE: alone}), scenario=scenario))
        for ours in _measured(rows, SHAREDLM):
            if ours["workflows"] == alone["workflows"] and ours["note"] == beside:
                claims.append(_claim(14, f"{label}, sharedlm ({beside}) against DSPy alone: what network, pool, "
                                         "pacing and simulator add", None, ours["wall_s"] / alone["wall_s"],
                                     f"sharedlm {ours['wall_s']:.3f} s / DSPy alone {alone['wall_s']:.3f} s "
                                     f"(floor {floor})", None, scenario=scenario))
    return claims


def issue14_claims(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Issue 14: every personality, a 64-in-flight cap with each retry habit, limits in headers, long latency."""
    claims: list[dict[str, Any]] = []
    for row in _measured(_rows(report, RATE_LIMITED), SHAREDLM):
        claims.extend(_row_claims(RATE_LIMITED, f"default simulator, {row['workflows']:,} calls, {CAPPED_NOTE}, "
                                                "exact Retry-After", row, target=CAPPED_TARGET,
                                  share=CAPPED_429_SHARE))
    for scenario in PERSONALITY_SCENARIOS:
        for row in _measured(_rows(report, scenario), SHAREDLM):
            headers = row["note"] == HEADERS_NOTE
            claims.extend(_row_claims(scenario, f"{scenario}, {row['workflows']:,} calls, {row['note']}", row,
                                      target=HEADERS_TARGET if headers else CAPPED_TARGET,
                                      share=HEADERS_429_SHARE if headers else CAPPED_429_SHARE))
    rows = _rows(report, PERSONALITIES)
    claims.extend(_dspy_alone_claims(rows, latency="1 s", floor="2 s", beside="default", scenario=PERSONALITIES))
    for ours in _measured(rows, SHAREDLM):
        label = f"{ours['note']} personality, {ours['workflows']:,} workflows at 1 s"
        value = ours["vs_floor"]
        claims.append(_claim(14, f"{label}: within {PERSONALITY_LATENCY_TARGET:g}x of the 2 s floor",
                             f"<= {PERSONALITY_LATENCY_TARGET:g}x", value,
                             f"{ours['wall_s']:.3f} s / floor {ours['floor_s']:.3f} s",
                             value is not None and value <= PERSONALITY_LATENCY_TARGET and ours["units_failed"] == 0,
                             _failed_note({SHAREDLM: ours}), scenario=PERSONALITIES))
        plain = [r for r in _measured(rows, PLAIN_SHARED)
                 if r["note"] == ours["note"] and r["workflows"] == ours["workflows"]]
        if plain:
            speedup = plain[0]["wall_s"] / ours["wall_s"]
            claims.append(_claim(14, f"{label}: at least {LATENCY_SPEEDUP_TARGET:g}x a plain dspy.LM",
                                 f">= {LATENCY_SPEEDUP_TARGET:g}x", speedup,
                                 f"plain-shared {plain[0]['wall_s']:.3f} s / sharedlm {ours['wall_s']:.3f} s",
                                 speedup >= LATENCY_SPEEDUP_TARGET, scenario=PERSONALITIES))
    claims.extend(_dspy_alone_claims(_rows(report, LONG_LATENCY), latency="20 s", floor="40 s",
                                     beside=f"max_parallel_requests={LONG_LATENCY_MAX_PARALLEL}",
                                     scenario=LONG_LATENCY))
    for ours in _measured(_rows(report, LONG_LATENCY), SHAREDLM):
        value = ours["vs_floor"]
        claims.append(_claim(14, f"{ours['workflows']:,} workflows at 20 s latency, {ours['note']}: within "
                                 f"{LONG_LATENCY_TARGET:g}x of the 40 s floor", f"<= {LONG_LATENCY_TARGET:g}x", value,
                             f"{ours['wall_s']:.3f} s / floor {ours['floor_s']:.3f} s",
                             value is not None and value <= LONG_LATENCY_TARGET and ours["units_failed"] == 0,
                             _failed_note({SHAREDLM: ours}), scenario=LONG_LATENCY))
    return claims


# The scenarios each claim (in order of the evaluators' output) is measured by; claims of scenarios that were
# not part of the run are left out rather than listed as "not measured".
_CLAIM_SCENARIOS = {LATENCY: ("at least 4x faster", "peak RSS"),
                    OVERHEAD: ("2x plain-shared", "instant engine", "flow control's own cost"),
                    RATE_LIMITED: ("64-in-flight",),
                    BUDGET: (f"rpm={BUDGET_RPM}",),
                    CONNECTIONS: ("connections", "workflows: peak descriptors", "who survives")}


def _scenario_of(claim: Mapping[str, Any]) -> str | None:
    if claim.get("scenario"):
        return str(claim["scenario"])
    for scenario, fragments in _CLAIM_SCENARIOS.items():
        if any(fragment in claim["claim"] for fragment in fragments):
            return scenario
    return None


def evaluate_claims(report: Mapping[str, Any], issues: Sequence[int] = (2, 5, 6, 14)) -> list[dict[str, Any]]:
    """Every claim of the given issues whose scenario was part of the run, in issue order.

    Args:
        report: A report built by :func:`sharedlm.bench.run_bench`.
        issues: Which issues' claims to evaluate.
    """
    evaluators = {2: issue2_claims, 5: issue5_claims, 6: issue6_claims, 14: issue14_claims}
    ran = set(report.get("scenarios", {}))
    claims: list[dict[str, Any]] = []
    for issue in issues:
        claims.extend(c for c in evaluators[issue](report) if _scenario_of(c) in ran)
    return claims


__all__ = [
    "UNIT_COUNT",
    "UNIT_FRACTION",
    "UNIT_MB",
    "UNIT_RATIO",
    "UNIT_SECONDS",
    "evaluate_claims",
    "flow_cost_claim",
    "issue2_claims",
    "issue5_claims",
    "issue6_claims",
    "issue14_claims",
    "rss_per_1000",
]
