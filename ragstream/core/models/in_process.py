"""The same engines as the Triton models, run in the caller's process (unit tests, machines without Triton).

Engines load on first use, so a worker that only embeds never loads the LLM. Each engine runs in a worker
thread under its own lock: llama.cpp holds one context, and the event loop must never block on a model.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from functools import cached_property

from ragstream.core.models.client import ModelError, Priority
from ragstream.core.models.embedder import Embedder, build_embedder
from ragstream.core.models.generator import Generator, build_generator
from ragstream.core.models.reranker import Reranker, build_reranker
from ragstream.core.settings import ModelSettings
from ragstream.schemas.generation import GenerationChunk, GenerationRequest


class InProcessModelClient:
    def __init__(self, settings: ModelSettings) -> None:
        self._settings = settings
        self.dimension = settings.embedder.dimension
        self._locks = {name: threading.Lock() for name in ("embedder", "reranker", "generator")}

    @cached_property
    def _embedder(self) -> Embedder:
        return build_embedder(self._settings.embedder)

    @cached_property
    def _reranker(self) -> Reranker:
        return build_reranker(self._settings.reranker)

    @cached_property
    def _generator(self) -> Generator:
        return build_generator(self._settings.generator)

    async def _run(self, name: str, work: Callable):
        def locked():
            with self._locks[name]:
                try:
                    return work()
                except Exception as error:
                    raise ModelError(f"{name}: {error}") from error

        return await asyncio.to_thread(locked)

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]:
        return await self._run("embedder", lambda: self._embedder.embed(texts))

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        return await self._run("reranker", lambda: self._reranker.score(query, passages))

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()

        def produce() -> None:
            for chunk in self._generator.generate(request, cancelled=stop.is_set):
                loop.call_soon_threadsafe(queue.put_nowait, chunk)

        task = asyncio.ensure_future(self._run("generator", produce))
        task.add_done_callback(lambda _: queue.put_nowait(None))
        try:
            while (chunk := await queue.get()) is not None:
                yield chunk
            await task  # raises the engine's error, if any
        finally:
            stop.set()

    async def close(self) -> None:
        return None
