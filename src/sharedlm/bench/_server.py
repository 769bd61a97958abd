"""The provider a scenario runs against: the simulator in a child process, or a base URL the user gave.

Only the simulator can report what the server saw (connections, peak in flight, 429s); against any other
provider those columns stay empty.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import TracebackType
from typing import Any, Protocol


class BenchServer(Protocol):
    """What the suite needs from a provider."""

    @property
    def base_url(self) -> str: ...

    def reset(self) -> None: ...

    def stats(self) -> dict[str, Any] | None: ...

    def close(self) -> None: ...


class SimulatedServer:
    """The simulator in a child process (``SimulatorProcess``), started on construction.

    Args:
        settings: Keyword arguments of ``SimulatorSettings``.
    """

    def __init__(self, settings: Mapping[str, Any]) -> None:
        from sharedlm.simulator import SimulatorProcess, SimulatorSettings

        self.settings = SimulatorSettings(**dict(settings))
        self._process = SimulatorProcess(self.settings).start()

    def __repr__(self) -> str:
        return f"SimulatedServer({self._process!r})"

    @property
    def base_url(self) -> str:
        return self._process.base_url

    def reset(self) -> None:
        self._process.reset()

    def stats(self) -> dict[str, Any] | None:
        snapshot = self._process.stats()
        data = snapshot.as_dict()
        data["ok"] = snapshot.ok
        return data

    def close(self) -> None:
        self._process.stop()

    def __enter__(self) -> SimulatedServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class ExternalServer:
    """A provider the user named with ``--api-base``: no knobs, no server-side counters.

    Args:
        base_url: Its OpenAI-compatible base URL.
    """

    def __init__(self, base_url: str) -> None:
        self._base_url = base_url

    def __repr__(self) -> str:
        return f"ExternalServer(base_url={self._base_url!r})"

    @property
    def base_url(self) -> str:
        return self._base_url

    def reset(self) -> None:
        pass

    def stats(self) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        pass


__all__ = ["BenchServer", "ExternalServer", "SimulatedServer"]
