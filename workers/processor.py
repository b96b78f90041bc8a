"""Applies one batch of valid events to the index: chunk → embed → upsert → delete stale → record versions.

Write order makes a crash at any point safe to replay: new chunks go in before old ones go out (a reader never
sees the document vanish), and the registry is written last, so an event counts as applied only once all of
its writes are acknowledged. Any exception here is transient: the caller retries the batch and commits nothing.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from ragstream.index.records import Chunk, DocState
from ragstream.index.store import IndexStore, StaleChunks
from ragstream.models.embedder import Embedder
from ragstream.telemetry.batch import BatchTrace
from schemas.dead_letter import FailureStage
from schemas.events import DocumentEvent
from schemas.outcomes import Outcome
from workers.chunking import Chunker, ChunkingError
from workers.planner import Action, plan_batch


@dataclass(frozen=True)
class EventResult:
    position: int
    outcome: Outcome
    chunk_count: int = 0
    reason: str | None = None
    failed_stage: FailureStage | None = None  # set when the event must be dead-lettered
    indexed_time_ms: int = 0


class BatchProcessor:
    def __init__(self, chunker: Chunker, embedder: Embedder, store: IndexStore) -> None:
        self.chunker = chunker
        self.embedder = embedder
        self.store = store

    def process(self, events: list[tuple[int, DocumentEvent]], traced: BatchTrace | None = None) -> list[EventResult]:
        def step(name: str, positions: list[int], **attributes) -> AbstractContextManager:
            return traced.step(name, positions, **attributes) if traced else nullcontext()

        everything = [position for position, _ in events]
        with step("milvus read versions", everything, **{"db.system": "milvus", "db.operation.name": "query"}):
            states = self.store.doc_states(event.key for _, event in events)
        plan = plan_batch(events, states)
        results = [EventResult(pos, outcome, reason=reason) for pos, (outcome, reason) in plan.settled.items()]

        upserts: list[tuple[Action, list[Chunk]]] = []
        deletes: list[Action] = []
        for action in plan.actions:
            if action.kind == "delete":
                deletes.append(action)
                continue
            try:
                with step("chunk", [action.position]) as span:
                    upserts.append((action, self.chunker.split(action.event)))
                    if span:
                        span.set_attribute("ragstream.chunk_count", len(upserts[-1][1]))
            except ChunkingError as error:
                results.append(EventResult(action.position, Outcome.DEAD_LETTERED, reason=str(error),
                                           failed_stage=FailureStage.CHUNK))

        chunks = [chunk for _, doc_chunks in upserts for chunk in doc_chunks]
        upserted = [action.position for action, _ in upserts]
        applied_positions = upserted + [action.position for action in deletes]
        milvus = {"db.system": "milvus"}
        with step("embed", upserted, **{"ragstream.chunk_count": len(chunks)}):
            vectors = self.embedder.embed([chunk.content for chunk in chunks])
        with step("milvus upsert", upserted, **milvus, **{"db.operation.name": "upsert",
                                                          "db.collection.name": self.store.chunks,
                                                          "ragstream.chunk_count": len(chunks)}):
            self.store.upsert_chunks(chunks, vectors)
        with step("milvus delete stale", applied_positions, **milvus, **{"db.operation.name": "delete",
                                                                         "db.collection.name": self.store.chunks}):
            self.store.delete_chunks(
                [StaleChunks(a.event.tenant, a.event.doc_id, a.event.version, len(c)) for a, c in upserts]
                + [StaleChunks(a.event.tenant, a.event.doc_id) for a in deletes]
            )
        now_ms = int(time.time() * 1000)
        applied = [(a, len(c), "indexed") for a, c in upserts] + [(a, 0, "deleted") for a in deletes]
        with step("milvus record versions", applied_positions, **milvus, **{"db.operation.name": "upsert"}):
            self._record(applied, now_ms)
        for action, count, state in applied:
            outcome = Outcome.INDEXED if state == "indexed" else Outcome.DELETED
            results.append(EventResult(action.position, outcome, chunk_count=count, indexed_time_ms=now_ms))
        return sorted(results, key=lambda r: r.position)

    def _record(self, applied: list[tuple[Action, int, str]], now_ms: int) -> None:
        self.store.record_states([
            DocState(tenant=a.event.tenant, doc_id=a.event.doc_id, version=a.event.version, state=state,
                     content_hash=a.content_hash, chunk_count=count,
                     event_time_ms=a.event.event_time_ms, indexed_time_ms=now_ms)
            for a, count, state in applied
        ])
