"""Milvus hybrid search for the rewritten queries, always inside the caller's tenant."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ragstream.index.store import IndexStore
from ragstream.retrieval.fusion import Hit
from ragstream.retrieval.hybrid import HybridRetriever, Mode
from ragstream.settings import Settings
from schemas.filters import QueryFilter
from services.stages.base import Stopwatch, Timed


class RetrievalStage:
    def __init__(self, settings: Settings) -> None:
        self._store = IndexStore(settings.milvus, settings.models.embedder.dimension)
        self._retriever = HybridRetriever(self._store, settings.retrieval)

    async def retrieve(self, queries: Sequence[str], vectors: Sequence[Sequence[float] | None], tenant: str,
                       query_filter: QueryFilter | None, top_k: int, mode: Mode = "hybrid",
                       prf: bool | None = None) -> Timed[list[Hit]]:
        watch = Stopwatch()
        if not await asyncio.to_thread(self._store.client.has_collection, self._store.chunks):
            return watch.timed([])  # nothing ingested yet
        hits = await self._retriever.search_many(queries, vectors, tenant, query_filter, top_k, mode, prf)
        return watch.timed(hits, tenant=tenant, queries=len(queries), mode=mode, candidates=len(hits),
                           top_score=hits[0]["score"] if hits else None)

    def __del__(self) -> None:
        self._store.close()
