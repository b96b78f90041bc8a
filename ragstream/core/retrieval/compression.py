"""Extractive compression: keep the sentences of the selected passages that bear on the question, within a
token budget, so the generator reads less and cites exact spans.

Sentences are scored with BM25 against the question over the candidate sentences themselves (cheap: no model
call on the query path); the best sentence of every passage is kept first, so each retrieved source stays
citable, then the rest by score until the budget is spent. Kept sentences stay in their original order, with
their character spans in the chunk text.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer
from llama_index.core.utils import get_tokenizer

from ragstream.core.stages.passage import Passage

_WORD = re.compile(r"\w+", re.UNICODE)


def _terms(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1]


@dataclass
class _Sentence:
    passage: int
    start: int
    end: int
    text: str
    tokens: int
    score: float = 0.0


class Compressor(Protocol):
    """Cuts passages (best first) down to what the question needs within a token budget; a passage may be
    dropped. Another compressor (abstractive, a trained model) is another class with this method."""

    def compress(self, question: str, passages: Sequence[Passage]) -> list[Passage]: ...


class ExtractiveCompressor:
    def __init__(self, budget_tokens: int, count_tokens: Callable[[str], int] | None = None) -> None:
        self.budget_tokens = budget_tokens
        tokenizer = get_tokenizer()
        self._count = count_tokens or (lambda text: len(tokenizer(text)))
        self._split = split_by_sentence_tokenizer()

    def _sentences(self, passages: Sequence[Passage]) -> list[_Sentence]:
        out = []
        for index, passage in enumerate(passages):
            offset = 0
            for piece in self._split(passage.text):
                if piece.strip():
                    out.append(_Sentence(index, offset, offset + len(piece), piece.strip(), self._count(piece)))
                offset += len(piece)
        return out

    @staticmethod
    def _bm25(question: str, sentences: list[_Sentence], k1: float = 1.2, b: float = 0.75) -> None:
        bags = [Counter(_terms(s.text)) for s in sentences]
        average = sum(sum(bag.values()) for bag in bags) / max(len(bags), 1) or 1.0
        documents = Counter(term for bag in bags for term in bag)
        for sentence, bag in zip(sentences, bags, strict=True):
            length = sum(bag.values())
            for term in set(_terms(question)):
                if bag[term]:
                    idf = math.log(1 + (len(bags) - documents[term] + 0.5) / (documents[term] + 0.5))
                    sentence.score += idf * bag[term] * (k1 + 1) / (bag[term] + k1 * (1 - b + b * length / average))

    def compress(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """Passages in the order given (best first) that keep at least one sentence, each cut to its kept
        sentences, with ``spans`` saying where they are in the chunk's text."""
        sentences = self._sentences(passages)
        self._bm25(question, sentences)
        ranked = sorted(sentences, key=lambda s: -s.score)
        best_of_passage = {}
        for s in ranked:
            best_of_passage.setdefault(s.passage, s)
        kept: dict[tuple[int, int], _Sentence] = {}
        spent = 0
        for s in [*best_of_passage.values(), *ranked]:
            if (s.passage, s.start) not in kept and spent + s.tokens <= self.budget_tokens:
                kept[(s.passage, s.start)] = s
                spent += s.tokens
        result = []
        for index, passage in enumerate(passages):
            mine = sorted((s for s in kept.values() if s.passage == index), key=lambda s: s.start)
            if mine:
                result.append(passage.model_copy(update={"text": " ".join(s.text for s in mine),
                                                         "spans": [(s.start, s.end) for s in mine]}))
        return result
