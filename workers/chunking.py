"""Document → chunks with llama-index's sentence-aware splitter; each chunk carries its document's title."""

from __future__ import annotations

import hashlib
import json

from llama_index.core.node_parser import SentenceSplitter

from ragstream.core.index.records import Chunk
from ragstream.core.index.schema import TEXT_MAX_BYTES
from ragstream.core.settings import ChunkingSettings
from ragstream.schemas.events import DocumentEvent


class ChunkingError(ValueError):
    """The event is valid but cannot become indexable chunks: a permanent failure, dead-lettered."""


def content_hash(event: DocumentEvent) -> str:
    """Identifies what a version indexes, so a replay of an applied version is recognised without re-embedding."""
    body = json.dumps([event.title, event.text, event.metadata], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def embedded_text(title: str, passage: str) -> str:
    # Document-aware passages (DAPR): the title gives a chunk the context its own sentences lack.
    return f"{title}\n\n{passage}" if title else passage


class Chunker:
    def __init__(self, settings: ChunkingSettings) -> None:
        self._splitter = SentenceSplitter(chunk_size=settings.chunk_size, chunk_overlap=settings.chunk_overlap)

    def split(self, event: DocumentEvent) -> list[Chunk]:
        passages = [p for p in self._splitter.split_text(event.text) if p.strip()]
        if not passages:
            raise ChunkingError("text has no indexable content after splitting")
        chunks = []
        for number, passage in enumerate(passages):
            size = len(passage.encode())
            if size > TEXT_MAX_BYTES:
                raise ChunkingError(f"chunk {number} is {size} bytes; the limit is {TEXT_MAX_BYTES} "
                                    "(text without sentence or word breaks?)")
            chunks.append(Chunk(
                tenant=event.tenant, doc_id=event.doc_id, version=event.version, chunk_no=number,
                title=event.title, text=passage, content=embedded_text(event.title, passage),
                metadata=dict(event.metadata), event_time_ms=event.event_time_ms,
            ))
        return chunks
