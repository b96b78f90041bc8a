"""The relevance gate: which retrieved passages are close enough to the question to ground an answer. None left
means the answer abstains without asking the generator.

Its main test is lexical coverage: the share of the question's content words (stop words out, Snowball stems)
that the passage contains. Unlike a cosine or BM25 floor it means the same on every corpus — a passage that
answers "what is the boiling point of ethanol?" names ethanol — so it transfers between corpora (how its default
was chosen: docs/benchmarks.md). When the passages were reranked, the reranker's score can gate too."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from llama_index.core.utils import globals_helper

from ragstream.core.index.analysis import bm25_text
from ragstream.core.settings import ContextSettings
from ragstream.core.stages.passage import Passage

WORD = re.compile(r"\w+")


@cache
def _stop_words() -> frozenset[str]:
    return frozenset(globals_helper.stopwords)  # NLTK's English list, shipped inside llama-index


def content_terms(text: str) -> set[str]:
    """The stems of a text's words that are not stop words."""
    stop = _stop_words()
    return set(bm25_text(" ".join(w for w in WORD.findall(text.lower()) if w not in stop), "english").split())


def coverage(question_terms: set[str], passage: Passage) -> float:
    """Share of the question's content terms found in the passage's title and text (1 when it has none)."""
    if not question_terms:
        return 1.0
    return len(question_terms & content_terms(f"{passage.title}\n{passage.text}")) / len(question_terms)


class RelevanceGate:
    def __init__(self, settings: ContextSettings) -> None:
        self.settings = settings

    @property
    def needs_rerank(self) -> bool:
        """Chat reranks when configured to (``context.rerank``); the reranker's thresholds only act then."""
        return self.settings.rerank

    def keep(self, *, question: str, passages: Sequence[Passage], min_coverage: float | None = None,
             coverage_gap: float | None = None, max_gap: float | None = None,
             min_score: float | None = None) -> list[Passage]:
        """Passages in their order that cover at least ``min_coverage`` of the question's content terms and are
        within ``coverage_gap`` of the best coverage; when reranked, also the first and those whose model score is
        within ``max_gap`` of the best, all at or above ``min_score``. Each kept passage records its coverage in
        ``scores["coverage"]``."""
        s = self.settings
        min_coverage = s.min_coverage if min_coverage is None else min_coverage
        coverage_gap = s.coverage_gap if coverage_gap is None else coverage_gap
        max_gap = s.max_score_gap if max_gap is None else max_gap
        min_score = s.min_score if min_score is None else min_score
        terms = content_terms(question)
        covered = [p.rescored(p.score, coverage=coverage(terms, p)) for p in passages]
        top = max((p.scores["coverage"] for p in covered), default=0.0)
        kept = [p for p in covered if (min_coverage is None or p.scores["coverage"] >= min_coverage)
                and (coverage_gap is None or p.scores["coverage"] >= top - coverage_gap)]
        if not kept or any("rerank" not in p.scores for p in kept):
            return kept
        best = max(p.scores["rerank"] for p in kept)
        return [p for rank, p in enumerate(kept)
                if (rank == 0 or max_gap is None or p.scores["rerank"] >= best - max_gap)
                and (min_score is None or p.scores["rerank"] >= min_score)]
