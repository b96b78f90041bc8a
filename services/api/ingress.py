"""The Serve ingress: FastAPI routes over the stage deployments. Auth, limits and error shapes live here so no
stage ever sees an unauthenticated or unvalidated request.

No ``from __future__ import annotations`` here: Serve rewrites the route methods' signatures in the replica, and
FastAPI must find real annotations on them, not strings.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Path, Query, Request, Response, Security
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPBearer
from ray import serve
from ray.serve.handle import DeploymentHandle
from starlette.exceptions import HTTPException

from ragstream.core.auth import tenant_for
from ragstream.core.settings import Settings
from ragstream.core.stages.timing import annotate
from ragstream.core.telemetry import propagation
from ragstream.schemas.api import (
    DocumentAccepted,
    DocumentStatus,
    DocumentUpsert,
    Health,
    ModelCard,
    ModelList,
    RetrieveRequest,
    RetrieveResponse,
)
from ragstream.schemas.events import DocId
from ragstream.schemas.generation import ChatMessage
from ragstream.schemas.openai import ChatCompletion, ChatCompletionRequest, ErrorResponse
from ragstream.services.api import errors
from ragstream.services.api.chat import ChatRun
from ragstream.services.api.context_window import check_fits, generator_view
from ragstream.services.api.documents import MIN_VERSION_HEADER, DocumentService, parse_min_versions
from ragstream.services.api.limits import BodyLimit
from ragstream.services.api.metrics import QueryMetrics
from ragstream.services.api.pipeline import HISTORY_MESSAGES, QueryPipeline, StageHandles
from ragstream.services.api.rate_limit import TenantRateLimit

DOC_ID_PATTERN = DocId.__metadata__[0].pattern
# The request's trace (when tracing is on): what to search for in the trace backend.
TRACE_ID_HEADER = "x-ragstream-trace-id"
ERRORS = {status: {"model": ErrorResponse} for status in (400, 401, 404, 409, 413, 429, 503, 504)}

api = FastAPI(title="ragstream", version="0.1.0", responses=ERRORS,
              description="Streaming RAG: an OpenAI-compatible chat API with citations over a live index.")
_bearer = HTTPBearer(auto_error=False, description="API key; it decides the tenant")


def _ingress(request: Request) -> "Ingress":
    return request.app.state.ingress


def _tenant(request: Request, _: Annotated[object, Security(_bearer)] = None) -> str:
    ingress = _ingress(request)
    tenant = tenant_for(ingress.settings.api, request.headers.get("authorization"))
    annotate(tenant=tenant)
    ingress.rate_limit.take(tenant)
    return tenant


Tenant = Annotated[str, Depends(_tenant)]


@api.middleware("http")
async def _count(request: Request, call_next):
    started = time.perf_counter()
    response = await call_next(request)
    route = getattr(request.scope.get("route"), "path", "unmatched")
    metrics = _ingress(request).metrics
    metrics.requests.labels(route, str(response.status_code)).inc()
    metrics.request_ms.labels(route).observe((time.perf_counter() - started) * 1000)
    if trace_id := propagation.trace_id():
        response.headers[TRACE_ID_HEADER] = trace_id
    return response


api.add_middleware(BodyLimit, limits=lambda scope: (scope["app"].state.ingress.settings.api.max_body_bytes,
                                                    scope["app"].state.ingress.settings.api.body_timeout_s))


@serve.ingress(api)
class Ingress:
    def __init__(self, settings: Settings, rewrite: DeploymentHandle, embedding: DeploymentHandle,
                 retrieval: DeploymentHandle, reranking: DeploymentHandle, compression: DeploymentHandle,
                 generation: DeploymentHandle) -> None:
        self.settings = settings
        self.pipeline = QueryPipeline(StageHandles(rewrite, embedding, retrieval, reranking, compression,
                                                   generation), settings)
        self.documents = DocumentService(settings)
        self.metrics = QueryMetrics()
        self.rate_limit = TenantRateLimit(settings.api.tenant_rates)
        self.retry_after_s = settings.serve.retry_after_s
        errors.install(api, self.retry_after_s)
        api.state.ingress = self

    @asynccontextmanager
    async def _stages(self) -> AsyncIterator[None]:
        """Whatever a stage raised becomes an API error (503 when overloaded or down, 400 for model refusals)."""
        try:
            yield
        except (errors.ApiError, HTTPException):
            raise
        except Exception as error:
            raise errors.from_exception(error, self.retry_after_s) from None

    @api.get("/healthz", tags=["operations"])
    async def healthz(self) -> Health:
        return Health()

    @api.get("/metrics", tags=["operations"], response_class=Response)
    async def prometheus(self) -> Response:
        return Response(self.metrics.render(), media_type=self.metrics.content_type)

    @api.get("/v1/models", tags=["chat"])
    async def models(self, _: Tenant) -> ModelList:
        return ModelList(data=[ModelCard(id=self.settings.api.model_name, created=0)])

    @api.post("/v1/chat/completions", tags=["chat"], response_model=ChatCompletion,
              responses={200: {"content": {"text/event-stream": {}}}})
    async def chat(self, body: ChatCompletionRequest, request: Request, response: Response, tenant: Tenant):
        if body.model != self.settings.api.model_name:
            raise errors.ApiError(404, f"model {body.model!r} does not exist; use {self.settings.api.model_name!r}",
                                  "model_not_found", "model")
        options = body.ragstream
        messages = [m.to_chat() for m in body.messages]
        await asyncio.to_thread(check_fits, generator_view(messages, HISTORY_MESSAGES),
                                self.settings.models.generator.context_tokens,
                                self.pipeline.answer_tokens(self.pipeline.client_task(messages), body.token_limit))
        await self.documents.wait_for(tenant, [*options.min_versions,
                                               *parse_min_versions(request.headers.get(MIN_VERSION_HEADER))])
        async with self._stages():
            grounding = await self.pipeline.ground(
                tenant, messages, query_filter=options.filters, top_k=options.top_k,
                rewrite=options.rewrite, max_tokens=body.token_limit, temperature=body.temperature,
                top_p=body.top_p, stop=body.stop or [], seed=body.seed)
            run = ChatRun(self.pipeline, grounding, self.settings.api.model_name, self.metrics, self.retry_after_s,
                          documents_url=f"{str(request.base_url).rstrip('/')}/v1/documents")
            await run.start()
            if body.stream:
                include_usage = bool(body.stream_options and body.stream_options.include_usage)
                return StreamingResponse(run.events(include_usage), media_type="text/event-stream",
                                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no",
                                                  **run.sources_header()})
            response.headers.update(run.sources_header())
            return await run.completion()

    @api.post("/v1/retrieve", tags=["retrieval"])
    async def retrieve(self, body: RetrieveRequest, request: Request, tenant: Tenant) -> RetrieveResponse:
        await self.documents.wait_for(tenant, [*body.min_versions,
                                               *parse_min_versions(request.headers.get(MIN_VERSION_HEADER))])
        async with self._stages():
            found = await self.pipeline.retrieve(
                tenant, [ChatMessage(role="user", content=body.query)], query_filter=body.filters,
                top_k=body.top_k, mode=body.mode, rerank=body.rerank,
                prf=body.prf, rewrite=body.rewrite)
        self.metrics.observe_stages(found.timings_ms)
        return RetrieveResponse(queries=found.queries, timings_ms=found.timings_ms,
                                passages=[passage.api() for passage in found.passages])

    @api.post("/v1/documents", tags=["documents"], status_code=202)
    async def upsert_document(self, body: DocumentUpsert, tenant: Tenant) -> DocumentAccepted:
        return await self.documents.upsert(tenant, body)

    @api.delete("/v1/documents/{doc_id}", tags=["documents"], status_code=202)
    async def delete_document(self, doc_id: Annotated[str, Path(pattern=DOC_ID_PATTERN)], tenant: Tenant,
                              version: Annotated[int | None, Query(ge=0, le=2**53 - 1)] = None) -> DocumentAccepted:
        return await self.documents.delete(tenant, doc_id, version)

    @api.get("/v1/documents/{doc_id}", tags=["documents"])
    async def document(self, doc_id: Annotated[str, Path(pattern=DOC_ID_PATTERN)], tenant: Tenant) -> DocumentStatus:
        return await self.documents.status(tenant, doc_id)

    def __del__(self) -> None:
        self.documents.close()
