"""A client span per model call, around any ``ModelClient``: the model hop in a document's or a question's trace.
Inside an ingest batch step the span is also copied into each record's trace (``telemetry.batch``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from opentelemetry.trace import SpanKind, Status, StatusCode

from ragstream.core.models.client import ModelClient, Priority, model_name
from ragstream.core.telemetry.batch import shared_span
from ragstream.core.telemetry.tracing import tracer
from ragstream.schemas.generation import GenerationChunk, GenerationRequest


class Traced:
    def __init__(self, inner: ModelClient, system: str,
                 attributes: Callable[[str, str], dict[str, Any]] = lambda operation, model: {}) -> None:
        """Spans are named ``"{system} {model}"``; ``attributes(operation, model)`` adds the backend's own (the
        gRPC method for Triton)."""
        self.inner, self._system, self._attributes = inner, system, attributes
        self.dimension = inner.dimension

    def _span_args(self, operation: str, model: str, **counts: int) -> tuple[str, dict[str, Any]]:
        return f"{self._system} {model}", {"ragstream.model": model, **self._attributes(operation, model),
                                           **{f"ragstream.{k}": v for k, v in counts.items()}}

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]:
        name, attributes = self._span_args("embed", model_name("embed", priority), texts=len(texts))
        with shared_span(name, SpanKind.CLIENT, attributes):
            return await self.inner.embed(texts, priority)

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        name, attributes = self._span_args("rerank", "reranker", passages=len(passages))
        with shared_span(name, SpanKind.CLIENT, attributes):
            return await self.inner.rerank(query, passages)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        # Not the current span: an async generator resumes in its consumer's context, so nothing may be attached.
        name, attributes = self._span_args("generate", "generator")
        span = tracer().start_span(name, kind=SpanKind.CLIENT, attributes=attributes)
        stream, chunks = self.inner.generate(request), 0
        try:
            async for chunk in stream:
                chunks += 1
                yield chunk
        except Exception as error:
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            await stream.aclose()  # a consumer that stops reading stops the generation underneath
            span.set_attribute("ragstream.chunks", chunks)
            span.end()

    async def close(self) -> None:
        await self.inner.close()
