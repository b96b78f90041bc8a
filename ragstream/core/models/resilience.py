"""Retries with exponential backoff and a circuit breaker per model, so a sick model server is not hammered by every
caller: ``Resilient`` wraps any ``ModelClient``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from ragstream.core.models.client import ModelClient, ModelUnavailable, Priority, model_name
from ragstream.core.settings import TritonSettings
from ragstream.schemas.generation import GenerationChunk, GenerationRequest

T = TypeVar("T")


class CircuitOpen(ModelUnavailable):
    pass


class CircuitBreaker:
    """Opens after ``failures`` consecutive transient failures; after ``reset_s`` one probe call may pass."""

    def __init__(self, name: str, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self._threshold = failures
        self._reset_s = reset_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None

    @property
    def state(self) -> str:
        if self._opened_at is None:
            return "closed"
        return "half-open" if self._clock() - self._opened_at >= self._reset_s else "open"

    def check(self) -> None:
        if self.state == "open":
            wait = self._reset_s - (self._clock() - self._opened_at)
            raise CircuitOpen(f"{self.name}: circuit open after {self._failures} failures; next try in {wait:.1f}s")

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None

    def failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold or self._opened_at is not None:
            self._opened_at = self._clock()  # a failed half-open probe re-opens for a full period


async def with_retries(call: Callable[[], Awaitable[T]], breaker: CircuitBreaker, policy: TritonSettings) -> T:
    """Runs ``call``; transient failures (``ModelUnavailable``) are retried with backoff, others raised at once."""
    delay = policy.retry_initial_s
    for attempt in range(policy.retries + 1):
        breaker.check()
        try:
            result = await call()
        except CircuitOpen:
            raise
        except ModelUnavailable:
            breaker.failure()
            if attempt == policy.retries:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, policy.retry_max_s)
        else:
            breaker.success()
            return result
    raise AssertionError("unreachable")


class Resilient:
    """A ``ModelClient`` that retries transient failures (``ModelUnavailable``) of ``inner`` with backoff, one
    breaker per model. A stream is retried only until its first chunk: after that a retry would repeat text."""

    def __init__(self, inner: ModelClient, policy: TritonSettings) -> None:
        self.inner, self._policy = inner, policy
        self.dimension = inner.dimension
        self._breakers: dict[str, CircuitBreaker] = {}

    def _breaker(self, operation: str, priority: Priority = Priority.QUERY) -> CircuitBreaker:
        name = model_name(operation, priority)
        if name not in self._breakers:
            self._breakers[name] = CircuitBreaker(name, self._policy.breaker_failures, self._policy.breaker_reset_s)
        return self._breakers[name]

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]:
        return await with_retries(lambda: self.inner.embed(texts, priority), self._breaker("embed", priority),
                                  self._policy)

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        return await with_retries(lambda: self.inner.rerank(query, passages), self._breaker("rerank"), self._policy)

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        breaker = self._breaker("generate")

        async def first_chunk():
            stream = self.inner.generate(request)
            try:
                return stream, await anext(stream)
            except BaseException:
                await stream.aclose()
                raise

        stream, first = await with_retries(first_chunk, breaker, self._policy)
        try:
            yield first
            async for chunk in stream:
                yield chunk
        except ModelUnavailable:
            breaker.failure()
            raise
        finally:
            await stream.aclose()

    async def close(self) -> None:
        await self.inner.close()
