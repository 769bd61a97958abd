"""The PNG plot of a report: wall time and peak descriptors against workflows, one line per variant.

matplotlib is an optional extra (``pip install 'sharedlm[plot]'``); without it :func:`write_plot` raises
:class:`PlotUnavailableError` with that instruction, and the rest of the report is unaffected.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sharedlm._errors import SharedLMError
from sharedlm.bench._scenarios import CONNECTIONS, LATENCY, RSS_BASELINE_NOTE

_MEASURED = ("ok", "failures")


class PlotUnavailableError(SharedLMError):
    """matplotlib is not installed."""


def _series(scenario: Mapping[str, Any], key: str) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    for row in scenario.get("rows", []):
        if row["status"] not in _MEASURED or row.get("fd_limit") or row.get("note") == RSS_BASELINE_NOTE:
            continue
        if row.get(key) is None:
            continue
        series.setdefault(row["variant"], []).append((row["workflows"], float(row[key])))
    return {variant: sorted(points) for variant, points in series.items()}


def write_plot(report: Mapping[str, Any], path: Path) -> None:
    """Draw wall time (connections, latency) and peak descriptors (connections) against workflows.

    Args:
        report: The report.
        path: The PNG file to write.

    Raises:
        PlotUnavailableError: When matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailableError(
            "the plot needs matplotlib: pip install 'sharedlm[plot]' (or pip install matplotlib); the tables and "
            "JSON are unaffected"
        ) from None
    panels = [(name, "wall_s", "wall time (s)") for name in (CONNECTIONS, LATENCY) if name in report["scenarios"]]
    if CONNECTIONS in report["scenarios"]:
        panels.append((CONNECTIONS, "peak_fds", "peak open descriptors"))
    panels = [p for p in panels if _series(report["scenarios"][p[0]], p[1])]
    figure, axes = plt.subplots(1, max(1, len(panels)), figsize=(6 * max(1, len(panels)), 4.5), squeeze=False)
    for axis, (name, key, label) in zip(axes[0], panels, strict=False):
        for variant, points in _series(report["scenarios"][name], key).items():
            xs, ys = zip(*points, strict=True)
            axis.plot(xs, ys, marker="o", label=variant)
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("concurrent workflows")
        axis.set_ylabel(label)
        axis.set_title(f"{name}: {label}")
        axis.grid(True, which="both", alpha=0.3)
        axis.legend(fontsize="small")
    if not panels:
        axes[0][0].text(0.5, 0.5, "no connections or latency rows to plot", ha="center", va="center")
        axes[0][0].set_axis_off()
    figure.suptitle(f"sharedlm bench, {report['date']}", fontsize="medium")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


__all__ = ["PlotUnavailableError", "write_plot"]
