"""The query path as keyword calls between deployments: rewrite → embedding → retrieval → reranking → the
relevance gate → compression, then a generation stream. Each stage reports its own compute time, collected per
request in ``timings_ms``. Every decision belongs to a stage; this module only wires their results together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import trace

from ragstream.core.generation.client_tasks import client_task
from ragstream.core.generation.prompt import Source, build_messages, number_sources
from ragstream.core.retrieval.hybrid import Mode
from ragstream.core.settings import Settings
from ragstream.core.stages.gate import RelevanceGate
from ragstream.core.stages.passage import Passage
from ragstream.core.stages.reranking import RerankPolicy
from ragstream.core.stages.rewrite import RewriteStage
from ragstream.core.stages.timing import Timed
from ragstream.schemas.filters import QueryFilter
from ragstream.schemas.generation import ChatMessage, GenerationChunk, GenerationRequest
from ragstream.services.api.context_window import generator_view

HISTORY_MESSAGES = 6  # earlier turns the generator sees; retrieval sees the conversation through the rewrite


class Handle(Protocol):
    """What the pipeline needs of a deployment handle (Serve's ``DeploymentHandle``, or a test's local one)."""

    def options(self, **options: Any) -> Handle: ...

    def __getattr__(self, method: str) -> Any: ...


@dataclass
class StageHandles:
    rewrite: Handle
    embedding: Handle
    retrieval: Handle
    reranking: Handle
    compression: Handle
    generation: Handle


@dataclass
class Retrieval:
    queries: list[str]
    standalone: str
    passages: list[Passage]
    reranked: bool
    timings_ms: dict[str, float] = field(default_factory=dict)


@dataclass
class Grounding:
    """Everything the generator needs, and what the answer will be checked against for citations."""

    retrieval: Retrieval
    sources: list[Source]
    request: GenerationRequest
    task: str | None = None  # a chat frontend's own task (``client_tasks``): answered without sources


class QueryPipeline:
    def __init__(self, stages: StageHandles, settings: Settings) -> None:
        self.stages = stages
        self.settings = settings
        self.rewrite = RewriteStage(settings.rewrite, settings.models)  # only its decision whether to call
        self.rerank = RerankPolicy(settings.retrieval)
        self.gate = RelevanceGate(settings.context)

    @staticmethod
    async def _run(name: str, call: Any, timings: dict[str, float]) -> Any:
        result: Timed = await call
        timings[name] = result.ms
        return result.value

    async def retrieve(self, tenant: str, messages: Sequence[ChatMessage], *, query_filter: QueryFilter | None,
                       top_k: int | None = None, mode: Mode = "hybrid", rerank: bool | None = None,
                       prf: bool | None = None, rewrite: bool | None = None) -> Retrieval:
        stages, timings = self.stages, {}
        top_k = top_k or self.settings.retrieval.top_k
        if self.rewrite.needed(messages=messages, enabled=rewrite):
            rewritten = await self._run("rewrite", stages.rewrite.rewrite.remote(
                messages=list(messages), enabled=rewrite), timings)
        else:
            rewritten = self.rewrite.unchanged(messages)
        queries = rewritten.queries
        vectors: list = [None] * len(queries)
        if mode != "bm25":
            vectors = await self._run("embedding", stages.embedding.embed.remote(texts=queries), timings)
        reranked = self.rerank.enabled(rerank)
        passages = await self._run("retrieval", stages.retrieval.retrieve.remote(
            queries=queries, vectors=vectors, tenant=tenant, query_filter=query_filter, mode=mode, prf=prf,
            top_k=self.rerank.candidates(top_k=top_k, enabled=reranked)), timings)
        if reranked and passages:
            passages = await self._run("reranking", stages.reranking.rerank.remote(
                query=rewritten.standalone, passages=passages, top_k=top_k), timings)
        return Retrieval(queries, rewritten.standalone, passages[:top_k], reranked, timings)

    async def ground(self, tenant: str, messages: Sequence[ChatMessage], *, query_filter: QueryFilter | None,
                     top_k: int | None, rewrite: bool | None, max_tokens: int | None, temperature: float,
                     top_p: float, stop: list[str], seed: int | None) -> Grounding:
        task = self.client_task(messages)
        if task:
            trace.get_current_span().set_attribute("ragstream.client_task", task)
            request = GenerationRequest(messages=[messages[-1]], max_tokens=self.answer_tokens(task, max_tokens),
                                        temperature=temperature, top_p=top_p, stop=stop, seed=seed)
            return Grounding(Retrieval([], "", [], False), [], request, task)
        retrieval = await self.retrieve(tenant, messages, query_filter=query_filter, rewrite=rewrite,
                                        top_k=top_k or self.settings.context.passages,
                                        rerank=self.gate.needs_rerank)
        passages = self.gate.keep(question=retrieval.standalone, passages=retrieval.passages)
        if passages:
            passages = await self._run("compression", self.stages.compression.compress.remote(
                question=retrieval.standalone, passages=passages), retrieval.timings_ms)
        sources = number_sources(passages)
        history = generator_view(messages, HISTORY_MESSAGES)[:-1]
        request = GenerationRequest(messages=build_messages(messages[-1].content, sources, history),
                                    max_tokens=self.answer_tokens(None, max_tokens), temperature=temperature,
                                    top_p=top_p, stop=stop, seed=seed)
        return Grounding(retrieval, sources, request)

    def client_task(self, messages: Sequence[ChatMessage]) -> str | None:
        return client_task(messages) if self.settings.api.client_tasks else None

    def answer_tokens(self, task: str | None, asked: int | None) -> int:
        """The answer's token budget: what the client asked for, within the cap of its kind of request (``task``:
        what :meth:`client_task` said of it)."""
        cap = self.settings.api.client_task_max_tokens if task else self.settings.models.generator.max_tokens
        return min(asked or cap, cap)

    def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        return self.stages.generation.options(stream=True).generate.remote(request=request)
