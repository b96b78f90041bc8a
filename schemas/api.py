"""Wire formats of ragstream's own HTTP endpoints (retrieval and documents) beside the OpenAI-compatible ones."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragstream.schemas.events import MAX_TEXT_CHARS, MAX_TITLE_CHARS, MAX_VERSION, DocId, Metadata
from ragstream.schemas.filters import QueryFilter
from ragstream.schemas.openai import MinVersion

MAX_QUERY_CHARS = 4_000


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    filters: QueryFilter | None = None
    top_k: int | None = Field(None, ge=1, le=100)
    mode: Literal["hybrid", "dense", "bm25"] = "hybrid"
    rerank: bool | None = Field(None, description="default: settings (RAGSTREAM_RETRIEVAL__RERANK)")
    prf: bool | None = Field(None, description="vector pseudo-relevance feedback; default: settings")
    rewrite: bool = Field(False, description="search extra queries written by the generator (standalone question "
                          "and/or HyDE, as RAGSTREAM_REWRITE__* enable): multi-query retrieval")
    min_versions: list[MinVersion] = Field(default_factory=list, max_length=32)


class Passage(BaseModel):
    doc_id: str
    version: int
    chunk_no: int
    title: str
    text: str
    score: float = Field(description="final score: when reranked, the blend of the reranker's and the retrieval "
                         "score (RAGSTREAM_RETRIEVAL__RERANK_WEIGHT), else the fused retrieval score")
    retrieval_score: float | None = Field(None, description="fused retrieval score, when reranked")
    rerank_score: float | None = Field(None, description="the reranker model's own score, when reranked")
    scores: dict[str, float] = Field(default_factory=dict, description="each stage's own score: the retrievers' raw "
                                     "scores (dense cosine, bm25), retrieval (fused), rerank")
    metadata: dict[str, Any] = Field(default_factory=dict)


class RetrieveResponse(BaseModel):
    queries: list[str]
    passages: list[Passage]
    timings_ms: dict[str, float] = Field(description="compute time of each stage, measured inside the stage")


class DocumentUpsert(BaseModel):
    """A document for clients without a Kafka client; the tenant comes from the API key."""

    model_config = ConfigDict(extra="forbid")

    doc_id: DocId
    version: int | None = Field(None, ge=0, le=MAX_VERSION, description="omitted: server-ordered, applied after "
                                "every write of the document accepted before it (see DocumentAccepted.offset)")
    title: str = Field("", max_length=MAX_TITLE_CHARS)
    text: str = Field(min_length=1, max_length=MAX_TEXT_CHARS)
    metadata: Metadata = Field(default_factory=dict)


class DocumentAccepted(BaseModel):
    """The event is on the topic; pass ``doc_id`` with ``version`` (or, for a server-ordered write, ``offset``) as
    ``min_versions`` to read your write."""

    doc_id: str
    version: int | None = Field(description="as sent; null for a server-ordered write (its version is assigned "
                                "when applied: GET /v1/documents/{doc_id} shows it)")
    op: Literal["upsert", "delete"]
    topic: str
    partition: int
    offset: int


class DocumentStatus(BaseModel):
    doc_id: str
    version: int
    state: Literal["indexed", "deleted"]
    chunks: int
    event_time_ms: int
    indexed_time_ms: int
    freshness_ms: int = Field(description="indexed_time - event_time: how long the event took to become searchable")
    offset: int | None = Field(None, description="the newest log offset applied or settled for this document")
    ignored_version: int | None = Field(None, description="the newest write ignored as stale (older than the "
                                        "version then indexed)")
    ignored_offset: int | None = Field(None, description="the log offset of that ignored write")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "ragstream"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class Health(BaseModel):
    status: Literal["ok"] = "ok"
