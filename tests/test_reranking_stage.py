"""The reranking stage on the fake models: its depth, its blend and its default weight are its own policy."""

from __future__ import annotations

import asyncio

from ragstream.core.models.fake import FakeModelClient
from ragstream.core.settings import ModelSettings, RetrievalSettings
from ragstream.core.stages.passage import Passage
from ragstream.core.stages.reranking import RerankingStage, RerankPolicy, passage_text

FIRST_STAGE = [  # best first by retrieval; the reranker prefers the vacation passage
    Passage(id="a", doc_id="router", version=1, chunk_no=0, title="Router", text="Reset the router.", score=0.9),
    Passage(id="b", doc_id="leave", version=1, chunk_no=0, title="Leave", text="Vacation days per year.", score=0.5),
    Passage(id="c", doc_id="lunch", version=1, chunk_no=0, text="Soup on Fridays.", score=0.1),
]


def rerank(weight=None, top_k=None, **settings):
    stage = RerankingStage(RetrievalSettings(**settings), ModelSettings(), FakeModelClient())
    return asyncio.run(stage.rerank(query="vacation days per year", passages=FIRST_STAGE, top_k=top_k,
                                    weight=weight)).value


def test_the_model_decides_at_weight_one_and_retrieval_at_weight_zero():
    assert [p.id for p in rerank(weight=1.0)][0] == "b"
    assert [p.id for p in rerank(weight=0.0)] == ["a", "b", "c"]


def test_the_default_weight_is_the_settings_and_both_scores_are_kept():
    assert [p.id for p in rerank(rerank_weight=1.0)] == [p.id for p in rerank(weight=1.0)]
    for passage in rerank():
        assert set(passage.scores) == {"retrieval", "rerank"}
        assert passage.scores["retrieval"] == next(p.score for p in FIRST_STAGE if p.id == passage.id)


def test_top_k_cuts_after_the_blend_and_nothing_in_is_nothing_out():
    assert len(rerank(top_k=2)) == 2 and len(rerank()) == 3
    stage = RerankingStage(RetrievalSettings(), ModelSettings(), FakeModelClient())
    assert asyncio.run(stage.rerank(query="q", passages=[])).value == []


def test_the_policy_asks_retrieval_for_the_depth_it_reranks():
    policy = RerankPolicy(RetrievalSettings(rerank=False, rerank_depth=20))
    assert not policy.enabled() and policy.enabled(True)
    assert policy.candidates(top_k=5, enabled=True) == 20 and policy.candidates(top_k=30, enabled=True) == 30
    assert policy.candidates(top_k=5, enabled=False) == 5


def test_the_reranker_reads_the_title_with_the_text():
    assert passage_text(FIRST_STAGE[0]) == "Router\nReset the router." and passage_text(FIRST_STAGE[2]) == \
        "Soup on Fridays."
