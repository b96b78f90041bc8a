"""What every stage returns: its result with the time it computed, so the ingress can tell serving overhead from
work; and the operator-facing attributes a stage puts on its span."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Generic, TypeVar

from opentelemetry import trace

T = TypeVar("T")


@dataclass
class Timed(Generic[T]):
    value: T
    ms: float


def annotate(span: trace.Span | None = None, **attributes: object) -> None:
    """Counts, scores, tokens (never text) on the stage's span (Serve's replica span)."""
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
