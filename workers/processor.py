"""Applies one batch of valid events to the index: chunk → embed → upsert → delete stale → record versions.

Write order makes a crash at any point safe to replay: new chunks go in before old ones go out (a reader never
sees an updated document vanish), and the registry is written last, so an event counts as applied only once all of
its writes are acknowledged. An exception raised here is a :class:`StageFailure` naming the write phase (embed or
index) when it came from one; the caller decides whether it was the data or the infrastructure (``failures``).
Work per call is bounded: chunks are embedded and written in slices of ``max_chunks_per_batch`` chunks and
``max_batch_bytes`` bytes, and a document with more than ``max_chunks_per_document`` chunks is dead-lettered.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from ragstream.core.index.records import Chunk, DocState, LogMark
from ragstream.core.index.store import IndexStore, StaleChunks
from ragstream.core.models.embedder import Embedder
from ragstream.core.settings import WorkerSettings
from ragstream.core.telemetry.batch import BatchTrace
from ragstream.schemas.dead_letter import FailureStage
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.outcomes import Outcome
from ragstream.workers.chunking import Chunker, ChunkingError
from ragstream.workers.failures import Fenced, stage
from ragstream.workers.planner import Action, BatchPlan, plan_batch


@dataclass(frozen=True)
class EventResult:
    position: int
    outcome: Outcome
    chunk_count: int = 0
    reason: str | None = None
    failed_stage: FailureStage | None = None  # set when the event must be dead-lettered
    indexed_time_ms: int = 0
    version: int | None = None  # as applied (resolved for a server-ordered event)


def _row_bytes(chunk: Chunk) -> int:
    return len(chunk.text.encode()) + len(chunk.content.encode()) + len(json.dumps(chunk.metadata).encode()) + 2048


def slices(chunks: list[Chunk], max_chunks: int, max_bytes: int) -> list[list[Chunk]]:
    """Consecutive slices of at most ``max_chunks`` chunks and about ``max_bytes`` bytes (at least one chunk)."""
    out: list[list[Chunk]] = []
    size = 0
    for chunk in chunks:
        row = _row_bytes(chunk)
        if not out or len(out[-1]) >= max_chunks or size + row > max_bytes:
            out.append([])
            size = 0
        out[-1].append(chunk)
        size += row
    return out


class BatchProcessor:
    def __init__(self, chunker: Chunker, embedder: Embedder, store: IndexStore,
                 limits: WorkerSettings | None = None) -> None:
        self.chunker = chunker
        self.embedder = embedder
        self.store = store
        self.limits = limits or WorkerSettings()

    def process(self, events: list[tuple[int, DocumentEvent]], traced: BatchTrace | None = None,
                sources: dict[int, LogMark] | None = None, fence: Callable[[], None] = lambda: None,
                ) -> list[EventResult]:
        """``sources``: where each event's record sits in the log (position → partition, offset, timestamp);
        ``fence`` raises before any write phase once this worker may have lost the batch's partitions."""
        def step(name: str, positions: list[int], **attributes) -> AbstractContextManager:
            return traced.step(name, positions, **attributes) if traced else nullcontext()

        everything = [position for position, _ in events]
        with step("milvus read versions", everything, **{"db.system": "milvus", "db.operation.name": "query"}):
            states = self.store.doc_states(event.key for _, event in events)
        plan, upserts, deletes, refused = self._plan(events, states, sources, step)
        results = [EventResult(pos, outcome, reason=reason, version=plan.versions.get(pos))
                   for pos, (outcome, reason) in plan.settled.items()] + refused

        chunks = [chunk for _, doc_chunks in upserts for chunk in doc_chunks]
        upserted = [action.position for action, _ in upserts]
        applied_positions = upserted + [action.position for action in deletes]
        milvus = {"db.system": "milvus"}
        for part in slices(chunks, self.limits.max_chunks_per_batch, self.limits.max_batch_bytes):
            with step("embed", upserted, **{"ragstream.chunk_count": len(part)}), stage(FailureStage.EMBED):
                vectors = self.embedder.embed([chunk.content for chunk in part])
            with step("milvus upsert", upserted, **milvus, **{"db.operation.name": "upsert",
                                                              "db.collection.name": self.store.chunks,
                                                              "ragstream.chunk_count": len(part)}), \
                    stage(FailureStage.INDEX):
                fence()
                self.store.upsert_chunks(part, vectors)
        with step("milvus delete stale", applied_positions, **milvus, **{"db.operation.name": "delete",
                                                                         "db.collection.name": self.store.chunks}), \
                stage(FailureStage.INDEX):
            fence()
            self.store.delete_chunks(
                [StaleChunks(a.event.tenant, a.event.doc_id, a.event.version, len(c)) for a, c in upserts]
                + [StaleChunks(a.event.tenant, a.event.doc_id, through_version=a.event.version) for a in deletes]
            )
        now_ms = int(time.time() * 1000)
        applied = [(a, len(c), "indexed") for a, c in upserts] + [(a, 0, "deleted") for a in deletes]
        with step("milvus record versions", applied_positions, **milvus, **{"db.operation.name": "upsert"}), \
                stage(FailureStage.INDEX):
            fence()
            self._record(applied, states, plan.marks, now_ms)
        for action, count, state in applied:
            outcome = Outcome.INDEXED if state == "indexed" else Outcome.DELETED
            results.append(EventResult(action.position, outcome, chunk_count=count, indexed_time_ms=now_ms,
                                       version=action.event.version))
        return sorted(results, key=lambda r: r.position)

    def _plan(self, events: list[tuple[int, DocumentEvent]], states: dict[str, DocState],
              sources: dict[int, LogMark] | None, step) -> tuple[BatchPlan, list[tuple[Action, list[Chunk]]],
                                                                list[Action], list[EventResult]]:
        """The plan and the winners' chunks. A winner that cannot be chunked is dead-lettered and its document
        planned again without it, so the write it overtook is applied instead of being lost."""
        refused: dict[int, EventResult] = {}
        chunked: dict[int, list[Chunk]] = {}
        while True:
            plan = plan_batch([item for item in events if item[0] not in refused], states, sources)
            upserts, deletes, again = [], [], False
            for action in plan.actions:
                if action.kind == "delete":
                    deletes.append(action)
                    continue
                try:
                    if action.position not in chunked:
                        chunked[action.position] = self._chunk(action, step)
                    upserts.append((action, chunked[action.position]))
                except ChunkingError as error:
                    refused[action.position] = EventResult(action.position, Outcome.DEAD_LETTERED, reason=str(error),
                                                           failed_stage=FailureStage.CHUNK,
                                                           version=action.event.version)
                    again = True
            if not again:
                return plan, upserts, deletes, list(refused.values())

    def _chunk(self, action: Action, step) -> list[Chunk]:
        with step("chunk", [action.position]) as span:
            doc_chunks = self.chunker.split(action.event)
            if span:
                span.set_attribute("ragstream.chunk_count", len(doc_chunks))
        cap = self.limits.max_chunks_per_document
        if len(doc_chunks) > cap:
            raise ChunkingError(f"the text splits into {len(doc_chunks)} chunks; the limit is {cap} "
                                "(RAGSTREAM_WORKER__MAX_CHUNKS_PER_DOCUMENT): split the document")
        return doc_chunks

    def _record(self, applied: list[tuple[Action, int, str]], states: dict[str, DocState],
                marks: dict[str, LogMark], now_ms: int) -> None:
        """New states of the applied documents, and the advanced log marks of documents whose events changed
        nothing (so a replay recognises them, and a stale write is visible to its writer)."""
        rows = {a.event.key: DocState(tenant=a.event.tenant, doc_id=a.event.doc_id, version=a.event.version,
                                      state=state, content_hash=a.content_hash, chunk_count=count,
                                      event_time_ms=a.event.event_time_ms, indexed_time_ms=now_ms)
                for a, count, state in applied}
        for key, mark in marks.items():
            if key not in rows and key in states and states[key].mark() != mark:
                rows[key] = states[key]
        # another worker moved a document on since this batch read the registry (a worker that lost its partition
        # and has not noticed yet): plan the batch again against what it wrote (the log marks make that safe)
        now = self.store.doc_states(rows) if rows else {}
        moved = sorted(key for key, state in now.items() if key not in states or state != states[key])
        if moved:
            raise Fenced(f"{', '.join(moved[:3])} changed in the registry while this batch ran: planning it again")
        self.store.record_states([state.marked(marks.get(key)) for key, state in rows.items()])
