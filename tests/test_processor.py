"""Batch processing against the real Milvus Lite server, with an in-process embedder double."""

from __future__ import annotations

import pytest

from ragstream.core.index.store import IndexStore
from ragstream.schemas import DocumentEvent, Outcome
from ragstream.workers.chunking import Chunker
from ragstream.workers.failures import StageFailure
from ragstream.workers.processor import BatchProcessor
from testkit.doubles import FailingEmbedder, HashingEmbedder
from testkit.streams import expected_chunks


def up(version, text, doc="d"):
    return DocumentEvent(op="upsert", tenant="t", doc_id=doc, version=version, text=text, title="T")


def long_text(n):
    return " ".join(f"Sentence number {i} says something about rivers." for i in range(n))


def ids(store):
    return sorted(r["id"] for r in store.chunk_rows())


def test_new_version_replaces_old_chunks_and_delete_removes_all(isolated, store):
    processor = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store)
    v1, v2 = up(1, long_text(120)), up(2, long_text(10))
    assert [r.outcome for r in processor.process([(0, v1)])] == [Outcome.INDEXED]
    assert ids(store) == sorted(expected_chunks([v1], isolated.chunking))
    assert len(ids(store)) > 1
    assert [r.outcome for r in processor.process([(0, v2)])] == [Outcome.INDEXED]
    assert ids(store) == ["t/d/2/0"]
    assert processor.process([(0, v1)])[0].outcome is Outcome.IGNORED_STALE
    assert processor.process([(0, v2)])[0].outcome is Outcome.DUPLICATE
    gone = DocumentEvent(op="delete", tenant="t", doc_id="d", version=3)
    assert processor.process([(0, gone)])[0].outcome is Outcome.DELETED
    assert ids(store) == []
    assert store.doc_state("t", "d").state == "deleted"
    assert processor.process([(0, up(2, "late older text"))])[0].outcome is Outcome.IGNORED_STALE
    assert ids(store) == []


def test_indexed_chunks_are_searchable_within_their_tenant_only(isolated, store):
    embedder = HashingEmbedder()
    processor = BatchProcessor(Chunker(isolated.chunking), embedder, store)
    rivers = DocumentEvent(op="upsert", tenant="t", doc_id="rivers", version=1, text="rivers flow to the ocean")
    other = DocumentEvent(op="upsert", tenant="u", doc_id="rivers", version=1, text="rivers flow to the ocean")
    processor.process([(0, rivers), (1, other)])
    [query] = embedder.embed(["rivers flow to the ocean"])
    hits = store.search_dense(query, tenant="t")
    assert [h["id"] for h in hits] == ["t/rivers/1/0"] and hits[0]["score"] > 0.9


def test_transient_failure_leaves_nothing_half_applied(isolated, store):
    processor = BatchProcessor(Chunker(isolated.chunking), FailingEmbedder(failures=1), store)
    event = up(1, "hello rivers")
    with pytest.raises(StageFailure) as raised:
        processor.process([(0, event)])
    assert isinstance(raised.value.error, ConnectionError) and raised.value.stage.value == "embed"
    assert store.doc_state("t", "d") is None and ids(store) == []
    assert processor.process([(0, event)])[0].outcome is Outcome.INDEXED
    assert ids(store) == ["t/d/1/0"]


def test_sealing_after_seal_rows_or_when_idle_keeps_every_write(isolated):
    """Sealing flushes growing segments (fast searches); versions and deletes must read the same across it."""
    store = IndexStore(isolated.milvus.model_copy(update={"seal_rows": 5}), 384)
    store.ensure_collections()
    embedder = HashingEmbedder()
    processor = BatchProcessor(Chunker(isolated.chunking), embedder, store)
    try:
        processor.process([(0, up(1, "rivers flow", doc="a")), (1, up(1, "lakes rest", doc="b"))])
        assert 0 < store.unsealed < 5 and not store.seal()  # below the threshold: still growing
        processor.process([(0, up(2, "rivers flow to the ocean", doc="a"))])  # new version: upsert + delete
        assert store.seal() and store.unsealed == 0
        processor.process([(0, DocumentEvent(op="delete", tenant="t", doc_id="b", version=2))])
        assert not store.seal() and store.seal(idle=True) and not store.seal(idle=True)
        assert ids(store) == ["t/a/2/0"]
        [query] = embedder.embed(["rivers flow to the ocean"])
        assert [h["id"] for h in store.search_dense(query, tenant="t")] == ["t/a/2/0"]
        assert [h["id"] for h in store.search_bm25("ocean", tenant="t")] == ["t/a/2/0"]
        assert store.doc_state("t", "b").state == "deleted"
    finally:
        store.close()


def test_a_winner_over_the_chunk_cap_gives_way_to_the_write_it_overtook(isolated, store):
    from ragstream.core.settings import WorkerSettings

    processor = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store,
                               WorkerSettings(max_chunks_per_document=3))
    v6, v7 = up(6, "Version six fits."), up(7, long_text(400))
    results = processor.process([(0, v6), (1, v7)])
    assert [(r.outcome, r.version) for r in results] == [(Outcome.INDEXED, 6), (Outcome.DEAD_LETTERED, 7)]
    assert "the limit is 3" in results[1].reason and results[1].failed_stage.value == "chunk"
    assert store.doc_state("t", "d").version == 6 and ids(store) == ["t/d/6/0"]


def test_a_registry_moved_on_by_another_worker_makes_the_batch_plan_again(isolated, store):
    from ragstream.workers.failures import Fenced

    processor = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store)
    processor.process([(0, up(1, "First."))])
    other = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store)
    racing = True

    def fence():  # the other worker writes version 5 while this batch is between its reads and its writes
        nonlocal racing
        if racing:
            racing = False
            other.process([(0, up(5, "Written by the other worker."))])

    with pytest.raises(Fenced, match="changed in the registry"):
        processor.process([(0, up(2, "Second."))], fence=fence)
    assert store.doc_state("t", "d").version == 5  # not overwritten with 2
    store.repair(["t/d"])  # what the loop does after a fenced batch: the late version-2 chunks go
    assert processor.process([(0, up(2, "Second."))])[0].outcome is Outcome.IGNORED_STALE
    assert ids(store) == ["t/d/5/0"]
