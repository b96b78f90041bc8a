"""The document event that producers put on ``ragstream.documents``.

Limits are part of the contract: anything outside them is dead-lettered by the worker with the reason, so a
producer learns about it instead of the index silently truncating.
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator, model_validator

SCHEMA_VERSION = 1
MAX_TEXT_CHARS = 500_000
MAX_TITLE_CHARS = 512
MAX_METADATA_BYTES = 8_192
MAX_METADATA_KEYS = 32
MAX_VERSION = 2**53 - 1  # exact in JSON numbers and in Milvus INT64
# Milvus' JSON field stores signed 64-bit integers and finite doubles only: anything else fails the row on every
# retry, so it is refused here, where the producer still gets the reason.
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

# Ids end up in chunk ids and in Milvus filter expressions: no quotes, slashes, spaces or control characters.
TenantId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
DocId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}$")]
MetadataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]

MetadataScalar = str | int | float | bool
MetadataValue = MetadataScalar | list[MetadataScalar]


def _storable(key: str, value: object) -> None:
    if isinstance(value, bool):
        return
    if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"metadata {key!r}: integer {str(value)[:40]} is outside the signed 64-bit range Milvus "
                         f"stores ({INT64_MIN}..{INT64_MAX}); send it as a string")
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(f"metadata {key!r}: lone UTF-16 surrogate at character {error.start} "
                             "(not valid Unicode)") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"metadata {key!r}: {value} is not a finite number (JSON and Milvus have no NaN/Infinity)")


def storable_metadata(value: object) -> object:
    """Checked before type coercion, so an out-of-range integer is refused instead of silently becoming a float."""
    if isinstance(value, dict):
        for key, item in value.items():
            for scalar in item if isinstance(item, list) else [item]:
                _storable(str(key), scalar)
    return value


Metadata = Annotated[dict[MetadataKey, MetadataValue], BeforeValidator(storable_metadata)]


def utc_now() -> datetime:
    return datetime.now(UTC)


class DocumentEvent(BaseModel):
    """An upsert carries the whole new text of ``doc_id`` at ``version``; a delete removes every version up to it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    op: Literal["upsert", "delete"]
    tenant: TenantId
    doc_id: DocId
    version: int | None = Field(None, ge=0, le=MAX_VERSION, description="monotonic per (tenant, doc_id); older "
                                "events are ignored. Omitted: server-ordered, applied at one more than the version "
                                "indexed when the worker reaches it in the log (the order the broker accepted it)")
    title: str = Field("", max_length=MAX_TITLE_CHARS)
    text: str = Field("", max_length=MAX_TEXT_CHARS)
    metadata: Metadata = Field(default_factory=dict, max_length=MAX_METADATA_KEYS)
    event_time: datetime = Field(default_factory=utc_now, description="when the producer emitted the change")

    @field_validator("title", "text")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("metadata")
    @classmethod
    def _metadata_size(cls, value: dict) -> dict:
        size = len(json.dumps(value, ensure_ascii=False).encode())
        if size > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA_BYTES}")
        return value

    @field_validator("event_time")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("event_time needs a timezone (use UTC, e.g. 2026-01-01T00:00:00Z)")
        return value

    @model_validator(mode="after")
    def _text_matches_op(self) -> DocumentEvent:
        if self.op == "upsert" and not self.text.strip():
            raise ValueError("an upsert needs non-empty text")
        if self.op == "delete" and self.text:
            raise ValueError("a delete carries no text")
        return self

    @property
    def key(self) -> str:
        """Kafka record key: all versions of a document land on one partition, in order."""
        return f"{self.tenant}/{self.doc_id}"

    @property
    def event_time_ms(self) -> int:
        return int(self.event_time.timestamp() * 1000)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()
