"""The one interface to the models that workers and Serve deployments use, whichever backend serves them.

Adapters only adapt: ``TritonModelClient`` (the default) calls Triton over gRPC, ``InProcessModelClient`` runs the
same engines inside the caller, ``FakeModelClient`` answers deterministically without models. Retries with a
circuit breaker (``resilience.Resilient``) and client spans (``traced.Traced``) are wrappers that stack on any
of them; ``factory.build_client`` assembles ``Traced(Resilient(adapter))``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from enum import StrEnum
from typing import Protocol

from ragstream.schemas.generation import GenerationChunk, GenerationRequest


class Priority(StrEnum):
    """Who is asking: on Triton each has its own embedder model (instances and queue), so queries never wait."""

    QUERY = "query"
    INGEST = "ingest"


def model_name(operation: str, priority: Priority = Priority.QUERY) -> str:
    """The model an operation runs on: Triton's model name, and the name of its breaker and span everywhere."""
    if operation == "embed":
        return "embedder_query" if priority is Priority.QUERY else "embedder"
    return {"rerank": "reranker", "generate": "generator"}[operation]


class ModelError(RuntimeError):
    """The model refused or failed the request; retrying the same input will not help."""


class ModelUnavailable(ModelError):
    """Timeout, server down, overloaded or circuit open: worth retrying later."""


class ModelClient(Protocol):
    dimension: int

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]: ...

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]: ...

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Text chunks as they are produced; the last chunk has finish_reason and token counts."""
        ...

    async def close(self) -> None: ...
