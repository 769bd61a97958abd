"""A real ``redis-server`` for the shared-budget tests, on 127.0.0.1 in a temporary directory.

``start_redis(directory)`` yields the server's URL, or skips the test with the reason when ``redis-server`` or the
``redis`` client is absent (``.ci/run`` installs both).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def start_redis(directory: Path) -> Iterator[str]:
    """Run a redis-server for the ``with`` block; yields its URL (database 0)."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server; .ci/run installs it)")
    pytest.importorskip("redis", reason="the redis client is not installed: pip install 'sharedlm[redis]'")
    port = free_port()
    server = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(directory), "--save", "",
         "--appendonly", "no", "--logfile", ""],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert server.stdout is not None
        for line in server.stdout:  # its log, until it serves
            if "Ready to accept connections" in line:
                break
        else:
            pytest.fail(f"redis-server exited with {server.wait()}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)
