"""Behaviour of choosing the Ray backend without a cluster: missing Ray, misplaced options, the loopback environment.

None of these start Ray, so they run whether or not it is installed.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from sharedlm._cli import main
from sharedlm._errors import UsageError
from sharedlm.runner import run_many
from sharedlm.runner._ray._session import RAY_INSTALL_HINT, is_loopback_address, loopback_environment

ECHO = f"{Path(__file__).parent.parent / 'fixtures' / 'programs.py'}:Echo"


class Upper:
    async def aforward(self, text: str) -> dict[str, str]:
        return {"upper": text.upper()}


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHAREDLM_API_KEY", "test-key")
    path = tmp_path / "in.jsonl"
    path.write_text(json.dumps({"text": "a"}) + "\n")
    return path


def test_backend_ray_without_ray_installed_is_a_usage_error_naming_the_extra(source: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch,
                                                                           capsys: Any) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without Ray looks like to `import ray`
    out = tmp_path / "out.jsonl"

    code = main(["run", ECHO, "-i", str(source), "-o", str(out), "--backend", "ray", "--progress", "off"])

    assert code == 2
    assert not out.exists()
    assert RAY_INSTALL_HINT in capsys.readouterr().err


def test_run_many_with_backend_ray_without_ray_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)

    with pytest.raises(UsageError, match=r"pip install 'sharedlm\[ray\]'"):
        run_many(Upper(), [{"text": "a"}], backend="ray")


def test_ray_options_without_backend_ray_are_a_usage_error(source: Path, tmp_path: Path, capsys: Any) -> None:
    code = main(["run", ECHO, "-i", str(source), "-o", str(tmp_path / "out.jsonl"), "--workers", "2",
                 "--ray-address", "127.0.0.1:6379"])

    assert code == 2
    assert "--workers and --ray-address only apply to --backend ray" in capsys.readouterr().err


def test_run_many_refuses_an_unknown_backend_and_ray_options_for_the_local_one() -> None:
    with pytest.raises(UsageError, match="backend must be one of local, ray"):
        run_many(Upper(), [{"text": "a"}], backend="spark")
    with pytest.raises(UsageError, match="workers only applies to backend='ray'"):
        run_many(Upper(), [{"text": "a"}], workers=2)


def test_shared_budget_without_backend_ray_is_a_usage_error_naming_the_flag(source: Path, tmp_path: Path,
                                                                         capsys: Any) -> None:
    code = main(["run", ECHO, "-i", str(source), "-o", str(tmp_path / "out.jsonl"), "--shared-budget"])

    assert code == 2
    assert "--shared-budget only applies to --backend ray" in capsys.readouterr().err


def test_run_many_refuses_shared_budget_for_the_local_backend() -> None:
    with pytest.raises(UsageError, match="shared_budget only applies to backend='ray'"):
        run_many(Upper(), [{"text": "a"}], shared_budget=True)


def test_the_loopback_environment_holds_only_while_ray_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("http_proxy", raising=False)

    with loopback_environment() as driver_proxies:
        inside = dict(os.environ)

    assert inside["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] == "0"
    assert inside["RAY_USAGE_STATS_ENABLED"] == "0"
    assert inside["HTTPS_PROXY"].startswith("http://127.0.0.1:")
    assert "127.0.0.1" in inside["NO_PROXY"]
    assert os.environ["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert "http_proxy" not in os.environ
    assert driver_proxies["HTTPS_PROXY"] == "http://proxy.example:3128"
    assert driver_proxies["http_proxy"] is None


@pytest.mark.parametrize("address", ["127.0.0.1:6379", "127.3.4.5:1", "localhost:6379", "[::1]:6379"])
def test_a_cluster_address_on_loopback_is_joined_as_a_loopback_cluster(address: str) -> None:
    assert is_loopback_address(address)


@pytest.mark.parametrize("address", ["10.0.0.5:6379", "head.example:6379", "auto"])
def test_a_cluster_address_off_loopback_is_joined_as_given(address: str) -> None:
    assert not is_loopback_address(address)
