"""SimulatorProcess: the server in a child process, observed through /sim/stats."""

from __future__ import annotations

import contextlib
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

from sharedlm._errors import SharedLMError
from sharedlm.simulator import SimulatorProcess, SimulatorSettings


def _post_chat(base_url: str, timeout: float = 5) -> int:
    request = urllib.request.Request(f"{base_url}/chat/completions", method="POST",
                                     data=b'{"model":"m","messages":[{"role":"user","content":"hi"}]}',
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _post_chat_ignoring_disconnects(base_url: str) -> None:
    with contextlib.suppress(OSError):  # the server goes away under the hanging request
        _post_chat(base_url, 10)


def test_serves_and_reports_stats_and_exits_cleanly() -> None:
    sim = SimulatorProcess(SimulatorSettings(seed=3)).start()
    try:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/v1", sim.base_url)
        assert _post_chat(sim.base_url) == 200
        stats = sim.stats()
        assert stats.requests == 1
        assert stats.ok == 1
        assert stats.distinct_connections == 1
        sim.reset()
        assert sim.stats().requests == 0
    finally:
        assert sim.stop() == 0  # SIGTERM is a clean exit


def test_settings_reach_the_child() -> None:
    with SimulatorProcess(SimulatorSettings(rpm=1)) as sim:
        assert [_post_chat(sim.base_url), _post_chat(sim.base_url)] == [200, 429]
        assert sim.stats().rate_limited_by["rpm"] == 1


def test_hanging_requests_do_not_block_stopping() -> None:
    sim = SimulatorProcess(SimulatorSettings(hang_rate=1.0)).start()
    client = threading.Thread(target=_post_chat_ignoring_disconnects, args=(sim.base_url,), daemon=True)
    client.start()
    deadline = time.monotonic() + 5
    while sim.stats().in_flight < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    started = time.monotonic()
    assert sim.stop() == 0
    assert time.monotonic() - started < 5
    client.join(5)


def test_a_port_in_use_fails_start_with_the_reason() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(SharedLMError, match="cannot serve"):
            SimulatorProcess(SimulatorSettings(port=taken.getsockname()[1])).start()


def test_repr_shows_the_state() -> None:
    sim = SimulatorProcess()
    assert "stopped" in repr(sim)
    with sim:
        assert f"running, pid={sim.pid}" in repr(sim)


def test_the_child_stops_by_itself_when_its_parent_dies() -> None:
    script = ("import os, sys\n"
              "from sharedlm.simulator import SimulatorProcess\n"
              "sim = SimulatorProcess().start()\n"
              "print(sim.pid, flush=True)\n"
              "os._exit(0)\n")
    parent = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    child = int(parent.stdout.strip())
    deadline = time.monotonic() + 10
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
