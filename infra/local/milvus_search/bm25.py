"""BM25 over posting arrays: Milvus Lite's per-segment scorer, vectorised."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


class PostingArrays:
    """Milvus Lite's per-segment BM25 scorer (``SparseInvertedIndex``: same formula, statistics and distance
    convention) with each term's postings in numpy arrays. Not a subclass: Milvus Lite's own path must not take a
    segment's cached ``PostingArrays`` for its scorer, or ``--search checked`` would compare this scorer with itself."""

    index_type = "SPARSE_INVERTED_INDEX"

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self.doc_count, self.avgdl = 0, 0.0
        self._terms: dict[int, tuple[int, int]] = {}  # term hash → its slice of the posting arrays
        self._ids = np.zeros(0, dtype=np.int64)
        self._tfs = np.zeros(0, dtype=np.float64)
        self._lengths = np.zeros(0, dtype=np.float64)

    def build(self, vectors: Sequence[dict[int, float]], valid_mask: np.ndarray | None = None) -> None:
        n = len(vectors)
        valid = np.ones(n, dtype=bool) if valid_mask is None else np.asarray(valid_mask, dtype=bool)
        terms, ids, tfs = [], [], []
        lengths = np.zeros(n, dtype=np.float64)
        for row, vector in enumerate(vectors):
            if not valid[row] or not vector:
                continue
            lengths[row] = np.float32(sum(vector.values()))  # Milvus Lite keeps lengths as float32
            terms.extend(vector.keys())
            tfs.extend(vector.values())
            ids.extend([row] * len(vector))
        self.doc_count = int(valid.sum())
        self.avgdl = float(lengths.sum()) / self.doc_count if self.doc_count else 0.0
        self._lengths = lengths
        if not terms:
            return
        term_array = np.asarray(terms, dtype=np.int64)
        order = np.argsort(term_array, kind="stable")
        term_array = term_array[order]
        self._ids = np.asarray(ids, dtype=np.int64)[order]
        self._tfs = np.asarray(tfs, dtype=np.float64)[order]
        starts = np.flatnonzero(np.r_[True, term_array[1:] != term_array[:-1]])
        ends = np.r_[starts[1:], len(term_array)]
        self._terms = {int(term_array[s]): (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}

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
                start, end = self._terms.get(term, (0, 0))
                if start == end:
                    continue
                rows, tf = self._ids[start:end], self._tfs[start:end]
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
