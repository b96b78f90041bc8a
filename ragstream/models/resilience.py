"""Retries with exponential backoff and a circuit breaker, so a sick model server is not hammered by every caller."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ragstream.models.client import ModelUnavailable
from ragstream.settings import TritonSettings

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
