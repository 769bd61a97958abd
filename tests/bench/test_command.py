"""``sharedlm bench`` end to end: a tiny --quick run produces every variant's numbers and the documented JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from sharedlm.bench._scenarios import OVERHEAD_VARIANTS
from sharedlm.bench._spec import WORKFLOW_VARIANTS

ROW_KEYS = {
    "variant", "workflows", "status", "note", "fd_limit", "wall_s", "floor_s", "vs_best", "vs_floor", "units_ok",
    "units_failed", "errors", "error_example", "calls_per_s", "fds_before", "peak_fds", "rss_peak_mb", "server",
    "engine", "completions", "samples_wall_s", "worker_s",
}
SCENARIO_KEYS = {"title", "unit", "simulator", "floor_s", "repeats", "skipped", "error", "rows"}


def _bench(*args: str, timeout: float = 100) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, LITELLM_LOCAL_MODEL_COST_MAP="true")
    return subprocess.run([sys.executable, "-P", "-m", "sharedlm", "bench", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, check=False)


@pytest.fixture(scope="module")
def quick_report(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], dict]:
    path = tmp_path_factory.mktemp("bench") / "report.json"
    done = _bench("--quick", "--workflows", "5", "--scenario", "connections", "overhead", "--json", str(path))
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(path.read_text())


@pytest.mark.slow
def test_quick_run_measures_every_variant_of_both_scenarios(quick_report: tuple) -> None:
    _, report = quick_report
    for name, variants in (("connections", WORKFLOW_VARIANTS), ("overhead", OVERHEAD_VARIANTS)):
        measured = [r for r in report["scenarios"][name]["rows"] if r["status"] != "skipped"]
        assert sorted({r["variant"] for r in measured}) == sorted(variants)
        for row in measured:
            assert row["status"] == "ok", row
            assert row["workflows"] == 5
            assert row["units_ok"] == 5
            assert row["units_failed"] == 0
            assert row["wall_s"] > 0
            assert row["calls_per_s"] > 0
            assert row["peak_fds"] > 0
            assert row["rss_peak_mb"] > 0
            assert row["vs_best"] >= 1.0


@pytest.mark.slow
def test_quick_report_has_the_documented_json_shape(quick_report: tuple) -> None:
    _, report = quick_report
    assert {"machine", "date", "command", "scenarios", "claims", "derived"} <= set(report)
    assert {"cores", "open_file_limit", "python", "versions"} <= set(report["machine"])
    assert {"dspy", "aiohttp"} <= set(report["machine"]["versions"])
    assert "bench --quick --workflows 5" in report["command"]
    assert set(report["scenarios"]) == {"connections", "overhead"}
    for scenario in report["scenarios"].values():
        assert set(scenario) == SCENARIO_KEYS
        for row in scenario["rows"]:
            assert set(row) == ROW_KEYS
    for claim in report["claims"]:
        assert {"issue", "claim", "target", "value", "unit", "measured", "passed", "note"} == set(claim)


@pytest.mark.slow
def test_quick_run_reads_the_servers_view_of_connections(quick_report: tuple) -> None:
    _, report = quick_report
    for row in report["scenarios"]["connections"]["rows"]:
        if row["status"] == "ok":
            # Five workflows of two steps each (plus the warm-up workflow, sent before the counters are read).
            assert row["server"]["requests"] >= 10
            assert row["server"]["distinct_connections"] >= 1


@pytest.mark.slow
def test_quick_run_prints_a_table_per_scenario_and_progress_on_stderr(quick_report: tuple) -> None:
    done, _ = quick_report
    assert "connections: N concurrent two-step workflows" in done.stdout
    assert "overhead: zero-latency" in done.stdout
    assert "bench [10/10" in done.stderr
    assert "bench [" not in done.stdout


def test_help_lists_the_options() -> None:
    done = _bench("--help", timeout=30)
    assert done.returncode == 0
    for option in ("--scenario", "--workflows", "--quick", "--json", "--plot", "--api-base"):
        assert option in done.stdout


def test_json_in_a_missing_directory_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "report.json"
    done = _bench("--quick", "--json", str(target), timeout=30)
    assert done.returncode == 2
    assert "does not exist" in done.stderr
    assert str(target.parent) in done.stderr
    assert "bench [" not in done.stderr


def test_unknown_scenario_is_a_usage_error() -> None:
    done = _bench("--scenario", "nonsense", timeout=30)
    assert done.returncode == 2
    assert "nonsense" in done.stderr


def test_api_base_without_scheme_is_a_usage_error() -> None:
    done = _bench("--api-base", "127.0.0.1:9/v1", timeout=30)
    assert done.returncode == 2
    assert "--api-base" in done.stderr


def test_a_model_no_route_knows_is_a_usage_error_before_any_job_runs() -> None:
    done = _bench("--model", "zzz/unknown-model", "--scenario", "overhead", "--workflows", "1", timeout=60)
    assert done.returncode == 2
    assert "--model" in done.stderr
    assert "zzz/unknown-model" in done.stderr
    assert "crashed" not in done.stderr


@pytest.mark.parametrize(("statuses", "code"), [
    (["ok", "ok"], 0), (["ok", "failures"], 0), (["ok", "crashed"], 1), (["timed out"], 1), (["skipped"], 0),
])
def test_the_exit_code_is_1_when_any_job_crashed_or_timed_out(statuses: list[str], code: int) -> None:
    from sharedlm.bench._command import exit_code

    report = {"scenarios": {"overhead": {"error": None, "rows": [{"status": status} for status in statuses]}}}

    assert exit_code(report) == code


def test_the_exit_code_is_1_when_a_scenario_could_not_run_and_130_when_interrupted() -> None:
    from sharedlm.bench._command import exit_code

    stopped = {"scenarios": {"latency": {"error": "the simulator did not start", "rows": []}}}

    assert exit_code(stopped) == 1
    assert exit_code({**stopped, "interrupted": True}) == 130
