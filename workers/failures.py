"""Why a batch failed: the infrastructure (retry the batch, commit nothing) or one record's data (isolate it and
dead-letter it, apply the rest).

Kafka gives at-least-once delivery, so retrying is always safe; what must never happen is retrying forever a record
that the index or a model will refuse every time. Three kinds: an outage the error names (unreachable, deadline,
overloaded) is always retried and never dead-letters anything; an error that names the record's content is a data
failure, isolated at once; anything else is retried until the poison time-out and then isolated like data.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from enum import StrEnum

from kafka.errors import KafkaError

from ragstream.schemas.dead_letter import FailureStage

# Fragments of sink and model messages that describe the record, never the service (found by sending the record).
_DATA_MESSAGES = (
    "exceeds 64-bit range", "integer exceeds", "out of range", "exceeds max length", "exceed max length",
    "length exceeds", "max_length", "invalid utf-8", "surrogate", "not json serializable", "type mismatch",
    "datatypenotmatch", "invalid input", "invalid argument", "invalid_argument", "too long", "too large",
)
# Messages that mean the service is unreachable or overloaded, whatever the exception class.
_INFRA_MESSAGES = (
    "unavailable", "connect", "connection", "deadline", "timed out", "timeout", "overload", "resource exhausted",
    "resource_exhausted", "too many", "shutting down", "not loaded", "released", "circuit", "quota",
    "rate limit", "deny to write", "memory",
)


class FailureKind(StrEnum):
    INFRA = "infrastructure"
    DATA = "data"
    UNKNOWN = "unknown"


class Fenced(Exception):
    """This worker may no longer own the batch's partitions: write nothing more, commit nothing."""


class StageFailure(Exception):
    """A write phase failed; ``stage`` names it so a dead letter can say where the record was refused."""

    def __init__(self, stage: FailureStage, error: BaseException) -> None:
        super().__init__(f"{stage.value}: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error

    @property
    def message(self) -> str:
        return f"{type(self.error).__name__}: {self.error}"


@contextmanager
def stage(name: FailureStage):
    try:
        yield
    except (StageFailure, Fenced):
        raise
    except Exception as error:
        raise StageFailure(name, error) from error


def classify(error: BaseException) -> FailureKind:
    """DATA only when the error is about the record's content, INFRA when it names an outage, else UNKNOWN."""
    cause = error.error if isinstance(error, StageFailure) else error
    if isinstance(cause, (ConnectionError, TimeoutError, Fenced, KafkaError)):  # a failed send included
        return FailureKind.INFRA
    if isinstance(cause, (UnicodeError, OverflowError)):
        return FailureKind.DATA
    # Data fragments first: a misread outage is caught by the health probe before anything is dead-lettered,
    # a misread poison record would be retried for ever.
    text = f"{type(cause).__name__} {cause}".lower()
    if any(fragment in text for fragment in _DATA_MESSAGES):
        return FailureKind.DATA
    if isinstance(cause, OSError) or any(fragment in text for fragment in _INFRA_MESSAGES):
        return FailureKind.INFRA
    if isinstance(cause, (TypeError, ValueError)) and isinstance(error, StageFailure):
        return FailureKind.DATA  # our own conversion of the record (orjson, numpy, protobuf) refused it
    return FailureKind.UNKNOWN


def unclassified_since(kind: FailureKind, since: float | None) -> float | None:
    """When unclassified failures began: an outage in between starts the clock again, so time spent in an outage
    never counts toward dead-lettering anything."""
    if kind is FailureKind.INFRA:
        return None
    if kind is FailureKind.UNKNOWN and since is None:
        return time.monotonic()
    return since


def describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:500]
