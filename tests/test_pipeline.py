"""The query pipeline over local stand-ins for the deployments and the fake model client: which stage is called,
with what, and what reaches the prompt. Milliseconds, no Ray, Triton or Milvus."""

from __future__ import annotations

import asyncio

import pytest

from ragstream.core.models.fake import FakeModelClient
from ragstream.core.settings import ContextSettings, RetrievalSettings, Settings
from ragstream.core.stages.passage import Passage
from ragstream.schemas.generation import ChatMessage
from ragstream.services.api.pipeline import QueryPipeline
from testkit.handles import ListRetrieval, LocalHandle, local_stages

TEXTS = {
    "leave": "Employees receive twenty-five vacation days per year. Unused days expire in March.",
    "router": "The XR-7734 router is reset with the recessed button. Hold it for ten seconds.",
    "lunch": "The cafeteria serves soup on Fridays. Lunch is from noon to two.",
}
CORPUS = {"acme": [Passage(id=f"acme/{d}/1/0", doc_id=d, version=1, chunk_no=0, title=d.title(), text=t, score=0.0)
                   for d, t in TEXTS.items()]}


def pipeline(**sections) -> QueryPipeline:
    settings = Settings(**sections)
    client = FakeModelClient(settings.models.embedder.dimension)
    return QueryPipeline(asyncio.run(local_stages(settings, ListRetrieval(CORPUS, client), client)), settings)


def ask(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


def calls(handle: LocalHandle) -> list[tuple[str, dict]]:
    return handle.calls


def test_a_lone_question_skips_the_rewrite_and_every_stage_is_called_by_keyword():
    query = pipeline(retrieval=RetrievalSettings(rerank=True, rerank_depth=7))
    found = asyncio.run(query.retrieve("acme", ask("How many vacation days do employees get?"), query_filter=None,
                                       top_k=2))
    stages = query.stages
    assert calls(stages.rewrite) == []
    assert [name for name, _ in calls(stages.embedding)] == ["embed"]
    [(_, retrieve)] = calls(stages.retrieval)
    assert retrieve["top_k"] == 7, "reranking asks retrieval for its depth, not the final top_k"
    [(_, rerank)] = calls(stages.reranking)
    assert rerank["top_k"] == 2 and len(rerank["passages"]) == 3
    assert [p.doc_id for p in found.passages][:1] == ["leave"] and len(found.passages) == 2
    assert found.reranked and set(found.passages[0].scores) == {"retrieval", "rerank"}
    assert set(found.timings_ms) == {"embedding", "retrieval", "reranking"}


def test_bm25_needs_no_embedding_and_no_rerank_means_no_reranker_call():
    query = pipeline()
    found = asyncio.run(query.retrieve("acme", ask("XR-7734 reset"), query_filter=None, mode="bm25", rerank=False))
    assert calls(query.stages.embedding) == [] and calls(query.stages.reranking) == []
    assert not found.reranked and all(p.scores == {} for p in found.passages)


def test_a_follow_up_is_rewritten_with_its_conversation():
    query = pipeline()
    turns = [*ask("Which router do we use?"), ChatMessage(role="assistant", content="The XR-7734."),
             *ask("How do I reset it?")]
    found = asyncio.run(query.retrieve("acme", turns, query_filter=None))
    assert [name for name, _ in calls(query.stages.rewrite)] == ["rewrite"]
    assert found.queries == ["How do I reset it?", "Which router do we use? How do I reset it?"]


def test_the_gate_decides_what_reaches_the_prompt_and_compression_cuts_it():
    query = pipeline(context=ContextSettings(passages=3, min_coverage=None, coverage_gap=None, budget_tokens=40))
    grounding = asyncio.run(query.ground("acme", ask("How many vacation days do employees get?"), query_filter=None,
                                         top_k=None, rewrite=None, max_tokens=None, temperature=0.0, top_p=1.0,
                                         stop=[], seed=None))
    assert [name for name, _ in calls(query.stages.compression)] == ["compress"]
    assert [s.number for s in grounding.sources] == [1, 2, 3] and grounding.sources[0].passage.doc_id == "leave"
    assert all(s.passage.spans for s in grounding.sources), "compressed passages say which spans they kept"
    assert "[1] Leave" in grounding.request.messages[-1].content


def test_a_gate_nothing_passes_grounds_nothing_and_skips_compression():
    query = pipeline()  # the default gate: no passage names the world cup
    grounding = asyncio.run(query.ground("acme", ask("Who won the 1998 world cup?"), query_filter=None, top_k=None,
                                         rewrite=None, max_tokens=None, temperature=0.0, top_p=1.0, stop=[],
                                         seed=None))
    assert grounding.sources == [] and calls(query.stages.compression) == []
    assert "(no sources found)" in grounding.request.messages[-1].content


def test_another_tenant_sees_nothing():
    found = asyncio.run(pipeline().retrieve("globex", ask("vacation days"), query_filter=None))
    assert found.passages == []


def test_the_local_handle_refuses_positional_arguments_as_the_contract_does():
    query = pipeline()
    with pytest.raises(TypeError, match="keyword arguments only"):
        query.stages.embedding.embed.remote(["positional"])
