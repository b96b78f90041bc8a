"""The relevance gate: after reranking, only passages close enough to the best, and above the floor, ground an
answer; without reranker scores it has no say."""

from __future__ import annotations

from ragstream.settings import ContextSettings
from ragstream.stages.gate import RelevanceGate
from ragstream.stages.passage import Passage


def test_only_passages_near_the_best_reranked_score_reach_the_prompt():
    def passages(*scored):
        return [Passage(id=str(i), doc_id="d", version=1, chunk_no=0, text="t", score=s, scores={"rerank": s})
                for i, s in scored]

    def kept(found, max_gap, min_score):
        gate = RelevanceGate(ContextSettings(max_score_gap=max_gap, min_score=min_score))
        return [p.id for p in gate.keep(passages=found)]

    found = passages(*enumerate([0.9, 0.85, 0.79, 0.5]))
    assert kept(found, 0.08, None) == ["0", "1"]
    assert kept(found, None, 0.6) == ["0", "1", "2"]
    assert kept(found, 0.08, 0.95) == [] and kept([], 0.1, None) == []
    blended_first = [*passages(("bm25-led", 0.7)), *found]  # first after the blend, far below the best
    assert kept(blended_first, 0.08, None) == ["bm25-led", "0", "1"]
    not_reranked = [p.model_copy(update={"scores": {}}) for p in found]
    assert kept(not_reranked, 0.08, 0.95) == ["0", "1", "2", "3"], "without reranker scores the gate has no say"


def test_chat_reranks_exactly_when_the_gate_is_on():
    assert RelevanceGate(ContextSettings(rerank=True)).needs_rerank
    assert not RelevanceGate(ContextSettings(rerank=False)).needs_rerank


def test_the_thresholds_default_to_the_settings_and_a_call_may_override_them():
    found = [Passage(id=str(i), doc_id="d", version=1, chunk_no=0, text="t", score=s, scores={"rerank": s})
             for i, s in enumerate([0.9, 0.8])]
    gate = RelevanceGate(ContextSettings(max_score_gap=None, min_score=0.85))
    assert [p.id for p in gate.keep(passages=found)] == ["0"]
    assert [p.id for p in gate.keep(passages=found, min_score=0.5)] == ["0", "1"]
