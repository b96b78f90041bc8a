"""Streams the answer from the generator model; cancelling the stream (client gone) cancels generation."""

from __future__ import annotations

from collections.abc import AsyncIterator

from opentelemetry import trace

from ragstream.core.stages.model_stage import ModelStage
from ragstream.core.stages.timing import annotate
from ragstream.schemas.generation import GenerationChunk, GenerationRequest


class GenerationStage(ModelStage):
    async def generate(self, *, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        span = trace.get_current_span()  # the generator resumes in its consumer's context: keep the span at hand
        chunks = 0
        try:
            async for chunk in self.models.generate(request):
                chunks += 1
                if chunk.finish_reason:
                    annotate(span, prompt_tokens=chunk.prompt_tokens, completion_tokens=chunk.completion_tokens,
                             finish_reason=chunk.finish_reason)
                yield chunk
        finally:
            annotate(span, chunks=chunks)
