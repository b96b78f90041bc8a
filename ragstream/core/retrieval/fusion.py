"""Fusing ranked lists from several retrievers (dense, BM25) into one ranking, outside Milvus.

Fusing here rather than with Milvus' rankers keeps scores comparable across Milvus Lite (which returns BM25
negated) and a cluster, and lets the evaluation sweep the weight without re-querying.
"""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.core.stages.passage import Passage


def _merged(lists: Sequence[Sequence[Passage]]) -> dict[str, Passage]:
    """Each passage once, carrying the per-stage scores every list gave it (a retriever tags its raw score)."""
    merged: dict[str, Passage] = {}
    for ranking in lists:
        for passage in ranking:
            seen = merged.get(passage.id)
            merged[passage.id] = passage if seen is None else seen.rescored(seen.score, **passage.scores)
    return merged


def reciprocal_rank(lists: Sequence[Sequence[Passage]], k: int = 60, limit: int | None = None) -> list[Passage]:
    """RRF: sum of 1 / (k + rank) over the lists a passage appears in; ignores score scales entirely."""
    fused: dict[str, float] = {}
    for ranking in lists:
        for rank, passage in enumerate(ranking, start=1):
            fused[passage.id] = fused.get(passage.id, 0.0) + 1.0 / (k + rank)
    ranked = [passage.rescored(fused[i]) for i, passage in _merged(lists).items()]
    return sorted(ranked, key=lambda p: -p.score)[:limit]


def _min_max(scores: dict[str, float]) -> dict[str, float]:
    if not scores:
        return {}
    low, span = min(scores.values()), max(scores.values()) - min(scores.values())
    return {key: (score - low) / span if span > 0 else 1.0 for key, score in scores.items()}


def _check(weight: float) -> None:
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must be in [0, 1], got {weight}")


def interpolate(dense: Sequence[Passage], sparse: Sequence[Passage], weight: float,
                limit: int | None = None) -> list[Passage]:
    """``weight`` × min-max-normalised dense score + (1 − ``weight``) × normalised BM25; absent counts as 0."""
    _check(weight)
    dense_norm = _min_max({p.id: p.score for p in dense})
    sparse_norm = _min_max({p.id: p.score for p in sparse})
    fused = [p.rescored(weight * dense_norm.get(i, 0.0) + (1 - weight) * sparse_norm.get(i, 0.0))
             for i, p in _merged([dense, sparse]).items()]
    return sorted(fused, key=lambda p: -p.score)[:limit]


def per_document(passages: Sequence[Passage], most: int | None, limit: int | None = None) -> list[Passage]:
    """The ranking with at most ``most`` passages of any one document (its best ones; None = no cap), first
    ``limit``. Without a cap a long document's neighbouring chunks take the places of other documents: the same
    evidence twice, and another document's missing from the result."""
    if most is None:
        return list(passages[:limit])
    seen: dict[str, int] = {}
    kept = []
    for passage in passages:
        seen[passage.doc_id] = seen.get(passage.doc_id, 0) + 1
        if seen[passage.doc_id] <= most:
            kept.append(passage)
    return kept[:limit]


def blend(passages: Sequence[Passage], model_scores: Sequence[float], weight: float) -> list[Passage]:
    """Second-stage ranking: ``weight`` × the normalised model score + (1 − ``weight``) × the normalised first-stage
    score, best first. A bi-encoder rescorer (the e5 default) alone discards what BM25 knew; the blend keeps both.
    Each passage keeps its first-stage score as ``scores["retrieval"]`` and the model's as ``scores["rerank"]``."""
    _check(weight)
    model_scores = [float(s) for s in model_scores]
    first = _min_max({p.id: p.score for p in passages})
    model = _min_max({p.id: s for p, s in zip(passages, model_scores, strict=True)})
    ranked = [p.rescored(weight * model[p.id] + (1 - weight) * first[p.id], retrieval=p.score, rerank=s)
              for p, s in zip(passages, model_scores, strict=True)]
    return sorted(ranked, key=lambda p: -p.score)
