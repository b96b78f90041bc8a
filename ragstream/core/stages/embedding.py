"""Query embeddings, on the query-priority embedder (on Triton its own instance and queue, never behind
ingestion)."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.core.models.client import Priority
from ragstream.core.stages.model_stage import ModelStage
from ragstream.core.stages.timing import Stopwatch, Timed


class EmbeddingStage(ModelStage):
    async def embed(self, *, texts: Sequence[str]) -> Timed[list[list[float]]]:
        watch = Stopwatch()
        vectors = await self.models.embed(list(texts), Priority.QUERY) if texts else []
        return watch.timed(vectors, texts=len(texts))
