"""Milvus Lite's read paths (``execute_search_with_index`` for dense fields, ``Collection._search_sparse`` for BM25,
``Collection.query`` for filters: the registry's reads and every delete by expression), with liveness from
``liveness`` and scoring from ``bm25``. Reads that name partitions, and sparse searches of another metric, take
Milvus Lite's own path: ragstream sends neither.

Each read takes its segments, tombstones and memtable together (``Snapshots``): Milvus Lite's own readers take the
first two under the collection's lock and read the memtable after releasing it, so a flush in between (it swaps in
an empty memtable, then adds the flushed segment) leaves them the old segments and the new memtable, and the rows
just flushed are in neither. The history checker saw it as registry rows missing for a moment."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from milvus_lite.analyzer.sparse import bytes_to_sparse
from milvus_lite.constants import ALL_PARTITIONS
from milvus_lite.engine.projection import build_projection_plan, project_record
from milvus_lite.index.brute_force import BruteForceIndex
from milvus_lite.search.filter import evaluate_mask
from milvus_lite.search.filter.eval.python_backend import _eval_row
from milvus_lite.search.indexed_filter import evaluate_segment_filter

from ragstream.infra.local.milvus_search.bm25 import PostingArrays
from ragstream.infra.local.milvus_search.liveness import Generations, live_rows

Candidate = tuple[float, int, int]  # (distance, source: segment number or len(segments) for the memtable, row)


class Snapshots:
    """Consistent read snapshots: a flush holds the collection's lock from its memtable swap to its segment refresh
    (every write does, ``milvus_server.serialized``), so what is read under that lock is one state. A dense search
    gets its segments from Milvus Lite's own ``search``, which reads the memtable later; the memtable that went with
    them is kept per thread and handed over."""

    def __init__(self, stock: Callable[[Any], tuple]) -> None:
        self.stock = stock
        self._last = threading.local()

    def take(self, collection) -> tuple[tuple, Any, Any]:
        """(segments, tombstones, memtable) of one moment."""
        with collection._maintenance_lock:
            segments, delta_index = self.stock(collection)
            memtable = collection._memtable
        self._last.taken = (segments, memtable)
        return segments, delta_index, memtable

    def memtable(self, segments, given):
        """The memtable taken with ``segments`` by this thread's last snapshot (``given`` for other segments)."""
        taken = getattr(self._last, "taken", None)
        return taken[1] if taken is not None and taken[0] is segments else given


class Scorers:
    """Each sealed segment's BM25 scorer, built once: by the warm-up that follows a flush, a compaction or a load in
    Milvus Lite's background worker, or by the first search that needs it, whichever comes first (the other
    waits). A search that built it would stall for seconds at 1M chunks."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._building: dict[tuple[int, str], threading.Lock] = {}

    def get(self, segment, field: str, k1: float, b: float) -> PostingArrays:
        def cached() -> PostingArrays | None:
            scorer = segment.sparse_indexes.get(field)
            return scorer if isinstance(scorer, PostingArrays) and (scorer.k1, scorer.b) == (k1, b) else None

        if (scorer := cached()) is not None:
            return scorer
        key = (id(segment), field)
        with self._lock:
            building = self._building.setdefault(key, threading.Lock())
        try:
            with building:
                if (scorer := cached()) is None:
                    scorer = PostingArrays(k1, b)
                    scorer.build_packed(segment.table.column(field))
                    segment.sparse_indexes[field] = scorer
        finally:
            with self._lock:
                self._building.pop(key, None)
        return scorer

    def warm(self, collection) -> None:
        """Builds the scorers of every loaded segment for the collection's BM25 fields."""
        if collection._load_state != "loaded":
            return
        for spec in tuple(collection._index_specs.values()):
            if spec.metric_type == "BM25":
                for segment in collection._segments_snapshot():
                    if segment.num_rows > 0 and segment.table is not None:
                        self.get(segment, spec.field_name, *_bm25_params(spec))


def _bm25_params(spec) -> tuple[float, float]:
    params = spec.build_params if spec else {}
    return float(params.get("bm25_k1", 1.5)), float(params.get("bm25_b", 0.75))


def _collect(candidates: list[list[Candidate]], source: int, ids: np.ndarray, distances: np.ndarray) -> None:
    for q, (row_ids, row_distances) in enumerate(zip(ids, distances, strict=True)):
        found = row_ids >= 0
        candidates[q].extend(zip(row_distances[found].tolist(), [source] * int(found.sum()),
                                 row_ids[found].tolist(), strict=True))


def _fields(output_fields: Sequence[str] | None, pk_field: str) -> frozenset[str] | None:
    """The columns a read must materialise (None: all of them)."""
    if output_fields is None or {"*", "$meta"} & set(output_fields):
        return None
    return frozenset({*output_fields, pk_field})


def _row(segment, row: int, fields: frozenset[str] | None) -> dict:
    """``Segment.row_to_dict`` limited to ``fields``: a search for ids and text need not convert every vector."""
    names = segment.table.schema.names
    if fields is None or "$meta" in names:
        return segment.row_to_dict(row)
    return {name: segment.table.column(name)[row].as_py() for name in names if name in fields}


def _best(found: list[Candidate], top_k: int, segments: Sequence[Any], fields: frozenset[str] | None,
          memtable_row: Callable[[int], tuple[Any, dict]]) -> list[tuple[float, Any, dict]]:
    """The first ``top_k`` of sorted candidates as (distance, primary key, record); ``memtable_row(row)`` gives a
    memtable candidate's key and record."""
    return [(distance, segments[source].pks[row], _row(segments[source], row, fields)) if source < len(segments)
            else (distance, *memtable_row(row)) for distance, source, row in found[:top_k]]


def _projector(pk_field: str, vector_field: str, output_fields: Sequence[str] | None,
               project_record_fn: Callable[[dict], dict] | None) -> Callable[[dict], dict]:
    if project_record_fn is not None:
        return project_record_fn
    if output_fields is None:
        return lambda record: {k: v for k, v in record.items() if k not in (pk_field, vector_field)}
    keep = set(output_fields) - {pk_field}
    return lambda record: {k: record[k] for k in keep if k in record}


def dense(generations: Generations, snapshots: Snapshots, stock: Callable[..., list], query_vectors: np.ndarray,
          segments, memtable, delta_index, top_k: int, metric_type: str, pk_field: str, vector_field: str,
          partition_names: list[str] | None = None, compiled_filter=None, output_fields=None,
          indexed_filter_plan=None, project_record_fn=None, search_params=None) -> list[list[dict]]:
    """``execute_search_with_index``: per-source top-k (each segment's index, the memtable by brute force), merged."""
    if partition_names:
        return stock(query_vectors, segments, memtable, delta_index, top_k, metric_type, pk_field, vector_field,
                     partition_names, compiled_filter, output_fields, indexed_filter_plan, project_record_fn,
                     search_params)
    query_vectors = np.asarray(query_vectors, dtype=np.float32).reshape(-1, query_vectors.shape[-1])
    nq = query_vectors.shape[0]
    memtable = snapshots.memtable(segments, memtable)
    segments = [segment for segment in segments if segment.num_rows > 0]
    mt_pks, mt_seqs, mt_vectors, mt_refs, mt_table = memtable.to_search_snapshot(
        vector_field=vector_field, partition_names=None, include_table=compiled_filter is not None)
    if nq == 0 or top_k <= 0 or (not segments and not mt_pks):
        return [[] for _ in range(nq)]
    masks, mt_mask = live_rows(generations.get(memtable, segments), mt_pks, mt_seqs, delta_index._map,
                               memtable.delete_index_snapshot(), lambda partition, segment: True)
    candidates: list[list[Candidate]] = [[] for _ in range(nq)]

    def recall(source: int, vectors: np.ndarray, mask: np.ndarray, index) -> None:
        if mask.any():
            index = index if index is not None else BruteForceIndex.build(vectors, metric_type)
            ids, distances = index.search(query_vectors, top_k, valid_mask=None if mask.all() else mask,
                                          params=search_params)
            _collect(candidates, source, ids, distances)

    for number, segment in enumerate(segments):
        vectors, non_null = segment.vector_data(vector_field)
        mask = masks[number]
        if compiled_filter is not None:
            mask &= evaluate_segment_filter(segment, compiled_filter, indexed_filter_plan)
        if non_null is not None:
            mask &= non_null
        recall(number, vectors, mask, segment.indexes.get(vector_field))
    if mt_pks:
        if compiled_filter is not None:
            mt_mask &= evaluate_mask(compiled_filter, mt_table).astype(bool)
        recall(len(segments), mt_vectors, mt_mask, None)

    project = _projector(pk_field, vector_field, output_fields, project_record_fn)
    fields = _fields(output_fields, pk_field)
    results = []
    for found in candidates:
        found.sort()  # by distance, then source and row: deterministic on ties
        best = _best(found, top_k, segments, fields, lambda row: (mt_pks[row], memtable.materialize_row(*mt_refs[row])))
        results.append([{"id": record.get(pk_field, pk), "distance": distance, "entity": project(record)}
                        for distance, pk, record in best])
    return results


def sparse(generations: Generations, snapshots: Snapshots, scorers: Scorers, stock: Callable[..., list], collection,
           query_vectors: list, vector_field: str, top_k: int, metric_type: str, partition_names: list[str] | None,
           expr: str | None, output_fields: list[str] | None, timezone: str | None = None) -> list[list[dict]]:
    """``Collection._search_sparse`` for BM25: per-segment top-k from each segment's cached scorer, the memtable's
    scorer built per search (it is small and changes), merged best first."""
    if partition_names or metric_type != "BM25":
        return stock(collection, query_vectors, vector_field, top_k, metric_type, partition_names, expr,
                     output_fields, timezone)
    k1, b = _bm25_params(collection._index_specs.get(vector_field))
    queries = collection._prepare_sparse_queries(query_vectors, vector_field)
    compiled = collection._compile_filter(expr, timezone=timezone) if expr else None
    plan_filter = collection._indexed_filter_plan(compiled)
    snapshot, delta_index, memtable = snapshots.take(collection)
    segments = [segment for segment in snapshot if segment.num_rows > 0]
    # deletes before rows, as Milvus Lite does: an upsert landing in between drops its key's pending delete, so the
    # other order could see neither and show the segment's deleted row
    mt_deletes = memtable.delete_index_snapshot()
    records = memtable.active_record_snapshots()
    masks, mt_mask = live_rows(generations.get(memtable, segments), [pk for pk, _, _ in records],
                               [seq for _, seq, _ in records], delta_index._map, mt_deletes,
                               lambda partition, segment: partition in (ALL_PARTITIONS, segment.partition))
    candidates: list[list[Candidate]] = [[] for _ in queries]

    def vectors(values) -> list[dict[int, float]]:
        return [bytes_to_sparse(v) if isinstance(v, bytes) else (v or {}) for v in values]

    for number, segment in enumerate(segments):
        if segment.table is None:
            continue
        scorer = scorers.get(segment, vector_field, k1, b)
        mask = masks[number]
        if compiled is not None:
            mask &= evaluate_segment_filter(segment, compiled, plan_filter)
        if mask.any():
            _collect(candidates, number, *scorer.search(queries, top_k, valid_mask=mask))

    live = [i for i in np.flatnonzero(mt_mask).tolist() if compiled is None or _eval_row(compiled.ast, records[i][2])]
    if live:
        scorer = PostingArrays(k1, b)
        scorer.build(vectors(records[i][2].get(vector_field) for i in live))
        ids, distances = scorer.search(queries, top_k)
        _collect(candidates, len(segments), np.where(ids >= 0, np.asarray(live)[np.maximum(ids, 0)], -1), distances)

    plan = build_projection_plan(output_fields, collection._schema, api_kind="search")
    fields = _fields(output_fields, collection._pk_name)
    results = []
    for found in candidates:
        found.sort(key=lambda candidate: candidate[0])  # stable: segments in order, then the memtable
        best = _best(found, top_k, segments, fields, lambda row: (records[row][0], records[row][2]))
        results.append([{"id": pk, "distance": distance, "entity": project_record(record, collection._schema, plan)}
                        for distance, pk, record in best])
    return results


def query(generations: Generations, snapshots: Snapshots, stock: Callable[..., list], collection,
          expr: str | None = None, output_fields: list[str] | None = None, partition_names: list[str] | None = None,
          limit: int | None = None, offset: int = 0, timezone: str | None = None,
          order_by_pk: bool = False) -> list[dict]:
    """``Collection.query``: the live rows that match, segments first then the memtable (or by key), projected."""
    if partition_names or (expr is not None and not isinstance(expr, str)) or (limit is not None and limit <= 0):
        return stock(collection, expr, output_fields, partition_names, limit, offset, timezone, order_by_pk)
    collection._require_loaded()
    compiled = collection._compile_filter(expr, timezone=timezone) if expr else None
    plan_filter = collection._indexed_filter_plan(compiled)
    snapshot, delta_index, memtable = snapshots.take(collection)
    segments = [segment for segment in snapshot if segment.num_rows > 0]
    mt_pks, mt_seqs, _, mt_refs, mt_table = memtable.to_search_snapshot(
        vector_field=collection._vector_name, partition_names=None, include_table=compiled is not None)
    masks, mt_mask = live_rows(generations.get(memtable, segments), mt_pks, mt_seqs, delta_index._map,
                               memtable.delete_index_snapshot(), lambda partition, segment: True)
    fields = _fields(output_fields, collection._pk_name)
    found: list[tuple[Any, Callable[[], dict]]] = []
    for segment, mask in zip(segments, masks, strict=True):
        if compiled is not None:
            mask &= evaluate_segment_filter(segment, compiled, plan_filter)
        found += [(segment.pks[row], lambda s=segment, r=row: _row(s, r, fields))
                  for row in np.flatnonzero(mask).tolist()]
    if mt_pks:
        if compiled is not None:
            mt_mask &= evaluate_mask(compiled, mt_table).astype(bool)
        found += [(mt_pks[row], lambda r=row: memtable.materialize_row(*mt_refs[r]))
                  for row in np.flatnonzero(mt_mask).tolist()]
    if order_by_pk:
        found.sort(key=lambda hit: hit[0])
    end = offset + limit if limit is not None else None
    plan = build_projection_plan(output_fields, collection._schema, api_kind="query")
    return [project_record(materialize(), collection._schema, plan) for _, materialize in found[:end]][offset:]


Compare = Callable[[str, list, list, "int | None"], None]  # (read kind, Milvus Lite's answer, ours, top_k)


def install(collection_class: type, executor_module: Any, compare: Compare | None = None) -> None:
    """Makes ``collection_class`` (and the module its dense searches call through) read by these paths. With
    ``compare``, every read runs Milvus Lite's path too, on the same state (the collection's maintenance lock keeps
    flushes and compaction out between the two), and ``compare`` gets both answers."""
    generations = Generations()
    snapshots = Snapshots(collection_class._read_snapshot)
    scorers = Scorers()
    stock_indexed, stock_load = collection_class._ensure_loaded_segments_indexed, collection_class.load
    stock_dense, stock_sparse = executor_module.execute_search_with_index, collection_class._search_sparse
    stock_query = collection_class.query

    def run(kind: str, lock, stock: Callable[[], list], ours: Callable[[], list], top_k: int | None) -> list:
        if compare is None:
            return ours()
        with lock:
            want, got = stock(), ours()
        compare(kind, want, got, top_k)
        return got

    def search_dense(*args, **kwargs):
        # no lock: its segments and tombstones are snapshots; the memtable is live, so concurrent writes can log a
        # difference that is only timing (the test writes from one client)
        return run("dense", contextlib.nullcontext(), lambda: stock_dense(*args, **kwargs),
                   lambda: dense(generations, snapshots, stock_dense, *args, **kwargs), kwargs.get("top_k"))

    def search_sparse(self, *args, **kwargs):
        return run("bm25", self._maintenance_lock, lambda: stock_sparse(self, *args, **kwargs),
                   lambda: sparse(generations, snapshots, scorers, stock_sparse, self, *args, **kwargs),
                   kwargs.get("top_k"))

    def read(self, *args, **kwargs):
        return run("query", self._maintenance_lock, lambda: stock_query(self, *args, **kwargs),
                   lambda: query(generations, snapshots, stock_query, self, *args, **kwargs), None)

    def indexed(self) -> int:  # Milvus Lite's background worker, after each flush and compaction
        built = stock_indexed(self)
        scorers.warm(self)
        return built

    def load(self) -> None:  # at start-up, or after a release: warm in the background, not under the lock
        stock_load(self)
        if not self._bg_closed:
            self._bg_executor.submit(scorers.warm, self)

    executor_module.execute_search_with_index = search_dense
    collection_class._ensure_loaded_segments_indexed = indexed
    collection_class.load = load
    collection_class._read_snapshot = lambda self: snapshots.take(self)[:2]
    collection_class._search_sparse = search_sparse
    collection_class.query = read
