"""Default values of the bulk runner, kept free of imports so the command-line parser can use them cheaply."""

from __future__ import annotations

DEFAULT_CONCURRENCY = 200
DEFAULT_ID_FIELD = "id"
DEFAULT_RETRY_BACKOFF_S = 1.0
MAX_RETRY_BACKOFF_S = 30.0
# After the first Ctrl-C, rows in flight get this long to finish before they are cancelled.
DEFAULT_GRACE_S = 5.0
# The demo: realistic provider latency, still finishing the bundled dataset in seconds.
DEFAULT_DEMO_LATENCY_S = 0.1
DEFAULT_DEMO_CONCURRENCY = 200
# Where rows run: in this process, or on Ray worker processes (`--backend ray`).
BACKENDS = ("local", "ray")
DEFAULT_BACKEND = "local"

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_DEMO_CONCURRENCY",
    "DEFAULT_DEMO_LATENCY_S",
    "DEFAULT_GRACE_S",
    "DEFAULT_ID_FIELD",
    "DEFAULT_RETRY_BACKOFF_S",
    "MAX_RETRY_BACKOFF_S",
]
