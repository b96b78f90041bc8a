"""Hybrid retrieval over the real Milvus Lite server with query embeddings from the real Triton server."""

from __future__ import annotations

import asyncio

import pytest

from ragstream.core.index.records import Chunk
from ragstream.core.index.store import IndexStore, StaleChunks
from ragstream.core.models.client import Priority
from ragstream.core.models.factory import BlockingModels
from ragstream.core.models.triton_client import TritonModelClient
from ragstream.core.retrieval.hybrid import HybridRetriever
from ragstream.schemas import DocumentEvent
from ragstream.schemas.filters import Condition, QueryFilter
from ragstream.workers.chunking import Chunker
from ragstream.workers.processor import BatchProcessor
from testkit.settings import isolate

pytestmark = pytest.mark.stack

DOCS = {
    "vacation": "Employees receive twenty-five days of paid annual leave each calendar year.",
    "router": "Reset the XR-7734 router by holding the recessed button for ten seconds.",
    "cafeteria": "The cafeteria serves lunch from noon until two in the afternoon on weekdays.",
    "parking": "Visitors park in the north garage and register their car at the front desk.",
}


@pytest.fixture(scope="module")
def corpus(stack):
    settings = isolate(stack, "retrieval")
    store = IndexStore(settings.milvus, settings.models.embedder.dimension)
    store.ensure_collections()
    embedder = BlockingModels(settings.models)
    events = [DocumentEvent(op="upsert", tenant=tenant, doc_id=f"{tenant}-{doc}", version=1, title=doc.title(),
                            text=text, metadata={"team": "it" if doc == "router" else "people"})
              for tenant in ("acme", "globex") for doc, text in DOCS.items()]
    BatchProcessor(Chunker(settings.chunking), embedder, store).process(list(enumerate(events)))
    embedder.close()
    yield settings, store
    store.close()


def search(corpus, query, tenant="acme", fusion="interpolation", per_document=1, **kwargs):
    settings, store = corpus

    async def run():
        models = TritonModelClient(settings.models, settings.models.triton.url)
        try:
            retrieval = settings.retrieval.model_copy(update={"fusion": fusion, "per_document": per_document})
            [vector] = await models.embed([query], Priority.QUERY)
            return await HybridRetriever(store, retrieval).search(query, vector, tenant, **kwargs)
        finally:
            await models.close()

    return [passage.doc_id for passage in asyncio.run(run())]


def test_dense_finds_a_paraphrase_and_bm25_finds_a_rare_keyword(corpus):
    assert search(corpus, "How much holiday time do staff get?", mode="dense")[0] == "acme-vacation"
    assert search(corpus, "XR-7734", mode="bm25")[0] == "acme-router"


@pytest.mark.parametrize("fusion", ["interpolation", "rrf"])
def test_hybrid_gets_both_kinds_of_query_right(corpus, fusion):
    assert search(corpus, "How much holiday time do staff get?", fusion=fusion)[0] == "acme-vacation"
    assert search(corpus, "XR-7734 not working", fusion=fusion)[0] == "acme-router"


def test_results_stay_in_the_tenant_and_honour_filters(corpus):
    for mode in ("dense", "bm25", "hybrid"):
        hits = search(corpus, "router reset lunch parking leave", mode=mode, top_k=20)
        assert hits and all(h.startswith("acme-") for h in hits)
    it_only = QueryFilter(all=[Condition(field="metadata.team", value="it")])
    assert search(corpus, "lunch and holidays", query_filter=it_only, top_k=20) == ["acme-router"]
    assert search(corpus, "XR-7734", tenant="initech") == []


def test_several_queries_fuse_and_feedback_keeps_the_best_hit(corpus):
    settings, store = corpus

    async def run():
        models = TritonModelClient(settings.models, settings.models.triton.url)
        try:
            queries = ["How much holiday time do staff get?", "XR-7734 router"]
            vectors = await models.embed(queries, Priority.QUERY)
            retriever = HybridRetriever(store, settings.retrieval)
            fused = await retriever.search_many(queries, vectors, "acme", top_k=4)
            prf = await retriever.search(queries[0], vectors[0], "acme", mode="dense", prf=True)
            return [p.doc_id for p in fused], [p.doc_id for p in prf]
        finally:
            await models.close()

    fused, prf = asyncio.run(run())
    assert set(fused[:2]) == {"acme-vacation", "acme-router"}
    assert prf[0] == "acme-vacation" and all(d.startswith("acme-") for d in prf)


def test_a_long_document_takes_one_place_unless_more_are_allowed(corpus):
    """A document split into many chunks that all match would otherwise fill the result with itself."""
    settings, store = corpus
    ledger = " ".join(f"Step {n}: the quarterly ledger reconciliation compares the ledger of branch {n} with the "
                      f"bank statement and flags every ledger entry without a matching transfer." for n in range(40))
    events = [DocumentEvent(op="upsert", tenant="umbrella", doc_id=doc, version=1, text=text)
              for doc, text in (("ledger", ledger), ("audit", "The audit reads the quarterly ledger once a year."))]
    chunker = Chunker(settings.chunking)
    assert len(chunker.split(events[0])) >= 4
    embedder = BlockingModels(settings.models)
    try:
        BatchProcessor(chunker, embedder, store).process(list(enumerate(events)))
    finally:
        embedder.close()
    for mode in ("dense", "bm25", "hybrid"):
        capped = search(corpus, "quarterly ledger reconciliation", tenant="umbrella", mode=mode, top_k=3)
        assert sorted(capped) == ["audit", "ledger"], mode
        twice = search(corpus, "quarterly ledger reconciliation", tenant="umbrella", mode=mode, top_k=3,
                       per_document=2)
        assert twice.count("ledger") == 2 and "audit" in twice, mode
        assert search(corpus, "quarterly ledger reconciliation", tenant="umbrella", mode=mode, top_k=3,
                      per_document=None) == ["ledger"] * 3, mode


def test_searches_never_show_a_chunk_the_registry_has_moved_past(corpus):
    """What a fenced worker's late write leaves (an older version) stays in the raw collection until its repair, and
    a Bounded read on a cluster can still see rows just deleted; the registry, written last, hides both from
    searches."""
    settings, store = corpus
    embedder = BlockingModels(settings.models)
    try:
        [vector] = embedder.embed(["parking in the north garage"])
    finally:
        embedder.close()
    stale = Chunk(tenant="acme", doc_id="acme-parking", version=0, chunk_no=0, title="Parking",
                  text="Visitors park in the south garage.", content="Visitors park in the south garage.",
                  metadata={}, event_time_ms=0)
    store.upsert_chunks([stale], [vector])
    try:
        assert stale.id in {row["id"] for row in store.chunk_rows(("id",))}
        for hits in (store.search_dense(vector, "acme", limit=20), store.search_bm25("south garage", "acme")):
            assert hits and {(h["doc_id"], h["version"]) for h in hits if h["doc_id"] == "acme-parking"} == {
                ("acme-parking", 1)}
    finally:
        store.delete_chunks([StaleChunks("acme", "acme-parking", keep_version=1, keep_count=1)])
    assert search(corpus, "Where do visitors park?")[0] == "acme-parking"


def test_bm25_matches_other_forms_of_a_word_and_a_collection_keeps_its_analysis(corpus, isolated):
    # the router document says "Reset the XR-7734 router": english analysis stems both sides of the match
    assert search(corpus, "resetting routers", mode="bm25")[0] == "acme-router"
    assert search(corpus, "???", mode="bm25") == []  # no word left to match: no hits, no error
    standard = isolated.milvus.model_copy(update={"bm25_analysis": "standard"})
    built, opened = IndexStore(standard, 384), IndexStore(isolated.milvus, 384)
    try:
        built.ensure_collections()
        with pytest.raises(RuntimeError, match="built with bm25_analysis=standard"):
            opened.ensure_collections()  # its index was analysed otherwise: queries would silently miss
    finally:
        built.close()
        opened.close()


@pytest.mark.parametrize("ef", [1, 512])
def test_dense_search_takes_its_hnsw_breadth_from_the_settings(corpus, ef):
    """``milvus.search_ef`` reaches the search (raised to the hits asked for: a cluster refuses ef < limit)."""
    settings, _ = corpus
    milvus = settings.milvus.model_copy(update={"search_ef": ef})
    store, models = IndexStore(milvus, settings.models.embedder.dimension), BlockingModels(settings.models)
    try:
        [vector] = models.embed(["paid annual leave"])
        hits = store.search_dense(vector, "acme", limit=8)
    finally:
        models.close()
        store.close()
    assert [h["doc_id"] for h in hits][:1] == ["acme-vacation"] and len(hits) == len(DOCS)
