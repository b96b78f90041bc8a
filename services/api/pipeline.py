"""The query path as calls between deployments: rewrite → embedding → retrieval → reranking → compression,
then a generation stream. Each stage reports its own compute time, collected per request in ``timings_ms``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ray.serve.handle import DeploymentHandle

from ragstream.generation.prompt import Source, build_messages, number_sources
from ragstream.retrieval.fusion import Hit
from ragstream.retrieval.hybrid import Mode
from ragstream.settings import Settings
from schemas.filters import QueryFilter
from schemas.generation import ChatMessage, GenerationChunk, GenerationRequest
from services.api.context_window import generator_view
from services.stages.base import Timed
from services.stages.rewrite import Rewritten, has_work

HISTORY_MESSAGES = 6  # earlier turns the generator sees; retrieval sees the conversation through the rewrite


@dataclass
class StageHandles:
    rewrite: DeploymentHandle
    embedding: DeploymentHandle
    retrieval: DeploymentHandle
    reranking: DeploymentHandle
    compression: DeploymentHandle
    generation: DeploymentHandle


@dataclass
class Retrieval:
    queries: list[str]
    standalone: str
    hits: list[Hit]
    reranked: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Grounding:
    """Everything the generator needs, and what the answer will be checked against for citations."""

    retrieval: Retrieval
    sources: list[Source]
    request: GenerationRequest


def relevant(hits: Sequence[Hit], max_gap: float | None, min_score: float | None) -> list[Hit]:
    """Reranked hits in their order: the first, and those whose model score is close enough to the best one; all
    above the floor."""
    if not hits:
        return []
    best = max(h["rerank_score"] for h in hits)
    return [h for rank, h in enumerate(hits) if (rank == 0 or max_gap is None or h["rerank_score"] >= best - max_gap)
            and (min_score is None or h["rerank_score"] >= min_score)]


class QueryPipeline:
    def __init__(self, stages: StageHandles, settings: Settings) -> None:
        self.stages = stages
        self.settings = settings

    @staticmethod
    async def _run(name: str, call: Any, timings: dict[str, float]) -> Any:
        result: Timed = await call
        timings[name] = result.ms
        return result.value

    async def retrieve(self, tenant: str, messages: Sequence[ChatMessage], *, query_filter: QueryFilter | None,
                       top_k: int, mode: Mode = "hybrid", rerank: bool | None = None, prf: bool | None = None,
                       rewrite: bool | None = None) -> Retrieval:
        stages, timings = self.stages, {}
        if has_work(messages, self.settings.rewrite, rewrite):
            rewritten = await self._run("rewrite", stages.rewrite.rewrite.remote(list(messages), rewrite), timings)
        else:
            rewritten = Rewritten([messages[-1].content], messages[-1].content)
        queries = rewritten.queries
        vectors: list = [None] * len(queries)
        if mode != "bm25":
            vectors = await self._run("embedding", stages.embedding.embed.remote(queries), timings)
        rerank = self.settings.retrieval.rerank if rerank is None else rerank
        depth = max(self.settings.retrieval.rerank_depth, top_k) if rerank else top_k
        hits = await self._run("retrieval", stages.retrieval.retrieve.remote(
            queries, vectors, tenant, query_filter, depth, mode, prf), timings)
        if rerank and hits:
            hits = await self._run("reranking", stages.reranking.rerank.remote(
                rewritten.standalone, hits, top_k, self.settings.retrieval.rerank_weight), timings)
        return Retrieval(queries, rewritten.standalone, hits[:top_k], rerank, timings)

    async def ground(self, tenant: str, messages: Sequence[ChatMessage], *, query_filter: QueryFilter | None,
                     top_k: int | None, rewrite: bool | None, max_tokens: int | None, temperature: float,
                     top_p: float, stop: list[str], seed: int | None) -> Grounding:
        retrieval = await self.retrieve(tenant, messages, query_filter=query_filter, rewrite=rewrite,
                                        top_k=top_k or self.settings.context.passages,
                                        rerank=self.settings.context.rerank)
        passages = retrieval.hits
        context = self.settings.context
        if retrieval.reranked:
            passages = relevant(passages, context.max_score_gap, context.min_score)
        if passages:
            passages = await self._run("compression", self.stages.compression.compress.remote(
                retrieval.standalone, passages), retrieval.timings_ms)
        sources = number_sources(passages)
        history = generator_view(messages, HISTORY_MESSAGES)[:-1]
        cap = self.settings.models.generator.max_tokens
        request = GenerationRequest(messages=build_messages(messages[-1].content, sources, history),
                                    max_tokens=min(max_tokens or cap, cap), temperature=temperature, top_p=top_p,
                                    stop=stop, seed=seed)
        return Grounding(retrieval, sources, request)

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        return self.stages.generation.options(stream=True).generate.remote(request)
