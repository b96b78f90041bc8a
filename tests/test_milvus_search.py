"""The embedded Milvus' read paths (ragstream.infra.local.milvus_search) give Milvus Lite's own results: the scorer
alone, then a real server answering every read both ways through seeded histories of upserts, deletes and flushes."""

from __future__ import annotations

import itertools
import random
import threading
import time
import types

import numpy as np
import pyarrow as pa
import pytest
from milvus_lite.analyzer.sparse import sparse_to_bytes
from milvus_lite.index.sparse_inverted import SparseInvertedIndex
from pymilvus import MilvusClient

from ragstream.core.index import schema
from ragstream.core.index.store import GRPC_OPTIONS
from ragstream.infra.local.milvus_search.bm25 import PostingArrays
from ragstream.infra.local.milvus_search.check import BANNER, MISMATCH, difference
from ragstream.infra.local.milvus_search.paths import Scorers
from ragstream.infra.local.milvus_server import MilvusLiteServer

WORDS = [f"w{i}" for i in range(60)]
DIM = 8


def _sparse(rng: random.Random) -> dict[int, float]:
    return {rng.randrange(200): float(rng.randint(1, 4)) for _ in range(rng.randint(0, 12))}


@pytest.mark.parametrize("seed", range(5))
def test_posting_arrays_score_as_milvus_lite(seed):
    rng = random.Random(seed)
    docs = [_sparse(rng) for _ in range(300)]
    mask = np.array([rng.random() > 0.3 for _ in docs])
    queries = [_sparse(rng) for _ in range(20)]
    stock, fast, packed = SparseInvertedIndex(1.2, 0.7), PostingArrays(1.2, 0.7), PostingArrays(1.2, 0.7)
    stock.build(docs)
    fast.build(docs)
    packed.build_packed(_column(docs, rng))
    large = PostingArrays(1.2, 0.7)
    large.build_packed(_column(docs, rng).cast(pa.large_binary()))
    assert (fast.doc_count, fast.avgdl) == pytest.approx((stock.doc_count, stock.avgdl))
    assert (packed.doc_count, packed.avgdl) == (fast.doc_count, fast.avgdl)
    for valid, top_k in itertools.product((None, mask), (5, 400)):
        for other in (packed, large):
            np.testing.assert_array_equal(other.search(queries, top_k, valid)[0], fast.search(queries, top_k, valid)[0])
    for valid in (None, mask):
        for top_k in (5, 400):
            want_ids, want = stock.search(queries, top_k, valid_mask=valid)
            got_ids, got = fast.search(queries, top_k, valid_mask=valid)
            np.testing.assert_allclose(got, want, rtol=1e-5)  # same scores in the same order
            if top_k == 400:  # every match returned: the same rows with the same scores, whatever the ties
                for q in range(len(queries)):
                    def scored(ids, scores, q=q):
                        return {int(r): float(d) for r, d in zip(ids[q], scores[q], strict=True) if r >= 0}
                    want_rows, got_rows = scored(want_ids, want), scored(got_ids, got)
                    assert got_rows.keys() == want_rows.keys()
                    assert [got_rows[r] for r in want_rows] == pytest.approx(list(want_rows.values()), rel=1e-5)


def _column(docs: list[dict[int, float]], rng: random.Random) -> pa.ChunkedArray:
    """``docs`` as a segment stores them (packed bytes), in the shapes Arrow may hand over: several chunks, a sliced
    chunk, a null for an empty vector."""
    values = [None if not doc and rng.random() < 0.5 else sparse_to_bytes(doc) for doc in docs]
    third = len(values) // 3
    sliced = pa.array([b"\0" * 8, *values[third:2 * third]], pa.binary()).slice(1)
    return pa.chunked_array([pa.array(values[:third], pa.binary()), sliced,
                             pa.array(values[2 * third:], pa.binary())])


def _rows(rng: random.Random, keys: list[str]) -> list[dict]:
    rows = []
    for key in keys:
        tenant, doc_id, version = key.split("/")[:3]
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 25)))
        vector = np.asarray([rng.gauss(0, 1) for _ in range(DIM)], dtype=np.float32)
        rows.append({"id": key, "tenant": tenant, "doc_id": doc_id, "version": int(version), "chunk_no": 0,
                     "title": "", "text": text, "content": text, "metadata": {"n": rng.randrange(3)},
                     "event_time_ms": 0, "indexed_time_ms": 0,
                     "dense": (vector / np.linalg.norm(vector)).tolist()})
    return rows


def _searches(client: MilvusClient, rng: random.Random) -> list:
    out = []
    for _ in range(3):
        tenant = rng.choice(["a", "b"])
        where = f'tenant == "{tenant}"' + (" and metadata[\"n\"] == 1" if rng.random() < 0.3 else "")
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))
        vector = [rng.gauss(0, 1) for _ in range(DIM)]
        for data, field, metric in (([text], "sparse", "BM25"), ([vector], "dense", "COSINE")):
            for limit in (5, 2000):
                [hits] = client.search("chunks", data=data, anns_field=field, limit=limit,
                                       search_params={"metric_type": metric}, filter=where,
                                       output_fields=["doc_id", "version", "text", "metadata"])
                out.append((limit, [(h["id"], abs(h["distance"]), h["entity"]["text"]) for h in hits]))
        rows = client.query("chunks", filter=where, output_fields=["id", "text"])  # filters: e.g. the registry's
        out.append((len(rows) + 1, [(r["id"], 0.0, r["text"]) for r in sorted(rows, key=lambda r: r["id"])]))
        [count] = client.query("chunks", filter=where, output_fields=["count(*)"])
        out.append((1, [("count", float(count["count(*)"]), "")]))
    return out


def test_difference_sees_other_scores_and_other_rows():
    hit = {"id": "a", "distance": 1.0, "entity": {"text": "x"}}
    assert difference("bm25", [[hit]], [[hit]], 10) is None
    assert "distances" in difference("bm25", [[hit]], [[{**hit, "distance": 1.1}]], 10)
    assert "other rows" in difference("dense", [[hit]], [[{**hit, "id": "b"}]], 10)
    assert difference("dense", [[hit]], [[{**hit, "id": "b"}]], 1) is None  # a tie may pick another row at the cut
    assert difference("query", [{"id": "a"}, {"id": "b"}], [{"id": "b"}, {"id": "a"}], None) is None
    assert difference("query", [{"id": "a"}], [], None) is not None


@pytest.mark.stack
@pytest.mark.parametrize("seed", range(3))
def test_fast_paths_answer_as_milvus_lite(tmp_path, seed):
    """One server answers every read both ways on the same state (``--search checked``)."""
    server = MilvusLiteServer(tmp_path / "milvus", tmp_path, search="checked").start()
    client = MilvusClient(uri=server.uri, grpc_options=GRPC_OPTIONS)
    try:
        client.create_collection("chunks", schema=schema.chunk_schema(client, DIM),
                                 index_params=schema.chunk_indexes(client, "HNSW"))
        rng = random.Random(seed)
        keys = [f"{rng.choice('ab')}/d{i}/1/0" for i in range(120)]
        answers, written = [], {}
        for _ in range(40):
            action = rng.random()
            if action < 0.45 or (action < 0.55 and not written):
                rows = _rows(rng, rng.sample(keys, rng.randint(1, 40)))
                written.update((row["id"], row) for row in rows)
                client.upsert("chunks", rows)
            elif action < 0.55:  # the same text and vector, other metadata: a stale row would tie with the live one
                client.upsert("chunks", [{**written[k], "metadata": {"n": rng.randrange(3), "touched": True}}
                                         for k in rng.sample(sorted(written), min(10, len(written)))])
            elif action < 0.75:
                gone = [f'"{k.split("/")[1]}"' for k in rng.sample(keys, rng.randint(1, 10))]
                client.delete("chunks", filter=f"doc_id in [{', '.join(gone)}]")
            elif action < 0.9:
                client.flush("chunks")
            answers += _searches(client, rng)
    finally:
        client.close()
        server.stop()
    log = (tmp_path / "milvus-lite.log").read_text()
    assert BANNER in log and MISMATCH not in log, log[-3000:]
    assert sum(len(hits) for _, hits in answers) > 500  # the histories searched something


def _flush_race(server: MilvusLiteServer, seconds: float) -> tuple[int, list[str]]:
    """One client rewrites the same keys and flushes, over and over; three read every key back (a filter, a dense
    and a BM25 search). Returns (reads, the reads that missed a key)."""
    keys = [f"a/d{i}/1/0" for i in range(20)]
    writer, reader = (MilvusClient(uri=server.uri, grpc_options=GRPC_OPTIONS) for _ in range(2))
    writer.create_collection("chunks", schema=schema.chunk_schema(writer, DIM),
                             index_params=schema.chunk_indexes(writer, "HNSW"))
    rng, stop, missed, reads = random.Random(3), threading.Event(), [], [0]

    def rewrite() -> None:
        while not stop.is_set():
            writer.upsert("chunks", [{**row, "text": "w0 " + row["text"], "content": "w0 " + row["content"]}
                                     for row in _rows(rng, keys)])
            writer.flush("chunks")

    def read(kind: str, ask) -> None:
        while not stop.is_set():
            found = len(ask())
            reads[0] += 1
            if found != len(keys):
                missed.append(f"{kind}: {found} of {len(keys)}")

    where = 'tenant == "a"'
    readers = {
        "query": lambda: reader.query("chunks", filter=where, output_fields=["id"]),
        "dense": lambda: reader.search("chunks", data=[[1.0] * DIM], anns_field="dense", limit=100, filter=where,
                                       search_params={"metric_type": "COSINE"})[0],
        "bm25": lambda: reader.search("chunks", data=["w0"], anns_field="sparse", limit=100, filter=where,
                                      search_params={"metric_type": "BM25"})[0],
    }
    writer.upsert("chunks", _rows(rng, keys))
    threads = [threading.Thread(target=rewrite)] + [threading.Thread(target=read, args=item) for item in
                                                    readers.items()]
    try:
        for thread in threads:
            thread.start()
        time.sleep(seconds)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
        writer.close()
        reader.close()
    return reads[0], missed


@pytest.mark.stack
def test_a_read_racing_a_flush_sees_every_row(tmp_path):
    """Milvus Lite's readers take segments under the collection's lock and the memtable after it: a flush in between
    hides the rows it flushes (the history checker saw registry rows vanish). Ours take all three at once."""
    server = MilvusLiteServer(tmp_path / "milvus", tmp_path).start()
    try:
        reads, missed = _flush_race(server, seconds=8)
    finally:
        server.stop()
    assert reads > 100 and missed == [], (reads, missed[:5])


def test_a_segment_scorer_is_built_once_whoever_asks_first(monkeypatch):
    """The background warm-up and a search asking for the same segment's scorer at once: one builds, one waits."""
    built = []
    real = PostingArrays.build_packed

    def slow(self, column):
        built.append(column)
        time.sleep(0.2)
        real(self, column)

    monkeypatch.setattr(PostingArrays, "build_packed", slow)
    rng = random.Random(0)
    docs = [_sparse(rng) for _ in range(50)]
    segment = types.SimpleNamespace(sparse_indexes={}, table=pa.table({"sparse": _column(docs, rng)}))
    scorers = Scorers()
    got = []
    threads = [threading.Thread(target=lambda: got.append(scorers.get(segment, "sparse", 1.5, 0.75)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 1 and len({id(s) for s in got}) == 1 and segment.sparse_indexes["sparse"] is got[0]
    assert scorers.get(segment, "sparse", 1.2, 0.75) is not got[0] and len(built) == 2  # other parameters: rebuilt
