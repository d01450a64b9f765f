"""Example values for JSON schemas: what a well-behaved model returns for structured output.

Covers the subset that LLM tool and ``response_format`` schemas use: objects (properties,
required, additionalProperties), strings (enum, const, format, min/maxLength), numbers and
integers (bounds, exclusive bounds, multipleOf), booleans, arrays (items, prefixItems,
min/maxItems), ``anyOf``/``oneOf``/``allOf``, ``$ref`` into ``$defs``/``definitions``, type lists
and OpenAPI's ``nullable``. Recursive schemas terminate: past a depth only required
properties are produced and arrays are as short as allowed. ``pattern`` is met only when
one of a few stock values matches it (no regex inversion).
"""

from __future__ import annotations

import math
import re
from typing import Any

__all__ = ["example_for_schema"]

_MAX_DEPTH = 6
_FORMATS = {
    "date-time": "2025-01-01T00:00:00Z",
    "date": "2025-01-01",
    "time": "12:00:00",
    "email": "user@example.com",
    "uri": "https://example.com",
    "url": "https://example.com",
    "uuid": "123e4567-e89b-12d3-a456-426614174000",
    "ipv4": "127.0.0.1",
    "hostname": "example.com",
}
_PATTERN_CANDIDATES = [
    *_FORMATS.values(),
    "123",
    "0",
    "a",
    "A",
    "abc",
    "ABC",
    "abc123",
    "A1",
    "a-b",
    "a_b",
    "+15551234567",
    "#ffffff",
    "1.0.0",
]


def example_for_schema(schema: Any, root: Any = None, _depth: int = 0) -> Any:
    """Return a value valid against ``schema``.

    Args:
        schema: A JSON schema (a dict, or a boolean schema).
        root: The document ``$ref`` pointers resolve against (defaults to ``schema``).

    Returns:
        A JSON-compatible value that satisfies the schema.
    """
    root = schema if root is None else root
    if not isinstance(schema, dict):
        return "example"  # boolean schema ``true``
    if "$ref" in schema:
        target = _resolve(schema["$ref"], root)
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return example_for_schema(merged, root, _depth + 1)
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    if schema.get("allOf"):
        merged = dict(schema)
        parts = merged.pop("allOf")
        for part in parts:
            part = _resolve(part["$ref"], root) if "$ref" in part else part
            merged = _merge(merged, part)
        return example_for_schema(merged, root, _depth)
    for key in ("anyOf", "oneOf"):
        if schema.get(key):
            options = schema[key]
            non_null = [s for s in options if not (isinstance(s, dict) and s.get("type") == "null")]
            return example_for_schema((non_null or options)[0], root, _depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind is None:
        kind = _infer_type(schema)
    if kind == "object":
        return _object(schema, root, _depth)
    if kind == "array":
        return _array(schema, root, _depth)
    if kind == "string":
        return _string(schema)
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _number(schema)
    if kind == "boolean":
        return True
    return None


def _resolve(ref: str, root: Any) -> dict[str, Any]:
    if not ref.startswith("#"):
        raise ValueError(f"Only local $ref pointers are supported, got {ref!r}.")
    node: Any = root
    for part in ref[1:].split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node if isinstance(node, dict) else {}


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = {**a, **b}
    if "properties" in a or "properties" in b:
        out["properties"] = {**(a.get("properties") or {}), **(b.get("properties") or {})}
    if "required" in a or "required" in b:
        out["required"] = list(dict.fromkeys([*a.get("required", []), *b.get("required", [])]))
    return out


def _infer_type(schema: dict[str, Any]) -> str:
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema or "prefixItems" in schema:
        return "array"
    if {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"} & set(schema):
        return "number"
    if {"minLength", "maxLength", "pattern", "format"} & set(schema):
        return "string"
    return "object" if schema.get("nullable") is None else "string"


def _object(schema: dict[str, Any], root: Any, depth: int) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties") or {}
    required = list(schema.get("required") or [])
    names = required if depth >= _MAX_DEPTH else list(props)
    names += [n for n in required if n not in names]
    out = {name: example_for_schema(props.get(name, {}), root, depth + 1) for name in names}
    extra = schema.get("additionalProperties")
    minimum = int(schema.get("minProperties", 0))
    i = 0
    while len(out) < minimum and extra is not False:
        out[f"key{i}"] = example_for_schema(
            extra if isinstance(extra, dict) else {}, root, depth + 1
        )
        i += 1
    return out


def _array(schema: dict[str, Any], root: Any, depth: int) -> list[Any]:
    prefix = schema.get("prefixItems") or []
    out = [example_for_schema(s, root, depth + 1) for s in prefix]
    items = schema.get("items")
    minimum = int(schema.get("minItems", 0))
    maximum = schema.get("maxItems")
    wanted = max(minimum, len(out) + (0 if depth >= _MAX_DEPTH else 1))
    if maximum is not None:
        wanted = min(wanted, int(maximum))
    if items is False:
        return out[:wanted]
    item_schema = items if isinstance(items, dict) else {"type": "string"}
    while len(out) < wanted:
        value = example_for_schema(item_schema, root, depth + 1)
        if schema.get("uniqueItems") and value in out:
            value = _distinct(item_schema, len(out), value)
        out.append(value)
    return out


def _distinct(schema: dict[str, Any], n: int, value: Any) -> Any:
    if isinstance(value, str):
        return f"{value}{n}"
    if isinstance(value, bool):
        return not value
    if isinstance(value, (int, float)):
        return value + n
    return value


def _string(schema: dict[str, Any]) -> str:
    value = _FORMATS.get(str(schema.get("format")), "example")
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        # No regex inversion: the first stock value that matches, else the plain default.
        value = next((c for c in [value, *_PATTERN_CANDIDATES] if re.search(pattern, c)), value)
    minimum = int(schema.get("minLength", 0))
    maximum = schema.get("maxLength")
    if len(value) < minimum:
        value = value + "x" * (minimum - len(value))
    if maximum is not None and len(value) > int(maximum):
        value = value[: int(maximum)]
    return value


def _bounds(schema: dict[str, Any], step: float) -> tuple[float, float]:
    low = -math.inf
    high = math.inf
    if "minimum" in schema:
        low = float(schema["minimum"])
    if "exclusiveMinimum" in schema and not isinstance(schema["exclusiveMinimum"], bool):
        low = max(low, float(schema["exclusiveMinimum"]) + step)
    if "maximum" in schema:
        high = float(schema["maximum"])
    if "exclusiveMaximum" in schema and not isinstance(schema["exclusiveMaximum"], bool):
        high = min(high, float(schema["exclusiveMaximum"]) - step)
    return low, high


def _integer(schema: dict[str, Any]) -> int:
    low, high = _bounds(schema, 1)
    value = 1 if low <= 1 <= high else math.ceil(low) if low > -math.inf else int(high)
    multiple = schema.get("multipleOf")
    if multiple:
        m = int(multiple)
        value = int(math.ceil(value / m) * m)
        if value > high:
            value -= m
    return value


def _number(schema: dict[str, Any]) -> float:
    low, high = _bounds(schema, 1e-6)
    multiple = schema.get("multipleOf")
    if multiple:
        m = float(multiple)
        value = m if low <= m <= high else math.ceil(low / m) * m
        return float(value)
    if low <= 1.5 <= high:
        return 1.5
    if low > -math.inf and high < math.inf:
        return (low + high) / 2
    return low if low > -math.inf else high
