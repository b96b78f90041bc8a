"""Bytes → :class:`DocumentEvent`, or the precise reason the record must go to the dead-letter topic."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pydantic import ValidationError

from ragstream.schemas.dead_letter import FailureStage
from ragstream.schemas.events import SCHEMA_VERSION, DocumentEvent

MAX_REASON_CHARS = 1_000


@dataclass(frozen=True)
class Rejected:
    stage: FailureStage
    reason: str


def _describe(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False, include_input=False):
        where = ".".join(str(p) for p in item["loc"]) or "event"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)[:MAX_REASON_CHARS]


def decode(value: bytes | None) -> DocumentEvent | Rejected:
    if not value:
        return Rejected(FailureStage.DECODE, "empty record value")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as error:
        return Rejected(FailureStage.DECODE, f"value is not UTF-8 (byte {error.start}: {error.reason})")
    try:
        payload = json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno} column {error.colno}"
        return Rejected(FailureStage.DECODE, f"value is not JSON ({error.msg} at {where})")
    except RecursionError:
        return Rejected(FailureStage.DECODE, "value is JSON nested too deeply to decode")
    except ValueError as error:  # e.g. an integer literal beyond Python's digit limit
        return Rejected(FailureStage.DECODE, f"value is not decodable JSON ({str(error)[:200]})")
    if not isinstance(payload, dict):
        return Rejected(FailureStage.VALIDATE, f"expected a JSON object, got {type(payload).__name__}")
    version = payload.get("schema_version", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        return Rejected(FailureStage.VALIDATE,
                        f"unsupported schema_version {str(version)[:20]!r}: this worker reads {SCHEMA_VERSION}")
    try:
        return DocumentEvent.model_validate(payload)
    except ValidationError as error:
        return Rejected(FailureStage.VALIDATE, _describe(error))
