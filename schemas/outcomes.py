"""What the worker did with each event, published on ``ragstream.index-events`` so freshness is measurable."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Outcome(StrEnum):
    INDEXED = "indexed"  # the version's chunks are searchable and older chunks are gone
    DELETED = "deleted"  # no chunk of the document is searchable any more
    DUPLICATE = "duplicate"  # already applied (replay, retry or producer resend): nothing changed
    SUPERSEDED = "superseded"  # a newer event for the same document in the same batch won
    IGNORED_STALE = "ignored_stale"  # older than the indexed version: acknowledged and ignored
    DEAD_LETTERED = "dead_lettered"  # malformed: sent to the DLQ with the reason


class IndexEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schema_version: Literal[1] = 1
    outcome: Outcome
    op: Literal["upsert", "delete"] | None = Field(None, description="unset when the event could not be decoded")
    tenant: str | None = None
    doc_id: str | None = None
    version: int | None = None
    chunk_count: int = Field(0, ge=0, description="chunks of this version in the index after the event")
    event_time: datetime | None = None
    indexed_time: datetime
    freshness_ms: float | None = Field(None, description="indexed_time - event_time")
    reason: str | None = Field(None, description="why it was ignored or dead-lettered")
    source_topic: str
    source_partition: int
    source_offset: int
    trace_id: str | None = Field(None, description="the document's trace (producer → index), hex; unset untraced")
    worker_id: str
