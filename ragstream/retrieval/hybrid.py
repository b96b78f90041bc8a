"""Hybrid retrieval: the query's dense embedding and its BM25 terms searched in parallel, fused client-side.

Every search carries the caller's tenant (partition key) plus the client's typed filter; the tenant is an
argument here, never part of the filter, so no filter can widen it.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from ragstream.index.store import IndexStore
from ragstream.models.client import ModelClient, Priority
from ragstream.retrieval.fusion import Hit, interpolate, reciprocal_rank
from ragstream.settings import RetrievalSettings
from schemas.filters import QueryFilter

FIELDS = ("doc_id", "version", "chunk_no", "title", "text", "metadata")
Mode = Literal["hybrid", "dense", "bm25"]


class HybridRetriever:
    def __init__(self, store: IndexStore, models: ModelClient, settings: RetrievalSettings) -> None:
        self.store = store
        self.models = models
        self.settings = settings

    async def _dense(self, query: str, tenant: str, query_filter: QueryFilter | None) -> list[Hit]:
        [vector] = await self.models.embed([query], Priority.QUERY)
        return await asyncio.to_thread(self.store.search_dense, vector, tenant, self.settings.candidates, FIELDS,
                                       query_filter)

    async def _bm25(self, query: str, tenant: str, query_filter: QueryFilter | None) -> list[Hit]:
        return await asyncio.to_thread(self.store.search_bm25, query, tenant, self.settings.candidates, FIELDS,
                                       query_filter)

    async def search(self, query: str, tenant: str, query_filter: QueryFilter | None = None,
                     top_k: int | None = None, mode: Mode = "hybrid") -> list[Hit]:
        limit = top_k or self.settings.top_k
        if mode == "dense":
            return (await self._dense(query, tenant, query_filter))[:limit]
        if mode == "bm25":
            return (await self._bm25(query, tenant, query_filter))[:limit]
        dense, sparse = await asyncio.gather(self._dense(query, tenant, query_filter),
                                             self._bm25(query, tenant, query_filter))
        if self.settings.fusion == "rrf":
            return reciprocal_rank([dense, sparse], k=self.settings.rrf_k, limit=limit)
        return interpolate(dense, sparse, self.settings.dense_weight, limit=limit)
