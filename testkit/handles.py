"""A local stand-in for Serve's deployment handles: ``handle.method.remote(**kwargs)`` calls the plain stage in
this process, so the pipeline and the ingress run without Ray. Like Serve, it refuses positional arguments the
pipeline must not send across a process boundary, and ``options(stream=True)`` gives an async iterator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ragstream.core.models.fake import FakeModelClient
from ragstream.core.settings import Settings
from ragstream.core.stages.compression import CompressionStage
from ragstream.core.stages.embedding import EmbeddingStage
from ragstream.core.stages.generation import GenerationStage
from ragstream.core.stages.passage import Passage
from ragstream.core.stages.reranking import RerankingStage
from ragstream.core.stages.rewrite import RewriteStage
from ragstream.core.stages.timing import Stopwatch, Timed
from ragstream.schemas.filters import QueryFilter
from ragstream.services.api.pipeline import StageHandles


class _Method:
    def __init__(self, stage: object, name: str, calls: list) -> None:
        self._call, self._name, self._calls = getattr(stage, name), name, calls

    def remote(self, *args: Any, **kwargs: Any) -> Any:
        if args:
            raise TypeError(f"{self._name}: stages take keyword arguments only, got {len(args)} positional")
        self._calls.append((self._name, kwargs))
        return self._call(**kwargs)  # a coroutine (awaited by the caller) or an async generator (streamed)


class LocalHandle:
    def __init__(self, stage: object) -> None:
        self.stage = stage
        self.calls: list[tuple[str, dict]] = []  # (method, keyword arguments), in call order

    def options(self, **_: Any) -> LocalHandle:
        """``stream=True`` needs nothing here: a streaming stage method already returns an async iterator."""
        return self

    def __getattr__(self, name: str) -> _Method:
        return _Method(self.stage, name, self.calls)


async def local_stages(settings: Settings, retrieval: object, client: FakeModelClient | None = None) -> StageHandles:
    """Every stage on ``client`` (a fake by default), warmed up, with ``retrieval`` standing in for Milvus."""
    client = client or FakeModelClient(settings.models.embedder.dimension)
    stages = [RewriteStage(settings.rewrite, settings.models, client), EmbeddingStage(settings.models, client),
              retrieval, RerankingStage(settings.retrieval, settings.models, client),
              CompressionStage(settings.context), GenerationStage(settings.models, client)]
    for stage in stages:
        await stage.warm_up()
    return StageHandles(*(LocalHandle(stage) for stage in stages))


class ListRetrieval:
    """The retrieval stage's contract over a fixed list of passages per tenant, ranked by the cosine of the fake
    embeddings: what the pipeline needs of retrieval, without Milvus."""

    def __init__(self, passages: dict[str, list[Passage]], client: FakeModelClient) -> None:
        self._passages, self._client = passages, client
        self._vectors: dict[str, list[list[float]]] = {}

    async def warm_up(self) -> None:
        for tenant, passages in self._passages.items():
            self._vectors[tenant] = await self._client.embed([p.text for p in passages])

    async def retrieve(self, *, queries: Sequence[str], vectors: Sequence[Sequence[float] | None], tenant: str,
                       query_filter: QueryFilter | None = None, top_k: int | None = None, mode: str = "hybrid",
                       prf: bool | None = None) -> Timed[list[Passage]]:
        watch = Stopwatch()
        query = vectors[0] if vectors[0] is not None else (await self._client.embed(queries[:1]))[0]
        scored = [p.rescored(sum(a * b for a, b in zip(query, v, strict=True)))
                  for p, v in zip(self._passages.get(tenant, []), self._vectors.get(tenant, []), strict=True)]
        return watch.timed(sorted(scored, key=lambda p: -p.score)[:top_k or 10])
