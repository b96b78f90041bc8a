"""Headers of a dead-letter record. The record's value and key are the original bytes, untouched."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict

HEADER_PREFIX = "ragstream.dlq."


class FailureStage(StrEnum):
    DECODE = "decode"  # not UTF-8 or not JSON
    VALIDATE = "validate"  # JSON, but not a valid DocumentEvent
    CHUNK = "chunk"  # valid, but its text could not be turned into indexable chunks


class DeadLetterHeaders(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str
    stage: FailureStage
    source_topic: str
    source_partition: int
    source_offset: int
    worker_id: str

    def to_kafka(self) -> list[tuple[str, bytes]]:
        return [(HEADER_PREFIX + name, str(value).encode()) for name, value in self.model_dump(mode="json").items()]

    @classmethod
    def from_kafka(cls, headers: list[tuple[str, bytes]]) -> DeadLetterHeaders:
        fields = {k.removeprefix(HEADER_PREFIX): v.decode() for k, v in headers if k.startswith(HEADER_PREFIX)}
        return cls.model_validate(fields)
