"""Documents over HTTP for clients without a Kafka client: the same events on the same topic as any producer,
plus what the index holds for a document and the bounded wait behind read-your-writes."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence

from pydantic import TypeAdapter, ValidationError

from ragstream.core.index.read_your_writes import wait_for_versions
from ragstream.core.index.store import IndexStore
from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import Settings
from ragstream.schemas.api import DocumentAccepted, DocumentStatus, DocumentUpsert
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.openai import MinVersion
from ragstream.services.api.errors import ApiError, unavailable

MIN_VERSION_HEADER = "x-ragstream-min-version"
PRODUCE_TIMEOUT_S = 10
MAX_MIN_VERSIONS = 32  # as in the body's min_versions
_PAIR = re.compile(r"^\s*(?P<doc_id>[^=\s]+?)\s*(?:=\s*(?P<version>\d{1,19})|@\s*(?P<offset>\d{1,19}))\s*$")
_MIN_VERSIONS = TypeAdapter(list[MinVersion])


def parse_min_versions(header: str | None) -> list[MinVersion]:
    """``x-ragstream-min-version: handbook=1700000000000, faq=3, notes@1042`` (``@``: a server-ordered write's
    offset)."""
    if not header:
        return []
    parts = header.split(",", MAX_MIN_VERSIONS)
    if len(parts) > MAX_MIN_VERSIONS:
        raise ApiError(400, f"{MIN_VERSION_HEADER} names more than {MAX_MIN_VERSIONS} writes", "invalid_header",
                       MIN_VERSION_HEADER)
    pairs = [_PAIR.match(part) for part in parts if part.strip()]
    if not all(pairs):
        raise ApiError(400, f"{MIN_VERSION_HEADER} must be `doc_id=version` or `doc_id@offset`, comma-separated",
                       "invalid_header", MIN_VERSION_HEADER)
    try:
        return _MIN_VERSIONS.validate_python([{k: v for k, v in p.groupdict().items() if v is not None}
                                              for p in pairs])
    except ValidationError as error:
        raise ApiError(400, f"{MIN_VERSION_HEADER}: {error.errors()[0]['msg']}", "invalid_header",
                       MIN_VERSION_HEADER) from None


class DocumentService:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = IndexStore(settings.milvus, settings.models.embedder.dimension)
        self._producer: DocumentProducer | None = None
        self._waits = asyncio.Semaphore(settings.api.read_your_writes_waits)

    def _produce(self, event: DocumentEvent) -> DocumentAccepted:
        if self._producer is None:
            # a broker that is down answers the client within seconds (503 + Retry-After), not after a minute
            self._producer = DocumentProducer(self.settings.kafka, max_block_ms=PRODUCE_TIMEOUT_S * 1000)
        sent = self._producer.send(event).get(timeout=PRODUCE_TIMEOUT_S)
        return DocumentAccepted(doc_id=event.doc_id, version=event.version, op=event.op, topic=sent.topic,
                                partition=sent.partition, offset=sent.offset)

    async def upsert(self, tenant: str, body: DocumentUpsert) -> DocumentAccepted:
        try:
            event = DocumentEvent(op="upsert", tenant=tenant, doc_id=body.doc_id, title=body.title, text=body.text,
                                  metadata=body.metadata, version=body.version)
        except ValidationError as error:
            raise ApiError(400, error.errors()[0]["msg"], "invalid_document") from None
        return await asyncio.to_thread(self._produce, event)

    async def delete(self, tenant: str, doc_id: str, version: int | None) -> DocumentAccepted:
        event = DocumentEvent(op="delete", tenant=tenant, doc_id=doc_id, version=version)
        return await asyncio.to_thread(self._produce, event)

    async def status(self, tenant: str, doc_id: str) -> DocumentStatus:
        state = None
        if await asyncio.to_thread(self.store.client.has_collection, self.store.registry):
            state = await asyncio.to_thread(self.store.doc_state, tenant, doc_id)
        if state is None:
            raise ApiError(404, f"document {doc_id!r} is not in the index (yet)", "document_not_found", "doc_id")
        known = lambda value: value if value >= 0 else None  # noqa: E731  (-1: not recorded)
        return DocumentStatus(doc_id=doc_id, version=state.version, state=state.state, chunks=state.chunk_count,
                              event_time_ms=state.event_time_ms, indexed_time_ms=state.indexed_time_ms,
                              freshness_ms=state.indexed_time_ms - state.event_time_ms,
                              offset=known(state.source_offset), ignored_version=known(state.ignored_version),
                              ignored_offset=known(state.ignored_offset))

    async def wait_for(self, tenant: str, wanted: Sequence[MinVersion]) -> None:
        if not wanted:
            return
        if self._waits.locked():
            raise unavailable("too many requests are waiting for their writes on this replica; retry shortly",
                              self.settings.serve.retry_after_s)
        timeout = self.settings.api.read_your_writes_timeout_s
        async with self._waits:
            waited = await wait_for_versions(self.store, tenant, wanted, timeout)
        if waited.stale:
            raise ApiError(409, "; ".join(map(str, waited.stale)), "stale_version", "min_versions")
        if waited.missing:
            names = ", ".join(map(str, waited.missing))
            raise ApiError(504, f"not indexed within {timeout:g} s: {names}", "read_your_writes_timeout")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close()
        self.store.close()
