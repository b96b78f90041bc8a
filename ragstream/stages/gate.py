"""The relevance gate: after reranking, which passages are close enough to the question to ground an answer. None
left means the answer abstains without asking the generator."""

from __future__ import annotations

from collections.abc import Sequence

from ragstream.settings import ContextSettings
from ragstream.stages.passage import Passage


class RelevanceGate:
    def __init__(self, settings: ContextSettings) -> None:
        self.settings = settings

    @property
    def needs_rerank(self) -> bool:
        """The gate judges by the reranker's score, so chat reranks when the gate is on (``context.rerank``)."""
        return self.settings.rerank

    def keep(self, *, passages: Sequence[Passage], max_gap: float | None = None,
             min_score: float | None = None) -> list[Passage]:
        """Passages in their order: the first, and those whose model score is within ``max_gap`` of the best; all
        at or above ``min_score``. Passages without a reranker score (not reranked) all pass."""
        max_gap = self.settings.max_score_gap if max_gap is None else max_gap
        min_score = self.settings.min_score if min_score is None else min_score
        if not passages or any("rerank" not in p.scores for p in passages):
            return list(passages)
        best = max(p.scores["rerank"] for p in passages)
        return [p for rank, p in enumerate(passages)
                if (rank == 0 or max_gap is None or p.scores["rerank"] >= best - max_gap)
                and (min_score is None or p.scores["rerank"] >= min_score)]
