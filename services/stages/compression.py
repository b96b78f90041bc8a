"""Cuts the chosen passages down to the sentences the question needs, within the prompt's token budget."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ragstream.retrieval.compression import ExtractiveCompressor
from ragstream.retrieval.fusion import Hit
from ragstream.settings import ContextSettings
from services.stages.base import Stopwatch, Timed


class CompressionStage:
    def __init__(self, settings: ContextSettings) -> None:
        self._settings = settings
        self._compressor = ExtractiveCompressor(settings.budget_tokens)
        # The sentence splitter and tokenizer load on first use (~1 s): pay that before serving, not in a query.
        self._compressor.compress("warm up", [{"text": "Warm up the splitter. And the tokenizer."}])

    async def compress(self, question: str, hits: Sequence[Hit], enabled: bool | None = None) -> Timed[list[Hit]]:
        """Best first, as given; each hit's ``text`` becomes its kept sentences and ``spans`` says where they are."""
        watch = Stopwatch()
        if not (self._settings.compression if enabled is None else enabled):
            return watch.timed(list(hits))
        compressed = await asyncio.to_thread(self._compressor.compress, question, hits)
        return watch.timed([{**c.hit, "text": c.text, "spans": c.spans} for c in compressed],
                           passages=len(hits), kept=len(compressed))
