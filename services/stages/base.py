"""What every stage shares: its compute time travels with its result, and model clients connect lazily."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from opentelemetry import trace

from ragstream.models.client import ModelClient
from ragstream.models.factory import build_client
from ragstream.settings import ModelSettings

T = TypeVar("T")


@dataclass
class Timed(Generic[T]):
    """A stage's result and the milliseconds it computed, so the ingress can tell serving overhead from work."""

    value: T
    ms: float


def annotate(span: trace.Span | None = None, **attributes: object) -> None:
    """Operator-facing attributes (counts, scores, tokens; never text) on the stage's span (Serve's replica span)."""
    (span or trace.get_current_span()).set_attributes({f"ragstream.{k}": v for k, v in attributes.items()
                                                       if v is not None})


class Stopwatch:
    def __init__(self) -> None:
        self.start = time.perf_counter()

    def timed(self, value: T, **attributes: object) -> Timed[T]:
        """The result with its compute time; ``attributes`` go on the current span."""
        if attributes:
            annotate(**attributes)
        return Timed(value, (time.perf_counter() - self.start) * 1000)


class ModelStage:
    """Base of the stages that call models: grpc.aio channels belong to the event loop that opens them, so the
    client is built on first use, inside the replica's loop."""

    def __init__(self, models: ModelSettings) -> None:
        self._model_settings = models
        self._models: ModelClient | None = None
        self._lock = asyncio.Lock()

    async def models(self) -> ModelClient:
        async with self._lock:
            if self._models is None:
                self._models = build_client(self._model_settings)
            return self._models
