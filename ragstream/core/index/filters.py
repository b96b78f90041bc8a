"""Renders a client's ``QueryFilter`` to a Milvus expression, always under the caller's tenant."""

from __future__ import annotations

import json

from ragstream.schemas.filters import Condition, QueryFilter

_COMPARE = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def literal(value) -> str:
    """JSON literals are Milvus literals: strings double-quoted with escapes, so a value can never end the string."""
    return json.dumps(value, ensure_ascii=False)


def _field(name: str) -> str:
    if name.startswith("metadata."):
        return f"metadata[{literal(name.removeprefix('metadata.'))}]"
    return name


def _condition(condition: Condition) -> str:
    field, value = _field(condition.field), condition.value
    if condition.op in _COMPARE:
        return f"{field} {_COMPARE[condition.op]} {literal(value)}"
    if condition.op == "contains":
        return f"json_contains({field}, {literal(value)})"
    rendered = f"{field} in [{', '.join(literal(v) for v in value)}]"
    return rendered if condition.op == "in" else f"not ({rendered})"


def expression(tenant: str, query_filter: QueryFilter | None = None) -> str:
    parts = [f"tenant == {literal(tenant)}"]
    parts += [f"({_condition(c)})" for c in (query_filter.all if query_filter else [])]
    return " and ".join(parts)
