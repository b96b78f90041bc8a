"""Second-stage ranking: the reranker model scores the top fused candidates against the question, and its score is
blended with the first stage's. The stage owns the whole policy: whether to rerank, how deep, and the blend."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.core.models.client import ModelClient
from ragstream.core.retrieval.fusion import blend
from ragstream.core.settings import ModelSettings, RetrievalSettings
from ragstream.core.stages.model_stage import ModelStage
from ragstream.core.stages.passage import Passage
from ragstream.core.stages.timing import Stopwatch, Timed


def passage_text(passage: Passage) -> str:
    """What the reranker reads: the title gives a chunk its document's context, as at indexing."""
    return f"{passage.title}\n{passage.text}" if passage.title else passage.text


class RerankPolicy:
    """The decisions made before any model call, so the pipeline can ask retrieval for the right depth."""

    def __init__(self, settings: RetrievalSettings) -> None:
        self.settings = settings

    def enabled(self, requested: bool | None = None) -> bool:
        return self.settings.rerank if requested is None else requested

    def candidates(self, *, top_k: int, enabled: bool) -> int:
        """How many fused candidates retrieval should return for ``top_k`` final passages."""
        return max(self.settings.rerank_depth, top_k) if enabled else top_k


class RerankingStage(ModelStage):
    def __init__(self, settings: RetrievalSettings, models: ModelSettings, client: ModelClient | None = None) -> None:
        super().__init__(models, client)
        self.settings = settings

    async def rerank(self, *, query: str, passages: Sequence[Passage], top_k: int | None = None,
                     weight: float | None = None) -> Timed[list[Passage]]:
        """The best ``top_k`` (default: all given) after blending; ``weight`` of the model's score (default: the
        settings' ``rerank_weight``)."""
        watch = Stopwatch()
        if not passages:
            return watch.timed([])
        scores = await self.models.rerank(query, [passage_text(p) for p in passages])
        ranked = blend(passages, scores, self.settings.rerank_weight if weight is None else weight)
        kept = ranked[:top_k or len(ranked)]
        return watch.timed(kept, passages=len(passages), kept=len(kept), top_score=ranked[0].scores["rerank"])
