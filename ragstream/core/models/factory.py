"""Picks the model client the settings ask for, and a blocking face of it for synchronous callers (the ingest
workers, evaluation peers)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

from opentelemetry import context as otel_context

from ragstream.core.models.client import ModelClient, Priority
from ragstream.core.models.resilience import Resilient
from ragstream.core.models.traced import Traced
from ragstream.core.settings import ModelSettings
from ragstream.schemas.generation import GenerationRequest


def adapter(settings: ModelSettings) -> tuple[ModelClient, str, Callable[[str, str], dict[str, Any]]]:
    """The backend the settings name, the system its spans are named after, and its span attributes."""
    if settings.backend == "in_process":
        from ragstream.core.models.in_process import InProcessModelClient

        return InProcessModelClient(settings), "in_process", lambda operation, model: {}
    if not settings.triton.url:
        raise RuntimeError("no Triton endpoint: start the stack (`ragstream up`) or set RAGSTREAM_MODELS__TRITON__URL")
    from ragstream.core.models.triton_client import TritonModelClient, span_attributes

    return TritonModelClient(settings, settings.triton.url), "triton", span_attributes


def build_client(settings: ModelSettings) -> ModelClient:
    """``Traced(Resilient(adapter))``: every backend gets the same retries, breakers and client spans
    (``RAGSTREAM_MODELS__TRITON__*`` holds the retry policy for all of them)."""
    inner, system, attributes = adapter(settings)
    return Traced(Resilient(inner, settings.triton), system, attributes)


async def _within(context: otel_context.Context, coroutine):
    token = otel_context.attach(context)
    try:
        return await coroutine
    finally:
        otel_context.detach(token)


class BlockingModels:
    """The models called synchronously, on a private event loop thread: the ``Embedder`` of the ingest loop (ingest
    priority), and whole completions for callers outside the query path."""

    def __init__(self, settings: ModelSettings) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="model-client", daemon=True)
        self._thread.start()
        self._client = self._call(self._connect(settings))
        self.dimension = self._client.dimension

    @staticmethod
    async def _connect(settings: ModelSettings) -> ModelClient:
        return build_client(settings)  # grpc.aio channels bind to the loop they are created on

    def _call(self, coroutine):
        """Runs on the client's loop inside the caller's trace context (the loop thread has its own)."""
        return asyncio.run_coroutine_threadsafe(_within(otel_context.get_current(), coroutine), self._loop).result()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        return self._call(self._client.embed(texts, Priority.INGEST)) if texts else []

    def complete(self, request: GenerationRequest) -> str:
        async def whole() -> str:
            return "".join([chunk.text async for chunk in self._client.generate(request)])

        return self._call(whole())

    def close(self) -> None:
        self._call(self._client.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
