"""The Ray backend on a real two-node cluster on this machine (loopback only), joined with ``--ray-address``.

The cluster is Ray's own ``ray.cluster_utils.Cluster``: a head node and a worker node, each a raylet of its own
with one CPU, so the two workers of a run land one per node. Its processes start inside the same loopback
environment as a local Ray (127.0.0.1 only, usage statistics off, cloud metadata look-ups refused locally).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sharedlm.runner._ray._session import loopback_environment
from sharedlm.simulator import SimulatorProcess, SimulatorSettings

with loopback_environment():
    pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

pytestmark = [pytest.mark.ray, pytest.mark.slow, pytest.mark.timeout(180)]

PROGRAM = f"{Path(__file__).parent / 'cluster_programs.py'}:NodeTagged"
ROWS = 300
ROWS_BEFORE_SIGNAL = 20  # as in cluster_programs.py
# The head notices a dead node after a few missed health checks: half a second apart, not Ray's 3 s.
FAST_NODE_DEATH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
                   "health_check_failure_threshold": 3}


@pytest.fixture
def cluster() -> Iterator[Any]:
    node_args: dict[str, Any] = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    with pytest.MonkeyPatch.context() as patch:
        # Workers get the job's settings from the driver only; keep the shell's out of the cluster's processes.
        for name in [name for name in os.environ if name.startswith("SHAREDLM_")]:
            patch.delenv(name)
        with loopback_environment():
            cluster = Cluster(initialize_head=True, head_node_args={**node_args, "_system_config": FAST_NODE_DEATH})
            cluster.add_node(**node_args)
    try:
        yield cluster
    finally:
        cluster.shutdown()


@pytest.fixture
def simulator() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(SimulatorSettings(latency=0.0)) as sim:
        yield sim


def test_a_two_node_run_with_a_node_killed_mid_run_writes_every_id_exactly_once(
        cluster: Any, simulator: SimulatorProcess, tmp_path: Path) -> None:
    signal = socket.create_server(("127.0.0.1", 0))
    port = signal.getsockname()[1]
    source, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps({"id": f"r{n}", "text": f"review {n}", "port": port}) + "\n"
                              for n in range(ROWS)))
    env = {**os.environ, "SHAREDLM_API_KEY": "sim-key", "SHAREDLM_MODEL": "openai/sim-model",
           "SHAREDLM_API_BASE": simulator.base_url}
    run = subprocess.Popen(
        [sys.executable, "-m", "sharedlm", "run", PROGRAM, "-i", str(source), "-o", str(out), "--backend", "ray",
         "--ray-address", cluster.address, "--workers", "2", "--concurrency", "8", "--progress", "off"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # A run that ends before the signal closes the listener, so accept() fails at once instead of waiting.
    def close_when_the_run_ends() -> None:
        run.wait()
        signal.shutdown(socket.SHUT_RDWR)

    threading.Thread(target=close_when_the_run_ends, daemon=True).start()

    try:
        connection, _ = signal.accept()  # the worker off the head node has run rows and now holds the rest
    except OSError:
        pytest.fail(f"the run ended before a node could be killed: {run.communicate()[0]}")
    with connection:
        victim_id = connection.makefile().readline().strip()
    victim = next(node for node in cluster.worker_nodes if node.node_id == victim_id)
    cluster.remove_node(victim, allow_graceful=False)
    output, _ = run.communicate(timeout=90)

    assert run.returncode == 0, output
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(Counter(row["id"] for row in rows).items()) == sorted((f"r{n}", 1) for n in range(ROWS))
    nodes = Counter(row["output"]["node"] for row in rows)
    assert set(nodes) == {cluster.head_node.node_id, victim_id}
    assert nodes[victim_id] >= ROWS_BEFORE_SIGNAL  # the killed node ran rows before it died
