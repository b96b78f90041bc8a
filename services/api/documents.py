"""Documents over HTTP for clients without a Kafka client: the same events on the same topic as any producer,
plus what the index holds for a document and the bounded wait behind read-your-writes."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError

from ragstream.index.read_your_writes import wait_for_versions
from ragstream.index.store import IndexStore
from ragstream.producer import DocumentProducer
from ragstream.settings import Settings
from schemas.api import DocumentAccepted, DocumentStatus, DocumentUpsert
from schemas.events import DocumentEvent
from schemas.openai import MinVersion
from services.api.errors import ApiError

MIN_VERSION_HEADER = "x-ragstream-min-version"
_PAIR = re.compile(r"^\s*(?P<doc_id>[^=\s]+)\s*=\s*(?P<version>\d+)\s*$")
_MIN_VERSIONS = TypeAdapter(list[MinVersion])


def parse_min_versions(header: str | None) -> list[MinVersion]:
    """``x-ragstream-min-version: handbook=1700000000000, faq=3``"""
    if not header:
        return []
    pairs = [_PAIR.match(part) for part in header.split(",") if part.strip()]
    if not all(pairs):
        raise ApiError(400, f"{MIN_VERSION_HEADER} must be `doc_id=version[, ...]`", "invalid_header",
                       MIN_VERSION_HEADER)
    try:
        return _MIN_VERSIONS.validate_python([p.groupdict() for p in pairs])
    except ValidationError as error:
        raise ApiError(400, f"{MIN_VERSION_HEADER}: {error.errors()[0]['msg']}", "invalid_header",
                       MIN_VERSION_HEADER) from None


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class DocumentService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = IndexStore(settings.milvus, settings.models.embedder.dimension)
        self._producer: DocumentProducer | None = None

    def _produce(self, event: DocumentEvent) -> DocumentAccepted:
        if self._producer is None:
            self._producer = DocumentProducer(self.settings.kafka)
        sent = self._producer.send(event).get(timeout=30)
        return DocumentAccepted(doc_id=event.doc_id, version=event.version, op=event.op, topic=sent.topic,
                                partition=sent.partition, offset=sent.offset)

    async def upsert(self, tenant: str, body: DocumentUpsert) -> DocumentAccepted:
        try:
            event = DocumentEvent(op="upsert", tenant=tenant, doc_id=body.doc_id, title=body.title, text=body.text,
                                  metadata=body.metadata, version=now_ms() if body.version is None else body.version)
        except ValidationError as error:
            raise ApiError(400, error.errors()[0]["msg"], "invalid_document") from None
        return await asyncio.to_thread(self._produce, event)

    async def delete(self, tenant: str, doc_id: str, version: int | None) -> DocumentAccepted:
        event = DocumentEvent(op="delete", tenant=tenant, doc_id=doc_id,
                              version=now_ms() if version is None else version)
        return await asyncio.to_thread(self._produce, event)

    async def status(self, tenant: str, doc_id: str) -> DocumentStatus:
        state = None
        if await asyncio.to_thread(self.store.client.has_collection, self.store.registry):
            state = await asyncio.to_thread(self.store.doc_state, tenant, doc_id)
        if state is None:
            raise ApiError(404, f"document {doc_id!r} is not in the index (yet)", "document_not_found", "doc_id")
        return DocumentStatus(doc_id=doc_id, version=state.version, state=state.state, chunks=state.chunk_count,
                              event_time_ms=state.event_time_ms, indexed_time_ms=state.indexed_time_ms,
                              freshness_ms=state.indexed_time_ms - state.event_time_ms)

    async def wait_for(self, tenant: str, wanted: Sequence[MinVersion]) -> None:
        if not wanted:
            return
        timeout = self.settings.api.read_your_writes_timeout_s
        missing = await wait_for_versions(self.store, tenant, wanted, timeout)
        if missing:
            names = ", ".join(f"{m.doc_id}={m.version}" for m in missing)
            raise ApiError(504, f"not indexed within {timeout:g} s: {names}", "read_your_writes_timeout")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self.store.close()
