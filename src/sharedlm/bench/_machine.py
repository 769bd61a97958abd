"""Facts about the machine a benchmark ran on, so figures from different machines are never mixed up."""

from __future__ import annotations

import os
import platform
import resource
from importlib import metadata
from typing import Any

_PACKAGES = ("sharedlm", "dspy", "aiohttp", "litellm", "rich")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_mb() -> int | None:
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages: other work on the machine skews every figure."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_facts() -> dict[str, Any]:
    """Cores, open-file limit, memory, CPU, load, Python and library versions."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def limit(value: int) -> int | None:
        return None if value == resource.RLIM_INFINITY else int(value)

    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": _cpu_model(),
        "memory_mb": _memory_mb(),
        "open_file_limit": {"soft": limit(soft), "hard": limit(hard)},
        "load_average_at_start": load_average(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "versions": {package: _version(package) for package in _PACKAGES},
    }


__all__ = ["load_average", "machine_facts"]
