"""A deterministic ``ModelClient`` with no model behind it: hashed bag-of-words embeddings (texts sharing words
are close), a reranker that is their cosine, and a generator that answers with the first sentence of the prompt's
best source and cites it. For tests and demos of everything around the models, in milliseconds."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import AsyncIterator, Sequence

from ragstream.core.generation.prompt import NO_ANSWER
from ragstream.core.models.client import Priority
from ragstream.schemas.generation import GenerationChunk, GenerationRequest

_WORD = re.compile(r"\w+", re.UNICODE)
_BEST_SOURCE = re.compile(r"\[1\][^\n]*\n<<<\n(.*?)\n>>>", re.DOTALL)


class FakeModelClient:
    def __init__(self, dimension: int = 384, replies: Sequence[str] = ()) -> None:
        """``replies``: the generator's answers, in turn, instead of quoting the best source."""
        self.dimension = dimension
        self._replies = list(replies)
        self.calls: list[tuple[str, int]] = []  # (operation, items): what a test can assert on

    def _vector(self, text: str) -> list[float]:
        vector = [0.0] * self.dimension
        for word in _WORD.findall(text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            vector[int.from_bytes(digest[:4], "little") % self.dimension] += 1.0 if digest[4] % 2 else -1.0
        norm = math.sqrt(sum(v * v for v in vector)) or 1.0
        return [v / norm for v in vector]

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]:
        self.calls.append((f"embed:{priority.value}", len(texts)))
        return [self._vector(t) for t in texts]

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        self.calls.append(("rerank", len(passages)))
        q = self._vector(query)
        return [sum(a * b for a, b in zip(q, self._vector(p), strict=True)) for p in passages]

    def _reply(self, request: GenerationRequest) -> str:
        if self._replies:
            return self._replies.pop(0)
        best = _BEST_SOURCE.search(request.messages[-1].content)
        if not best:
            return NO_ANSWER
        return re.split(r"(?<=[.!?])\s", best.group(1).strip(), maxsplit=1)[0] + " [1]"

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        self.calls.append(("generate", 1))
        words = self._reply(request).split(" ")[:request.max_tokens]
        for n, word in enumerate(words):
            yield GenerationChunk(text=word if n == 0 else f" {word}")
        prompt = sum(len(m.content.split()) for m in request.messages)
        yield GenerationChunk(text="", finish_reason="length" if len(words) == request.max_tokens else "stop",
                              prompt_tokens=prompt, completion_tokens=len(words))

    async def close(self) -> None:
        return None
