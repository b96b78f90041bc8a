"""Typed access to the chunk collection and the version registry over any Milvus (Lite server or cluster)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pymilvus import MilvusClient
from pymilvus.exceptions import MilvusException

from ragstream.core.index import schema
from ragstream.core.index.analysis import PROPERTY, bm25_text, recorded
from ragstream.core.index.deadline import DeadlineClient
from ragstream.core.index.filters import expression
from ragstream.core.index.filters import literal as quote  # ids are already safe: defence in depth
from ragstream.core.index.records import Chunk, DocState, doc_key
from ragstream.core.settings import MilvusSettings
from ragstream.schemas.filters import QueryFilter

CURRENCY_FIELDS = ("doc_id", "version", "chunk_no")  # what ``current`` compares with the registry
FILTER_GROUP = 64  # documents per OR'ed delete expression, to keep expressions short
# pymilvus pings every 10 s even on idle connections; gRPC servers with the default ping policy (Milvus Lite's)
# answer that with GOAWAY "too many pings". Ping only while calls are in flight, and less often.
GRPC_OPTIONS = {"grpc.keepalive_time_ms": 60_000, "grpc.keepalive_permit_without_calls": False}


@dataclass(frozen=True)
class StaleChunks:
    """Chunks of one document to remove. An upsert keeps ``keep_version`` (its first ``keep_count`` chunks) and
    removes older versions; a delete removes every version up to ``through_version``; with neither, all of them.
    Never a newer version: a late write of a worker that lost its partition cannot remove what the new owner wrote.
    """

    tenant: str
    doc_id: str
    keep_version: int | None = None
    keep_count: int = 0
    through_version: int | None = None

    def expression(self) -> str:
        doc = f"(tenant == {quote(self.tenant)} and doc_id == {quote(self.doc_id)}"
        if self.keep_version is not None:
            v = self.keep_version
            return doc + f" and (version < {v} or (version == {v} and chunk_no >= {self.keep_count})))"
        if self.through_version is not None:
            return doc + f" and version <= {self.through_version})"
        return doc + ")"


def _superseded(state: DocState) -> str:
    """The document's registry rows that cover less of the log than ``state`` (see ``DocState.order``)."""
    ts, offset = state.source_max_ts, state.source_offset
    return (f"(key == {quote(state.key)} and (source_max_ts < {ts} or "
            f"(source_max_ts == {ts} and source_offset < {offset})))")


PROBE_TENANT = "_probe"
RELEASED = 101  # Milvus: the collection is not loaded (e.g. after a server restart)


class IndexStore:
    def __init__(self, milvus: MilvusSettings, dimension: int) -> None:
        if not milvus.uri:
            raise RuntimeError("no Milvus URI: start the local stack with `ragstream up` or set RAGSTREAM_MILVUS__URI")
        self.settings = milvus
        self.dimension = dimension
        self.chunks = milvus.chunks_collection
        self.registry = milvus.documents_collection
        token = milvus.token.get_secret_value() if milvus.token else ""
        self.client = DeadlineClient(MilvusClient(uri=milvus.uri, token=token, grpc_options=GRPC_OPTIONS,
                                                  timeout=milvus.call_timeout_s), milvus.call_timeout_s)
        self.unsealed = 0  # chunk rows upserted + documents whose chunks were deleted, since the last seal

    def close(self) -> None:
        self.client.close()

    def ensure_collections(self) -> None:
        """Idempotent; several workers may race to create the collections."""
        analysis = self.settings.bm25_analysis
        self._create(self.chunks, schema.chunk_schema(self.client, self.dimension),
                     schema.chunk_indexes(self.client, self.settings.dense_index), {PROPERTY: analysis})
        built = recorded(self.client.describe_collection(self.chunks).get("properties") or {})
        if built != analysis:
            raise RuntimeError(f"collection {self.chunks} was built with bm25_analysis={built}, the settings say "
                               f"{analysis}: set RAGSTREAM_MILVUS__BM25_ANALYSIS={built}, or re-index into a new "
                               "RAGSTREAM_MILVUS__CHUNKS_COLLECTION")
        if not self.client.has_collection(self.registry):
            self._migrate_registry()
        self._create(self.registry, schema.registry_schema(self.client), schema.registry_indexes(self.client))

    def _create(self, name: str, layout, indexes, properties: dict[str, str] | None = None) -> None:
        if not self.client.has_collection(name):
            try:
                self.client.create_collection(name, schema=layout, index_params=indexes, properties=properties or {})
            except MilvusException as error:
                if "exist" not in str(error).lower():
                    raise
        self.client.load_collection(name)

    def _migrate_registry(self) -> None:
        """Copies a registry of the older layout (``migrate_registry_from``) into a new collection under a staging
        name, then renames it: no worker ever sees a half-copied registry (a missing state would make a replayed
        record look new). Workers racing here copy the same rows (row ids are deterministic) and only one rename
        succeeds; the old collection is left for the operator to drop."""
        legacy = self.settings.migrate_registry_from
        if not legacy or legacy == self.registry or not self.client.has_collection(legacy):
            return
        staging = f"{self.registry}_migrating"
        try:
            self._create(staging, schema.registry_schema(self.client), schema.registry_indexes(self.client))
            self.client.load_collection(legacy)
            for rows in self._pages(legacy, list(DocState.__dataclass_fields__)):
                self.client.upsert(staging, [DocState.from_row(row).row() for row in rows])
            self.client.flush(staging)
            self.client.rename_collection(staging, self.registry)
        except MilvusException:
            if not self.client.has_collection(self.registry):
                raise
            if self.client.has_collection(staging):  # another worker renamed its copy first
                self.client.drop_collection(staging)

    def _pages(self, name: str, fields: Sequence[str], expression: str = "") -> Iterator[list[dict[str, Any]]]:
        iterator = self.client.query_iterator(name, batch_size=1000, filter=expression, output_fields=list(fields))
        try:
            while batch := iterator.next():
                yield batch
        finally:
            iterator.close()

    # -- registry ---------------------------------------------------------------------------------------------

    def doc_states(self, keys: Iterable[str]) -> dict[str, DocState]:
        keys = sorted(set(keys))
        if not keys:
            return {}
        # Strong: the versions that decide what to write must include this worker's own last writes, on a Milvus
        # cluster too (its default, Bounded, may serve a read from before them).
        rows = self.client.query(
            self.registry, filter=f"key in {json.dumps(keys)}",
            output_fields=list(DocState.__dataclass_fields__), consistency_level="Strong",
        )
        # a document has a row per state until the older ones are collected (and a Bounded read may also return a
        # row just replaced): its state is the row that covers the most of the log
        newest: dict[str, DocState] = {}
        for state in map(DocState.from_row, rows):
            held = newest.get(state.key)
            if held is None or state.order() > held.order():
                newest[state.key] = state
        return newest

    def doc_state(self, tenant: str, doc_id: str) -> DocState | None:
        return self.doc_states([doc_key(tenant, doc_id)]).get(doc_key(tenant, doc_id))

    def record_states(self, states: Sequence[DocState]) -> None:
        """Adds each state as a row of its own, then removes the document's rows that cover less of the log. A late
        write can thus only add a row that loses on read, and the collection never removes a newer state."""
        if not states:
            return
        self.client.upsert(self.registry, [s.row() for s in states])
        marked = [s for s in states if s.mark() is not None]
        for start in range(0, len(marked), FILTER_GROUP):
            self.client.delete(self.registry, filter=" or ".join(map(_superseded, marked[start:start + FILTER_GROUP])))

    def probe_write(self) -> None:
        """Writes and removes a registry row no real document can have (its tenant breaks the tenant rule): proof
        that Milvus accepts writes, not only that it answers."""
        probe = DocState(tenant=PROBE_TENANT, doc_id="probe", version=0, state="deleted", content_hash="",
                         chunk_count=0, event_time_ms=0, indexed_time_ms=0)
        self.record_states([probe])
        self.client.delete(self.registry, filter=f"key == {quote(probe.key)}")

    def repair(self, keys: Iterable[str]) -> None:
        """Removes, for each document, chunks older than the version the registry holds: what a late write of a
        worker that lost its partition may have left. Safe at any time: it never touches the current version or a
        newer one being written."""
        older = [StaleChunks(s.tenant, s.doc_id, through_version=s.version - 1) for s in self.doc_states(keys).values()]
        self.delete_chunks(older)

    # -- chunks -----------------------------------------------------------------------------------------------

    def upsert_chunks(self, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> int:
        if not chunks:
            return 0
        now_ms, analysis = int(time.time() * 1000), self.settings.bm25_analysis
        rows = [
            {
                "id": c.id, "tenant": c.tenant, "doc_id": c.doc_id, "version": c.version, "chunk_no": c.chunk_no,
                "title": c.title, "text": c.text, "content": bm25_text(c.content, analysis, schema.CONTENT_MAX_BYTES),
                "metadata": c.metadata, "event_time_ms": c.event_time_ms, "indexed_time_ms": now_ms,
                "dense": list(map(float, v)),
            }
            for c, v in zip(chunks, vectors, strict=True)
        ]
        count = self.client.upsert(self.chunks, rows)["upsert_count"]
        self.unsealed += count
        return count

    def delete_chunks(self, stale: Sequence[StaleChunks]) -> None:
        for start in range(0, len(stale), FILTER_GROUP):
            group = stale[start:start + FILTER_GROUP]
            self.client.delete(self.chunks, filter=" or ".join(s.expression() for s in group))
        self.unsealed += len(stale)

    def seal(self, idle: bool = False) -> bool:
        """Flushes both collections once ``seal_rows`` rows were written, or on ``idle`` if any were: sealed
        segments are indexed, growing ones are searched by brute force (Milvus Lite has no interim index).
        Data is searchable either way; sealing only makes searches fast. True if it flushed."""
        threshold = self.settings.seal_rows
        if not threshold or not self.unsealed or (self.unsealed < threshold and not idle):
            return False
        for name in (self.chunks, self.registry):
            self.client.flush(name)
        self.unsealed = 0
        return True

    def chunk_rows(self, fields: Sequence[str] = ("id", "text"), expression: str = "") -> list[dict[str, Any]]:
        """Every matching chunk row (paged), for status pages, audits and tests."""
        return [row for rows in self._pages(self.chunks, fields, expression) for row in rows]

    def count_chunks(self) -> int:
        return self.client.query(self.chunks, filter="", output_fields=["count(*)"])[0]["count(*)"]

    def reload(self) -> None:
        """A restarted Milvus server comes back with every collection released: load them again."""
        for name in (self.chunks, self.registry):
            self.client.load_collection(name)

    def current(self, tenant: str, fetch: Callable[[], list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """The chunk rows ``fetch`` reads, less those the registry has moved past. The registry is written last, so
        it decides what a read may show: a Bounded read on a cluster may still see rows just deleted, and a late
        write of a worker that lost its partition may land an older version before repair removes it. A
        version newer than the registry's is a write in progress and is shown.

        The registry is read after the chunks, so a document can lose every row to a new version that was written,
        and its old chunks deleted, in between (or to a delete): then ``fetch`` runs once more, and finds the new
        version's chunks instead of leaving the document out."""
        found = fetch()
        shown = self._live(tenant, found)
        if {row["doc_id"] for row in shown} != {row["doc_id"] for row in found}:
            shown = self._live(tenant, fetch())
        return shown

    def _live(self, tenant: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        states = self.doc_states(doc_key(tenant, row["doc_id"]) for row in rows)

        def live(row: dict[str, Any]) -> bool:
            state = states.get(doc_key(tenant, row["doc_id"]))
            return state is None or row["version"] > state.version or (
                row["version"] == state.version and state.state == "indexed" and row["chunk_no"] < state.chunk_count)

        return [row for row in rows if live(row)]

    def _search(self, data, field: str, metric: str, tenant: str, limit: int, fields: Sequence[str],
                query_filter: QueryFilter | None) -> list[dict[str, Any]]:
        hnsw = metric == "COSINE" and self.settings.dense_index == "HNSW"
        params = {"ef": max(self.settings.search_ef, limit)} if hnsw else {}

        def search() -> list:
            return self.client.search(self.chunks, data=[data], anns_field=field, limit=limit,
                                      search_params={"metric_type": metric, "params": params},
                                      filter=expression(tenant, query_filter),
                                      output_fields=sorted({*fields, *CURRENCY_FIELDS}))

        def rows() -> list[dict[str, Any]]:
            try:
                hits = search()
            except MilvusException as error:
                if error.code != RELEASED:
                    raise
                self.reload()
                hits = search()
            # Milvus Lite returns BM25 scores negated (best first); a Milvus cluster returns them positive.
            return [{"id": h["id"], "score": abs(h["distance"]) if metric == "BM25" else h["distance"], **h["entity"]}
                    for h in hits[0]]

        return self.current(tenant, rows)

    def search_dense(self, vector: Sequence[float], tenant: str, limit: int = 10,
                     fields: Sequence[str] = ("doc_id", "version", "chunk_no"),
                     query_filter: QueryFilter | None = None) -> list[dict[str, Any]]:
        """Cosine similarity, best first, only the tenant's chunks (and the client's filter)."""
        return self._search(list(vector), "dense", "COSINE", tenant, limit, fields, query_filter)

    def search_bm25(self, text: str, tenant: str, limit: int = 10,
                    fields: Sequence[str] = ("doc_id", "version", "chunk_no"),
                    query_filter: QueryFilter | None = None) -> list[dict[str, Any]]:
        """BM25 over title + chunk text (analysed as the index was), best first, only the tenant's chunks."""
        analysed = bm25_text(text, self.settings.bm25_analysis)
        if not analysed.strip():
            return []  # no word to match (e.g. only punctuation)
        return self._search(analysed, "sparse", "BM25", tenant, limit, fields, query_filter)
