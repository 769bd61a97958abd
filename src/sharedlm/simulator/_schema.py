"""Build a value that satisfies a JSON schema, deterministically from a small variant number.

It covers what pydantic and DSPy emit for typed outputs (objects, arrays, ``$ref``/``$defs``, ``anyOf``,
``enum``, ``const``, string formats, numeric bounds, tuples) and Gemini's upper-case OpenAPI flavour.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 24
# Past this depth arrays are as short as allowed and unions prefer null, so recursive models terminate.
_SHALLOW_DEPTH = 8
_WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima")
_STRING_FORMATS: Mapping[str, str] = {
    "date-time": "2024-01-0{d}T12:00:00Z",
    "date": "2024-01-0{d}",
    "time": "12:00:0{d}",
    "email": "user{d}@example.com",
    "uri": "https://example.com/item/{d}",
    "url": "https://example.com/item/{d}",
    "uuid": "00000000-0000-4000-8000-00000000000{d}",
    "duration": "PT{d}S",
    "ipv4": "192.0.2.{d}",
    "ipv6": "2001:db8::{d}",
    "hostname": "host{d}.example.com",
}


def word(variant: int, offset: int = 0) -> str:
    """A deterministic filler word."""
    return _WORDS[(variant + offset) % len(_WORDS)]


def schema_instance(schema: Mapping[str, Any], variant: int = 0) -> Any:
    """A value valid under ``schema``.

    Args:
        schema: A JSON schema (``$ref`` resolves against this root's ``$defs``/``definitions``).
        variant: Picks among valid values, so that different requests get different answers.
    """
    return _instance(schema, schema, variant, 0)


def _resolve(ref: str, root: Mapping[str, Any]) -> Mapping[str, Any]:
    node: Any = root
    if ref.startswith("#"):
        for part in ref.lstrip("#").strip("/").split("/"):
            if not part:
                continue
            if not isinstance(node, Mapping) or part.replace("~1", "/").replace("~0", "~") not in node:
                return {}
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node if isinstance(node, Mapping) else {}


def _type_of(node: Mapping[str, Any]) -> str | None:
    kind = node.get("type")
    if isinstance(kind, list):
        kinds = [str(k).lower() for k in kind]
        non_null = [k for k in kinds if k != "null"]
        return non_null[0] if non_null else "null"
    if isinstance(kind, str):
        return kind.lower()
    if "properties" in node or "additionalProperties" in node:
        return "object"
    if "items" in node or "prefixItems" in node:
        return "array"
    return None


def _instance(node: Mapping[str, Any], root: Mapping[str, Any], variant: int, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        return None
    ref = node.get("$ref")
    if isinstance(ref, str):
        merged = {**_resolve(ref, root), **{k: v for k, v in node.items() if k != "$ref"}}
        return _instance(merged, root, variant, depth + 1)
    if "const" in node:
        return node["const"]
    enum = node.get("enum")
    if isinstance(enum, list) and enum:
        return enum[variant % len(enum)]
    for key in ("anyOf", "oneOf"):
        options = node.get(key)
        if isinstance(options, list) and options:
            return _instance(_pick_option(options, depth), root, variant, depth + 1)
    all_of = node.get("allOf")
    if isinstance(all_of, list) and all_of:
        merged = {}
        for part in all_of:
            if isinstance(part, Mapping):
                merged.update(_resolve(part["$ref"], root) if isinstance(part.get("$ref"), str) else part)
        merged.update({k: v for k, v in node.items() if k != "allOf"})
        return _instance(merged, root, variant, depth + 1)
    if node.get("nullable") is True and depth >= _SHALLOW_DEPTH:
        return None
    kind = _type_of(node)
    if kind == "object":
        return _object(node, root, variant, depth)
    if kind == "array":
        return _array(node, root, variant, depth)
    if kind == "integer":
        return _number(node, variant % 7 + 1, integer=True)
    if kind == "number":
        return _number(node, 0.25 + (variant % 8) * 0.125, integer=False)
    if kind == "boolean":
        return variant % 2 == 0
    if kind == "null":
        return None
    return _string(node, variant)


def _pick_option(options: list[Any], depth: int) -> Mapping[str, Any]:
    usable = [o for o in options if isinstance(o, Mapping)]
    if not usable:
        return {}
    non_null = [o for o in usable if o.get("type") != "null"]
    if not non_null or (depth >= _SHALLOW_DEPTH and len(non_null) < len(usable)):
        return {"type": "null"}
    return non_null[0]


def _object(node: Mapping[str, Any], root: Mapping[str, Any], variant: int, depth: int) -> dict[str, Any]:
    properties = node.get("properties")
    if isinstance(properties, Mapping) and properties:
        return {name: _instance(sub if isinstance(sub, Mapping) else {}, root, variant + i, depth + 1)
                for i, (name, sub) in enumerate(properties.items())}
    extra = node.get("additionalProperties")
    if isinstance(extra, Mapping) and depth < _SHALLOW_DEPTH:
        return {f"{word(variant)}": _instance(extra, root, variant, depth + 1)}
    return {}


def _array(node: Mapping[str, Any], root: Mapping[str, Any], variant: int, depth: int) -> list[Any]:
    prefix = node.get("prefixItems")
    if isinstance(prefix, list):
        return [_instance(sub if isinstance(sub, Mapping) else {}, root, variant + i, depth + 1)
                for i, sub in enumerate(prefix)]
    low = int(node.get("minItems", 0) or 0)
    high = node.get("maxItems")
    size = low if depth >= _SHALLOW_DEPTH else max(low, 2)
    if isinstance(high, int):
        size = min(size, high)
    items = node.get("items")
    item_schema = items if isinstance(items, Mapping) else {}
    values = [_instance(item_schema, root, variant + i, depth + 1) for i in range(size)]
    if node.get("uniqueItems") and len({repr(v) for v in values}) < len(values):
        values = values[:1]
    return values


def _number(node: Mapping[str, Any], preferred: float, *, integer: bool) -> int | float:
    low, high = node.get("minimum"), node.get("maximum")
    ex_low, ex_high = node.get("exclusiveMinimum"), node.get("exclusiveMaximum")
    step = 1 if integer else 0.5
    value: float = preferred
    if isinstance(ex_low, int | float) and not isinstance(ex_low, bool) and value <= ex_low:
        value = ex_low + step if integer else ex_low + (abs(ex_low) or 1) * 0.01
    if isinstance(low, int | float) and not isinstance(low, bool) and value < low:
        value = low
    if isinstance(ex_high, int | float) and not isinstance(ex_high, bool) and value >= ex_high:
        value = ex_high - step if integer else ex_high - (abs(ex_high) or 1) * 0.01
    if isinstance(high, int | float) and not isinstance(high, bool) and value > high:
        value = high
    multiple = node.get("multipleOf")
    if isinstance(multiple, int | float) and not isinstance(multiple, bool) and multiple > 0:
        value = max(multiple, round(value / multiple) * multiple)
    if integer:
        return int(value)
    return float(value)


def _string(node: Mapping[str, Any], variant: int) -> str:
    template = _STRING_FORMATS.get(str(node.get("format", "")))
    text = template.format(d=variant % 9 + 1) if template else f"{word(variant)} {word(variant, 3)}"
    low, high = node.get("minLength"), node.get("maxLength")
    if isinstance(low, int) and len(text) < low:
        text = (text + " " + word(variant, 5)) * (low // max(1, len(text)) + 1)
    if isinstance(high, int) and len(text) > high:
        text = text[:high]
    return text


__all__ = ["schema_instance", "word"]
