"""Hybrid search for the rewritten queries, always inside the caller's tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ragstream.core.index.store import IndexStore
from ragstream.core.retrieval.hybrid import HybridRetriever, Mode
from ragstream.core.settings import MilvusSettings, RetrievalSettings
from ragstream.core.stages.passage import Passage
from ragstream.core.stages.timing import Stopwatch, Timed
from ragstream.schemas.filters import QueryFilter


class RetrievalStage:
    def __init__(self, settings: RetrievalSettings, milvus: MilvusSettings, dimension: int) -> None:
        self.settings = settings
        self._milvus, self._dimension = milvus, dimension
        self._store: IndexStore | None = None
        self._retriever: HybridRetriever | None = None

    async def warm_up(self) -> None:
        if self._store is None:
            self._store = await asyncio.to_thread(IndexStore, self._milvus, self._dimension)
            self._retriever = HybridRetriever(self._store, self.settings)

    async def retrieve(self, *, queries: Sequence[str], vectors: Sequence[Sequence[float] | None], tenant: str,
                       query_filter: QueryFilter | None = None, top_k: int | None = None, mode: Mode = "hybrid",
                       prf: bool | None = None) -> Timed[list[Passage]]:
        """``vectors``: each query's embedding (None in bm25 mode); several queries are fused with RRF."""
        watch = Stopwatch()
        if self._store is None or self._retriever is None:
            raise RuntimeError("RetrievalStage: call warm_up() first")
        if not await asyncio.to_thread(self._store.client.has_collection, self._store.chunks):
            return watch.timed([])  # nothing ingested yet
        found = await self._retriever.search_many(queries, vectors, tenant, query_filter, top_k, mode, prf)
        return watch.timed(found, tenant=tenant, queries=len(queries), mode=mode, candidates=len(found),
                           top_score=found[0].score if found else None)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
