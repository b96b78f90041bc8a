"""Streams the answer from the generator model; cancelling the stream (client gone) cancels generation."""

from __future__ import annotations

from collections.abc import AsyncIterator

from schemas.generation import GenerationChunk, GenerationRequest
from services.stages.base import ModelStage


class GenerationStage(ModelStage):
    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        async for chunk in (await self.models()).generate(request):
            yield chunk
