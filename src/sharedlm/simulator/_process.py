"""The simulator in a child process (``python -m sharedlm.simulator``, the same as ``sharedlm simulate``), so
that in benchmarks the server gets a core of its own and never competes with the client for one interpreter.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from typing import IO, Any

from sharedlm._errors import ConfigurationError, SharedLMError
from sharedlm.simulator._settings import SimulatorSettings
from sharedlm.simulator._stats import SimulatorStats

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
HTTP_TIMEOUT_S = 10.0
_USAGE_EXIT = 2


class SimulatorProcess:
    """A simulator served by a child process: ``with SimulatorProcess(settings) as sim:``.

    The child also stops by itself within about a second when this process dies without stopping it.

    Args:
        settings: How the provider behaves; the defaults answer at once and never fail.
        python: The interpreter to run; the current one when None.
    """

    def __init__(self, settings: SimulatorSettings | None = None, *, python: str | None = None) -> None:
        self.settings = settings if settings is not None else SimulatorSettings()
        self._python = python or sys.executable
        self._process: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._base_url: str | None = None

    def __repr__(self) -> str:
        process = self._process
        if process is None:
            return f"SimulatorProcess(stopped, settings={self.settings!r})"
        state = "running" if process.poll() is None else f"exited {process.returncode}"
        return f"SimulatorProcess({state}, pid={process.pid}, base_url={self._base_url!r})"

    @property
    def command(self) -> list[str]:
        """The command line that runs the simulator."""
        return [self._python, "-m", "sharedlm.simulator", *self.settings.command_args(),
                "--parent-pid", str(os.getpid())]

    def start(self) -> SimulatorProcess:
        """Start the process and wait until it prints its base URL."""
        if self._process is not None:
            raise RuntimeError("the simulator process is already running")
        # Kept open for the process's life and read only if it fails to start; closed by stop().
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115
        self._process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                         stderr=self._stderr)
        line = self._first_line(self._process)
        if not line.startswith("http"):
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(STOP_TIMEOUT_S)
            failure = self._start_failure(line)
            self.stop()
            raise failure
        self._base_url = line
        return self

    def _first_line(self, process: subprocess.Popen[bytes]) -> str:
        assert process.stdout is not None
        deadline = time.monotonic() + START_TIMEOUT_S
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if selector.select(timeout=0.1):
                    return process.stdout.readline().decode(errors="replace").strip()
                if process.poll() is not None:
                    return ""
        return ""

    def _start_failure(self, line: str) -> SharedLMError:
        detail = self._stderr_text() or line or "no output"
        code = self._process.returncode if self._process is not None else None
        message = f"the simulator process did not start (exit code {code}): {detail}"
        return ConfigurationError(message) if code == _USAGE_EXIT else SharedLMError(message)

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip()[-2000:]

    def stop(self) -> int | None:
        """Terminate the process (SIGTERM, then SIGKILL after a timeout); returns its exit code."""
        process, self._process = self._process, None
        self._base_url = None
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT_S)
        if process.stdout is not None:
            process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return process.returncode

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        """The child's process id."""
        if self._process is None:
            raise RuntimeError("the simulator process is not running")
        return self._process.pid

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL the process printed, ``http://HOST:PORT/v1``."""
        if self._base_url is None:
            raise RuntimeError("the simulator process is not running; use `with SimulatorProcess(...) as sim:`")
        return self._base_url

    @property
    def root_url(self) -> str:
        """``http://HOST:PORT`` (``https://`` with a certificate)."""
        return self.base_url.removesuffix("/v1")

    @property
    def gemini_base_url(self) -> str:
        """The Gemini-style base URL, ``http://HOST:PORT/v1beta``."""
        return f"{self.root_url}/v1beta"

    def _control(self, method: str, path: str) -> dict[str, Any]:
        data = b"" if method == "POST" else None
        request = urllib.request.Request(f"{self.root_url}{path}", method=method, data=data)
        # Over HTTPS, the child's own certificate is the one to trust (it is self-signed in tests and benchmarks).
        context = ssl.create_default_context(cafile=self.settings.tls_cert) if self.settings.tls_cert else None
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_S, context=context) as response:
            decoded = json.loads(response.read())
        assert isinstance(decoded, dict)
        return decoded

    def stats(self) -> SimulatorStats:
        """A snapshot of the child's counters (``GET /sim/stats``)."""
        return SimulatorStats.from_dict(self._control("GET", "/sim/stats"))

    def reset(self) -> None:
        """Zero the child's counters (``POST /sim/reset``)."""
        self._control("POST", "/sim/reset")


__all__ = ["SimulatorProcess"]
