"""The version registry against the real Milvus Lite server: a state never goes back, whoever writes last, and a
registry of the previous layout is carried over."""

from __future__ import annotations

import threading

import pytest

from ragstream.core.index.records import DocState, LogMark
from ragstream.core.index.store import IndexStore
from ragstream.schemas import DocumentEvent, Outcome
from ragstream.workers.chunking import Chunker
from ragstream.workers.processor import BatchProcessor
from testkit.doubles import HashingEmbedder

pytestmark = pytest.mark.stack


def state(version: int, offset: int, ts: int, doc: str = "d") -> DocState:
    return DocState("t", doc, version, "indexed", f"h{version}", 1, 0, 0).marked(LogMark(0, offset, ts))


def registry_rows(store: IndexStore, doc: str = "d") -> list[dict]:
    return store.client.query(store.registry, filter=f'key == "t/{doc}"', output_fields=["id", "version"],
                              consistency_level="Strong")


def test_a_state_that_covers_less_of_the_log_never_wins_however_late_it_lands(store):
    store.record_states([state(2, offset=11, ts=2_000)])
    store.record_states([state(1, offset=10, ts=1_000)])  # the late write of a worker that lost its partition
    assert store.doc_state("t", "d").version == 2
    assert len(registry_rows(store)) == 2  # kept until the document's next state collects it
    store.record_states([state(2, offset=12, ts=2_000)])  # a stale record advanced the mark only
    assert store.doc_state("t", "d").source_offset == 12
    assert [r["version"] for r in registry_rows(store)] == [2]
    # a re-created topic starts its offsets over, with newer timestamps: that is newer too
    store.record_states([state(3, offset=0, ts=9_000)])
    assert (store.doc_state("t", "d").version, [r["version"] for r in registry_rows(store)]) == (3, [3])


def test_a_frozen_workers_late_registry_write_does_not_renumber_server_ordered_versions(isolated, store):
    """The Jepsen case behind the history checker's end-state mismatch: worker A is frozen after its last registry
    re-read, its partition goes to B, which replays A's record and the next one; A's state then lands late. With a
    last-writer-wins registry, B's next versionless event got A's version + 1 and overwrote B's own chunks."""
    chunker, embedder = Chunker(isolated.chunking), HashingEmbedder()
    late = IndexStore(isolated.milvus, 384)
    thawed, frozen = threading.Event(), threading.Event()
    record = late.record_states

    def freeze_then_record(states):
        frozen.set()
        thawed.wait(30)
        record(states)

    late.record_states = freeze_then_record
    a, b = BatchProcessor(chunker, embedder, late), BatchProcessor(chunker, embedder, store)

    def text(n: int) -> DocumentEvent:
        return DocumentEvent(op="upsert", tenant="t", doc_id="d", text=f"draft number {n} of the river notes")

    def at(offset: int) -> LogMark:
        return LogMark(0, offset, 1_000 + offset)

    outcome: list = []
    worker_a = threading.Thread(target=lambda: outcome.extend(a.process([(0, text(1))], sources={0: at(10)})))
    try:
        worker_a.start()
        assert frozen.wait(30)
        replay = b.process([(0, text(1)), (1, text(2))], sources={0: at(10), 1: at(11)})
        assert [r.version for r in replay if r.outcome is Outcome.INDEXED] == [2]
        thawed.set()
        worker_a.join(30)
        assert [r.outcome for r in outcome] == [Outcome.INDEXED]  # it landed
        assert store.doc_state("t", "d").version == 2
        [after] = b.process([(0, text(3))], sources={0: at(12)})
        assert (after.outcome, after.version) == (Outcome.INDEXED, 3)
        rows = store.chunk_rows(("id", "text"), 'tenant == "t" and doc_id == "d"')
        assert [(r["id"], r["text"]) for r in rows] == [("t/d/3/0", text(3).text)]
    finally:
        thawed.set()
        late.close()


def legacy_registry(store: IndexStore, name: str, states: list[DocState]) -> None:
    """A registry in the v2 layout: one row per document, keyed by the document."""
    from pymilvus import DataType

    from ragstream.core.index import schema
    layout = schema.registry_schema(store.client)
    legacy = store.client.create_schema(auto_id=False, enable_dynamic_field=False)
    legacy.add_field("key", DataType.VARCHAR, max_length=schema.ID_MAX, is_primary=True)
    for field in layout.fields:
        if field.name not in ("id", "key"):
            legacy.add_field(field.name, field.dtype, **field.params, is_partition_key=field.is_partition_key)
    indexes = store.client.prepare_index_params()
    indexes.add_index("placeholder", index_type="FLAT", metric_type="L2")
    store.client.create_collection(name, schema=legacy, index_params=indexes)
    store.client.insert(name, [{k: v for k, v in s.row().items() if k != "id"} for s in states])


def test_a_registry_of_the_previous_layout_is_copied_before_any_worker_can_use_the_new_one(isolated, store):
    old = [state(n, offset=n, ts=n, doc=f"doc{n}") for n in range(1, 40)]
    legacy = f"{isolated.milvus.documents_collection}_v2"
    legacy_registry(store, legacy, old)
    settings = isolated.milvus.model_copy(update={"documents_collection": f"{legacy[:-3]}_v3",
                                                  "migrate_registry_from": legacy})
    workers = [IndexStore(settings, 384) for _ in range(3)]
    errors: list[BaseException] = []

    def start(worker: IndexStore) -> None:
        try:
            worker.ensure_collections()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    racing = [threading.Thread(target=start, args=(w,)) for w in workers]
    try:
        for thread in racing:
            thread.start()
        for thread in racing:
            thread.join(120)
        assert errors == []
        for worker in workers:
            moved = worker.doc_states(s.key for s in old)
            assert sorted((k, v.version, v.source_offset) for k, v in moved.items()) == \
                sorted((s.key, s.version, s.source_offset) for s in old)
        names = set(store.client.list_collections())
        assert settings.documents_collection in names and legacy in names
        assert f"{settings.documents_collection}_migrating" not in names
    finally:
        for worker in workers:
            worker.close()
