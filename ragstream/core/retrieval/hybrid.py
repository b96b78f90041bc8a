"""Hybrid retrieval: each query's dense embedding and its BM25 terms searched in parallel, fused client-side.

Embeddings come from the caller (the embedding stage), so this stage only talks to Milvus. Every search carries
the caller's tenant (partition key) plus the client's typed filter; the tenant is an argument here, never part of
the filter, so no filter can widen it. Several queries (a rewritten conversation) are fused with RRF, which needs
no score calibration across queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

import numpy as np

from ragstream.core.index.store import IndexStore
from ragstream.core.retrieval.fusion import interpolate, per_document, reciprocal_rank
from ragstream.core.settings import RetrievalSettings
from ragstream.core.stages.passage import ROW_FIELDS, Passage
from ragstream.schemas.filters import QueryFilter

Mode = Literal["hybrid", "dense", "bm25"]


def _passages(rows: list[dict], retriever: str) -> list[Passage]:
    """Hits tagged with their retriever's raw score, which fusion keeps beside the fused one (the gate reads it)."""
    return [(p := Passage.from_row(row)).rescored(p.score, **{retriever: p.score}) for row in rows]


def feedback_vector(query: Sequence[float], hits: Sequence[Sequence[float]], weight: float) -> list[float]:
    """Rocchio: move the query towards the centroid of the top hits, renormalised for cosine search."""
    moved = (1 - weight) * np.asarray(query, dtype=np.float32) + weight * np.mean(np.asarray(hits), axis=0)
    return (moved / (np.linalg.norm(moved) or 1.0)).tolist()


class HybridRetriever:
    def __init__(self, store: IndexStore, settings: RetrievalSettings) -> None:
        self.store = store
        self.settings = settings

    async def _dense(self, vector: Sequence[float], tenant: str, query_filter: QueryFilter | None,
                     prf: bool) -> list[Passage]:
        search = self.store.search_dense
        limit = self.settings.candidates
        if not prf:
            return _passages(await asyncio.to_thread(search, vector, tenant, limit, ROW_FIELDS, query_filter), "dense")
        first = await asyncio.to_thread(search, vector, tenant, self.settings.prf_docs, ("dense",), query_filter)
        # no feedback to give (an empty tenant, or every top hit superseded while it was read): the query as it is
        moved = feedback_vector(vector, [h["dense"] for h in first], self.settings.prf_weight) if first else vector
        return _passages(await asyncio.to_thread(search, moved, tenant, limit, ROW_FIELDS, query_filter), "dense")

    async def _bm25(self, query: str, tenant: str, query_filter: QueryFilter | None) -> list[Passage]:
        return _passages(await asyncio.to_thread(self.store.search_bm25, query, tenant, self.settings.candidates,
                                                 ROW_FIELDS, query_filter), "bm25")

    async def search(self, query: str, vector: Sequence[float] | None, tenant: str,
                     query_filter: QueryFilter | None = None, top_k: int | None = None, mode: Mode = "hybrid",
                     prf: bool | None = None) -> list[Passage]:
        """One query; ``vector`` is its embedding (unused, may be None, in bm25 mode)."""
        limit = top_k or self.settings.top_k
        return per_document(await self._ranked(query, vector, tenant, query_filter, mode, prf),
                            self.settings.per_document, limit)

    async def _ranked(self, query: str, vector: Sequence[float] | None, tenant: str,
                      query_filter: QueryFilter | None, mode: Mode, prf: bool | None) -> list[Passage]:
        """Every candidate of one query, best first: one retriever's, or both fused."""
        prf = self.settings.prf if prf is None else prf
        if mode == "bm25":
            return await self._bm25(query, tenant, query_filter)
        if vector is None:
            raise ValueError(f"{mode} retrieval needs the query's embedding")
        if mode == "dense":
            return await self._dense(vector, tenant, query_filter, prf)
        dense, sparse = await asyncio.gather(self._dense(vector, tenant, query_filter, prf),
                                             self._bm25(query, tenant, query_filter))
        if self.settings.fusion == "rrf":
            return reciprocal_rank([dense, sparse], k=self.settings.rrf_k)
        return interpolate(dense, sparse, self.settings.dense_weight)

    async def search_many(self, queries: Sequence[str], vectors: Sequence[Sequence[float] | None], tenant: str,
                          query_filter: QueryFilter | None = None, top_k: int | None = None,
                          mode: Mode = "hybrid", prf: bool | None = None) -> list[Passage]:
        """Several phrasings of one need: each searched, the rankings fused with RRF (one query: as is)."""
        limit = top_k or self.settings.top_k
        rankings = await asyncio.gather(*(self.search(q, v, tenant, query_filter, self.settings.candidates, mode, prf)
                                          for q, v in zip(queries, vectors, strict=True)))
        if len(rankings) == 1:
            return rankings[0][:limit]
        return per_document(reciprocal_rank(rankings, k=self.settings.rrf_k), self.settings.per_document, limit)
