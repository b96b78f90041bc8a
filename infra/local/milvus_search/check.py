"""``--search checked``: every read answered by both Milvus Lite's path and ours on the same state, differences
logged. How tests/test_milvus_search.py proves the paths equal, and how an operator can check them on their own
data (at the cost of Milvus Lite's own speed). BM25 scores depend on how rows fall into segments, so only a
comparison on one state is exact."""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

MISMATCH = "search-mismatch"
BANNER = "checking every read against Milvus Lite's own path"


def _row(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=str)


def _hits(hits: list[dict]) -> list[str]:
    """A search answer's rows (key and entity), in a canonical order."""
    return sorted(_row({"id": h["id"], **h["entity"]}) for h in hits)


def difference(kind: str, stock: list, ours: list, top_k: int | None) -> str | None:
    """Why the two answers differ, or None. Hits must score alike in the same order; where the answer holds every
    match (fewer hits than asked for), they must also be the same rows, whatever the ties. Query rows are a set."""
    if kind == "query":
        return None if sorted(map(_row, stock)) == sorted(map(_row, ours)) else \
            f"{len(stock)} rows from Milvus Lite, {len(ours)} here"
    if len(stock) != len(ours):
        return f"{len(stock)} answers from Milvus Lite, {len(ours)} here"
    for number, (want, got) in enumerate(zip(stock, ours, strict=True)):
        want_d, got_d = [h["distance"] for h in want], [h["distance"] for h in got]
        if len(want_d) != len(got_d) or not np.allclose(got_d, want_d, rtol=1e-5, atol=1e-6):
            return f"query {number}: distances {want_d[:5]} from Milvus Lite, {got_d[:5]} here"
        if (top_k is None or len(want) < top_k) and _hits(want) != _hits(got):
            return f"query {number}: other rows ({_hits(want)[:3]} from Milvus Lite, {_hits(got)[:3]} here)"
    return None


def log_difference(kind: str, stock: list, ours: list, top_k: int | None) -> None:
    if (reason := difference(kind, stock, ours, top_k)) is not None:
        print(f"{MISMATCH} {kind}: {reason}", file=sys.stderr, flush=True)
