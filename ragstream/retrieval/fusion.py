"""Fusing ranked lists from several retrievers (dense, BM25) into one ranking, outside Milvus.

Fusing here rather than with Milvus' rankers keeps scores comparable across Milvus Lite (which returns BM25
negated) and a cluster, and lets the evaluation sweep the weight without re-querying.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

Hit = dict[str, Any]  # at least "id" and "score", best first


def reciprocal_rank(lists: Sequence[Sequence[Hit]], k: int = 60, limit: int | None = None) -> list[Hit]:
    """RRF: sum of 1 / (k + rank) over the lists a hit appears in; ignores score scales entirely."""
    fused: dict[str, Hit] = {}
    for hits in lists:
        for rank, hit in enumerate(hits, start=1):
            entry = fused.setdefault(hit["id"], {**hit, "score": 0.0})
            entry["score"] += 1.0 / (k + rank)
    return sorted(fused.values(), key=lambda h: -h["score"])[:limit]


def _min_max(hits: Sequence[Hit]) -> dict[str, float]:
    if not hits:
        return {}
    scores = [h["score"] for h in hits]
    low, span = min(scores), max(scores) - min(scores)
    return {h["id"]: (h["score"] - low) / span if span > 0 else 1.0 for h in hits}


def interpolate(dense: Sequence[Hit], sparse: Sequence[Hit], weight: float, limit: int | None = None) -> list[Hit]:
    """``weight`` × min-max-normalised dense score + (1 − ``weight``) × normalised BM25; absent counts as 0."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    dense_norm, sparse_norm = _min_max(dense), _min_max(sparse)
    by_id = {h["id"]: h for h in [*sparse, *dense]}
    fused = [{**hit, "score": weight * dense_norm.get(i, 0.0) + (1 - weight) * sparse_norm.get(i, 0.0)}
             for i, hit in by_id.items()]
    return sorted(fused, key=lambda h: -h["score"])[:limit]


def blend(hits: Sequence[Hit], model_scores: Sequence[float], weight: float) -> list[Hit]:
    """Second-stage ranking: ``weight`` × the normalised model score + (1 − ``weight``) × the normalised first-stage
    score, best first. A bi-encoder rescorer (the e5 default) alone discards what BM25 knew; the blend keeps both.
    Each hit keeps ``retrieval_score`` and the model's own ``rerank_score``."""
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")
    rescored = [{**hit, "retrieval_score": hit["score"], "rerank_score": float(score)}
                for hit, score in zip(hits, model_scores, strict=True)]
    first = _min_max(rescored)
    model = _min_max([{"id": h["id"], "score": h["rerank_score"]} for h in rescored])
    ranked = [{**h, "score": weight * model[h["id"]] + (1 - weight) * first[h["id"]]} for h in rescored]
    return sorted(ranked, key=lambda h: -h["score"])
