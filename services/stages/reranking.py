"""Second-stage ranking: the reranker model scores the top fused candidates against the question."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.retrieval.fusion import Hit
from services.stages.base import ModelStage, Stopwatch, Timed


def passage_text(hit: Hit) -> str:
    """What the reranker reads: the title gives a chunk its document's context, as at indexing."""
    return f"{hit['title']}\n{hit['text']}" if hit.get("title") else hit["text"]


class RerankingStage(ModelStage):
    async def rerank(self, query: str, hits: Sequence[Hit], keep: int) -> Timed[list[Hit]]:
        watch = Stopwatch()
        if not hits:
            return watch.timed([])
        scores = await (await self.models()).rerank(query, [passage_text(h) for h in hits])
        ranked = sorted(({**h, "retrieval_score": h["score"], "score": float(s)} for h, s in zip(hits, scores,
                                                                                                   strict=True)),
                        key=lambda h: -h["score"])
        return watch.timed(ranked[:keep], passages=len(hits), kept=min(keep, len(ranked)),
                           top_score=ranked[0]["score"])
