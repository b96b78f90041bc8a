"""Rows of the two collections: chunks (searchable) and the per-document version registry."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
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


@dataclass(frozen=True)
class LogMark:
    """Where a document stands in the log: the last record processed for it and the newest record timestamp seen
    (as a source: one record's own position); plus the newest write ignored as stale, so its writer can be told."""

    partition: int
    offset: int
    timestamp_ms: int
    ignored_version: int = -1
    ignored_offset: int = -1

    def after(self, previous: LogMark | None) -> LogMark:
        """The mark once this record (a source) was processed after ``previous``."""
        restarted = previous is not None and self.offset <= previous.offset \
            and self.timestamp_ms > previous.timestamp_ms
        if previous is None or previous.partition != self.partition or restarted:
            return LogMark(self.partition, self.offset, self.timestamp_ms)  # first record, or a re-created topic
        return replace(previous, offset=max(self.offset, previous.offset),
                       timestamp_ms=max(self.timestamp_ms, previous.timestamp_ms))

    def ignoring(self, version: int, source: LogMark) -> LogMark:
        return replace(self, ignored_version=version, ignored_offset=source.offset)


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
    # the LogMark, flattened for the registry row (-1: none yet)
    source_partition: int = -1
    source_offset: int = -1
    source_max_ts: int = -1
    ignored_version: int = -1
    ignored_offset: int = -1

    @property
    def key(self) -> str:
        return doc_key(self.tenant, self.doc_id)

    @property
    def row_id(self) -> str:
        """One registry row per log position of a document: a state never overwrites another, so a late write of a
        worker that lost its partition adds an older row instead of replacing the new owner's."""
        return f"{self.key}#{self.source_partition}:{self.source_max_ts}:{self.source_offset}"

    def order(self) -> tuple[int, int, int, int]:
        """Which of a document's rows is its state: the one that covers more of the log. Log marks never go back
        (offsets and the newest timestamp only grow; a re-created topic starts a newer timestamp), and neither
        does the version along the log; rows without a mark (never written by a consumer) come first."""
        return self.source_max_ts, self.source_offset, self.version, self.indexed_time_ms

    def mark(self) -> LogMark | None:
        if self.source_partition < 0:
            return None
        return LogMark(self.source_partition, self.source_offset, self.source_max_ts, self.ignored_version,
                       self.ignored_offset)

    def marked(self, mark: LogMark | None) -> DocState:
        if mark is None:
            return self
        return replace(self, source_partition=mark.partition, source_offset=mark.offset,
                       source_max_ts=mark.timestamp_ms, ignored_version=mark.ignored_version,
                       ignored_offset=mark.ignored_offset)

    def row(self) -> dict[str, Any]:
        return {"id": self.row_id, "key": self.key, "placeholder": [0.0, 1.0], **asdict(self)}

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DocState:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})
