"""JSON encoding for the hot path: orjson when it is installed (DSPy depends on it), the standard library else."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

loads: Callable[[bytes], Any]
dumps: Callable[[Any], bytes]
canonical: Callable[[Any], str]

try:
    import orjson
except ImportError:  # pragma: no cover - orjson ships with DSPy
    loads = json.loads

    def dumps(value: Any) -> bytes:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()

    def canonical(value: Any) -> str:
        return json.dumps(value, sort_keys=True, separators=(",", ":"))

else:
    loads = orjson.loads
    dumps = orjson.dumps

    def canonical(value: Any) -> str:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


__all__ = ["canonical", "dumps", "loads"]
