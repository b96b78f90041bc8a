"""Rows of the two collections: chunks (searchable) and the per-document version registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal


def doc_key(tenant: str, doc_id: str) -> str:
    return f"{tenant}/{doc_id}"


def chunk_id(tenant: str, doc_id: str, version: int, chunk_no: int) -> str:
    """Deterministic, so a replayed or retried event overwrites its own chunks instead of adding copies."""
    return f"{tenant}/{doc_id}/{version}/{chunk_no}"


@dataclass(frozen=True)
class Chunk:
    tenant: str
    doc_id: str
    version: int
    chunk_no: int
    title: str
    text: str  # the passage shown and cited
    content: str  # what is embedded and BM25-indexed: document context + passage
    metadata: dict[str, Any]
    event_time_ms: int

    @property
    def id(self) -> str:
        return chunk_id(self.tenant, self.doc_id, self.version, self.chunk_no)


@dataclass
class DocState:
    """What the index holds for one document; a delete leaves a tombstone so late older events stay ignored."""

    tenant: str
    doc_id: str
    version: int
    state: Literal["indexed", "deleted"]
    content_hash: str
    chunk_count: int
    event_time_ms: int
    indexed_time_ms: int
    trace_id: str = ""

    @property
    def key(self) -> str:
        return doc_key(self.tenant, self.doc_id)

    def row(self) -> dict[str, Any]:
        return {"key": self.key, "placeholder": [0.0, 1.0], **asdict(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DocState:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})
