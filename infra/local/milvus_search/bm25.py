"""BM25 over posting arrays: Milvus Lite's per-segment scorer, vectorised."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pyarrow as pa

_PAIR = np.dtype([("term", "<u4"), ("tf", "<f4")])


class PostingArrays:
    """Milvus Lite's per-segment BM25 scorer (``SparseInvertedIndex``: same formula, statistics and distance
    convention) with each term's postings in numpy arrays. Not a subclass: Milvus Lite's own path must not take a
    segment's cached ``PostingArrays`` for its scorer, or ``--search checked`` would compare this scorer with itself."""

    index_type = "SPARSE_INVERTED_INDEX"

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.doc_count, self.avgdl = 0, 0.0
        # sorted term hashes; term i's postings are _ids/_tfs[_bounds[i]:_bounds[i + 1]]
        self._vocabulary = np.zeros(0, dtype=np.int64)
        self._bounds = np.zeros(1, dtype=np.int64)
        self._ids = np.zeros(0, dtype=np.int32)
        self._tfs = np.zeros(0, dtype=np.float32)  # term frequencies are counts: exact in float32
        self._lengths = np.zeros(0, dtype=np.float64)

    def build(self, vectors: Sequence[dict[int, float]], valid_mask: np.ndarray | None = None) -> None:
        """From decoded sparse vectors (the memtable's rows)."""
        counts = np.fromiter((len(vector) for vector in vectors), dtype=np.int64, count=len(vectors))
        terms = np.fromiter((term for vector in vectors for term in vector), dtype=np.int64, count=int(counts.sum()))
        tfs = np.fromiter((tf for vector in vectors for tf in vector.values()), dtype=np.float64,
                          count=len(terms))
        self._index(counts, terms, tfs, valid_mask)

    def build_packed(self, column: pa.ChunkedArray | pa.Array) -> None:
        """From a segment's Arrow column of packed sparse vectors (Milvus' ``SparseFloatArray`` rows: (uint32 index,
        float32 value) pairs, ``milvus_lite.analyzer.sparse``) without decoding a row in Python: at 1M chunks the
        per-row decode took minutes, longer than a search's deadline."""
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        if pa.types.is_large_binary(array.type):
            offset_type = np.int64
        elif pa.types.is_binary(array.type):
            offset_type = np.int32
        else:
            raise TypeError(f"sparse column of type {array.type}")
        if array.null_count:  # a null row holds no pairs, whatever its offsets say
            array = array.fill_null(b"")
        n = len(array)
        _, offsets_buffer, data_buffer = array.buffers()
        offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[array.offset:array.offset + n + 1].astype(np.int64)
        data = np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None else np.zeros(0, np.uint8)
        start = int(offsets[0]) if n else 0
        sizes = np.diff(offsets) if n else np.zeros(0, dtype=np.int64)
        if np.any(sizes % 8):
            raise ValueError("a packed sparse vector's length is not a multiple of 8")
        pairs = data[start:start + int(sizes.sum())].view(_PAIR)
        self._index(sizes // 8, pairs["term"].astype(np.int64), pairs["tf"].astype(np.float64), None)

    def _index(self, counts: np.ndarray, terms: np.ndarray, tfs: np.ndarray, valid_mask: np.ndarray | None) -> None:
        """Rows given as ``counts[row]`` consecutive (term, tf) pairs: statistics and per-term posting slices."""
        n = len(counts)
        valid = np.ones(n, dtype=bool) if valid_mask is None else np.asarray(valid_mask, dtype=bool)
        rows = np.repeat(np.arange(n, dtype=np.int64), counts)
        keep = valid[rows]
        rows, terms, tfs = rows[keep], terms[keep], tfs[keep]
        lengths = np.bincount(rows, weights=tfs, minlength=n)
        self._lengths = lengths.astype(np.float32).astype(np.float64)  # Milvus Lite keeps lengths as float32
        self.doc_count = int(valid.sum())
        self.avgdl = float(self._lengths.sum()) / self.doc_count if self.doc_count else 0.0
        if not len(terms):
            return
        order = np.argsort(terms, kind="stable")
        terms = terms[order]
        self._ids, self._tfs = rows[order].astype(np.int32), tfs[order].astype(np.float32)
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]])
        self._vocabulary, self._bounds = terms[starts], np.r_[starts, len(terms)]

    def _slice(self, term: int) -> tuple[int, int]:
        at = int(np.searchsorted(self._vocabulary, term))
        if at < len(self._vocabulary) and self._vocabulary[at] == term:
            return int(self._bounds[at]), int(self._bounds[at + 1])
        return 0, 0

    def search(self, queries: Sequence[dict[int, float]], top_k: int, valid_mask: np.ndarray | None = None
               ) -> tuple[np.ndarray, np.ndarray]:
        ids = np.full((len(queries), top_k), -1, dtype=np.int64)
        distances = np.full((len(queries), top_k), np.inf, dtype=np.float32)
        if not self.doc_count or not top_k:
            return ids, distances
        n, k1, b = self.doc_count, self.k1, self.b
        avgdl = self.avgdl if self.avgdl > 0 else 1.0
        for q, query in enumerate(queries):
            scores = np.zeros(len(self._lengths), dtype=np.float64)
            for term, weight in query.items():
                start, end = self._slice(term)
                if start == end:
                    continue
                rows, tf = self._ids[start:end], self._tfs[start:end].astype(np.float64)
                if valid_mask is not None:
                    keep = valid_mask[rows]
                    rows, tf = rows[keep], tf[keep]
                idf = math.log((n - (end - start) + 0.5) / (end - start + 0.5) + 1.0)
                dl = self._lengths[rows]
                scores[rows] += idf * (tf * (k1 + 1.0)) / (tf + k1 * (1.0 - b + b * dl / avgdl)) * weight
            hits = np.flatnonzero(scores > 0)
            if not len(hits):
                continue
            if len(hits) > top_k:
                hits = hits[np.argpartition(-scores[hits], top_k - 1)[:top_k]]
            hits = hits[np.lexsort((hits, -scores[hits]))]  # best first, ties by row
            ids[q, :len(hits)] = hits
            distances[q, :len(hits)] = -scores[hits]
        return ids, distances
