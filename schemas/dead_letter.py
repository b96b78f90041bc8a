"""Headers of a dead-letter record. The record's key and value are the original bytes, untouched, unless the value
is larger than the producer may send: then it is cut, and the headers give its original size and sha256."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

HEADER_PREFIX = "ragstream.dlq."


class FailureStage(StrEnum):
    DECODE = "decode"  # not UTF-8 or not JSON
    VALIDATE = "validate"  # JSON, but not a valid DocumentEvent
    ROUTE = "route"  # valid, but keyed or partitioned so that its document's order is not guaranteed
    CHUNK = "chunk"  # valid, but its text could not be turned into indexable chunks
    EMBED = "embed"  # the embedding model refused it
    INDEX = "index"  # Milvus refused its rows


class DeadLetterHeaders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str
    stage: FailureStage
    source_topic: str
    source_partition: int
    source_offset: int
    worker_id: str
    value_truncated_from: int | None = None  # the original value's size in bytes, when the copy was cut
    value_sha256: str | None = None  # of the original value, when the copy was cut

    def to_kafka(self) -> list[tuple[str, bytes]]:
        return [(HEADER_PREFIX + name, str(value).encode())
                for name, value in self.model_dump(mode="json", exclude_none=True).items()]

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]]) -> DeadLetterHeaders:
        fields = {k.removeprefix(HEADER_PREFIX): v.decode() for k, v in headers if k.startswith(HEADER_PREFIX)}
        return cls.model_validate(fields)
