"""Query embeddings, on Triton's query-priority embedder (its own instance and queue, never behind ingestion)."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.models.client import Priority
from services.stages.base import ModelStage, Stopwatch, Timed


class EmbeddingStage(ModelStage):
    async def embed(self, texts: Sequence[str]) -> Timed[list[list[float]]]:
        watch = Stopwatch()
        vectors = await (await self.models()).embed(list(texts), Priority.QUERY) if texts else []
        return watch.timed(vectors, texts=len(texts))
