"""Cuts the chosen passages down to the sentences the question needs, within the prompt's token budget."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ragstream.core.retrieval.compression import Compressor, ExtractiveCompressor
from ragstream.core.settings import ContextSettings
from ragstream.core.stages.passage import Passage
from ragstream.core.stages.timing import Stopwatch, Timed


class CompressionStage:
    def __init__(self, settings: ContextSettings, compressor: Compressor | None = None) -> None:
        self.settings = settings
        self._compressor = compressor or ExtractiveCompressor(settings.budget_tokens)

    async def warm_up(self) -> None:
        """The sentence splitter and tokenizer load on first use (~1 s): paid before serving, not in a query."""
        await asyncio.to_thread(self._compressor.compress, "warm up", [Passage(
            id="warm-up", doc_id="warm-up", version=0, chunk_no=0, text="Warm up the splitter. And the tokenizer.",
            score=0.0)])

    async def compress(self, *, question: str, passages: Sequence[Passage],
                       enabled: bool | None = None) -> Timed[list[Passage]]:
        """Best first, as given; each passage's ``text`` becomes its kept sentences and ``spans`` says where."""
        watch = Stopwatch()
        if not (self.settings.compression if enabled is None else enabled):
            return watch.timed(list(passages))
        compressed = await asyncio.to_thread(self._compressor.compress, question, passages)
        return watch.timed(compressed, passages=len(passages), kept=len(compressed))
