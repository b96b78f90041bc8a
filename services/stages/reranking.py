"""Second-stage ranking: the reranker model scores the top fused candidates against the question."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.retrieval.fusion import Hit, blend
from services.stages.base import ModelStage, Stopwatch, Timed


def passage_text(hit: Hit) -> str:
    """What the reranker reads: the title gives a chunk its document's context, as at indexing."""
    return f"{hit['title']}\n{hit['text']}" if hit.get("title") else hit["text"]


class RerankingStage(ModelStage):
    async def rerank(self, query: str, hits: Sequence[Hit], keep: int, weight: float = 1.0) -> Timed[list[Hit]]:
        watch = Stopwatch()
        if not hits:
            return watch.timed([])
        scores = await (await self.models()).rerank(query, [passage_text(h) for h in hits])
        ranked = blend(hits, scores, weight)
        return watch.timed(ranked[:keep], passages=len(hits), kept=min(keep, len(ranked)),
                           top_score=ranked[0]["rerank_score"])
