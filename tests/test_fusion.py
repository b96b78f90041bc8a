"""Score fusion of dense and BM25 rankings."""

from __future__ import annotations

import pytest

from ragstream.core.retrieval.fusion import blend, interpolate, per_document, reciprocal_rank
from ragstream.core.stages.passage import Passage


def ranking(*scored: tuple[str, float], doc_id: str = "d") -> list[Passage]:
    return [Passage(id=i, doc_id=doc_id, version=1, chunk_no=0, text=i, score=s) for i, s in scored]


DENSE = [*ranking(("a", 0.9), doc_id="A"), *ranking(("b", 0.8), ("e", 0.1))]
BM25 = ranking(("c", 12.0), ("b", 11.0), ("d", 2.0))


def ids(passages):
    return [p.id for p in passages]


def test_rrf_rewards_agreement_and_keeps_fields():
    fused = reciprocal_rank([DENSE, BM25], k=60)
    assert ids(fused)[0] == "b"  # second in both lists beats first in one
    assert set(ids(fused)) == {"a", "b", "c", "d", "e"}
    assert fused[ids(fused).index("a")].doc_id == "A"
    assert fused[0].score == pytest.approx(2 / 62)
    assert ids(reciprocal_rank([DENSE, BM25], limit=2)) == ids(fused)[:2]


def test_interpolation_weights_the_normalised_scores():
    assert ids(interpolate(DENSE, BM25, weight=1.0))[:2] == ["a", "b"]
    assert ids(interpolate(DENSE, BM25, weight=0.0))[:2] == ["c", "b"]
    balanced = interpolate(DENSE, BM25, weight=0.5)
    assert ids(balanced)[0] == "b"  # 0.5 × 0.875 + 0.5 × 0.9 beats either list's winner alone
    assert all(0.0 <= p.score <= 1.0 for p in balanced)


def test_interpolation_handles_empty_and_flat_lists_and_rejects_bad_weights():
    assert ids(interpolate([], BM25, weight=0.7)) == ["c", "b", "d"]
    assert interpolate([], [], weight=0.5) == []
    flat = interpolate(ranking(("x", 0.3)), [], weight=0.5)
    assert flat[0].score == 0.5
    with pytest.raises(ValueError, match="weight"):
        interpolate(DENSE, BM25, weight=1.5)


def test_blend_mixes_the_reranker_with_the_first_stage_and_keeps_both_scores():
    first = ranking(("a", 0.9), ("b", 0.5), ("c", 0.1))
    model = [0.80, 0.84, 0.70]
    assert ids(blend(first, model, weight=1.0)) == ["b", "a", "c"]
    assert ids(blend(first, model, weight=0.0)) == ["a", "b", "c"]
    mixed = blend(first, model, weight=0.5)
    assert ids(mixed) == ["a", "b", "c"]  # 0.5 × 1 + 0.5 × 0.71 beats 0.5 × 0.5 + 0.5 × 1
    assert mixed[0].scores == {"retrieval": 0.9, "rerank": 0.80}
    with pytest.raises(ValueError, match="weight"):
        blend(first, model, weight=-0.1)


def test_per_document_keeps_each_documents_best_passages_in_order():
    mixed = [*ranking(("a1", 0.9), ("a2", 0.8), doc_id="A"), *ranking(("b1", 0.7), doc_id="B"),
             *ranking(("a3", 0.6), doc_id="A"), *ranking(("c1", 0.5), doc_id="C")]
    assert ids(per_document(mixed, 1)) == ["a1", "b1", "c1"]
    assert ids(per_document(mixed, 2, limit=3)) == ["a1", "a2", "b1"]
    assert ids(per_document(mixed, None, limit=4)) == ["a1", "a2", "b1", "a3"]
    assert per_document([], 1) == []
