from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragstream.schemas import DeadLetterHeaders, DocumentEvent, FailureStage
from ragstream.schemas.events import MAX_TEXT_CHARS
from ragstream.schemas.export import stale


def upsert(**fields):
    return DocumentEvent(**{"op": "upsert", "tenant": "acme", "doc_id": "doc-1", "version": 1, "text": "hi", **fields})


def test_committed_json_schemas_are_current():
    assert stale() == [], "run `make schemas` and commit schemas/json"


def test_round_trip_and_key():
    event = upsert(metadata={"lang": "en", "tags": ["a", "b"]})
    assert DocumentEvent.model_validate_json(event.to_bytes()) == event
    assert event.key == "acme/doc-1"


@pytest.mark.parametrize("fields", [
    {"tenant": "Acme"}, {"tenant": "a/b"}, {"doc_id": "../x"}, {"doc_id": 'a"b'}, {"doc_id": ""},
    {"version": -1}, {"version": 2**63}, {"text": ""}, {"text": "x" * (MAX_TEXT_CHARS + 1)}, {"text": "a\x00b"},
    {"metadata": {"bad key": 1}}, {"metadata": {f"k{i}": "v" * 300 for i in range(30)}},
    {"unknown": 1}, {"event_time": "2026-01-01T00:00:00"},
])
def test_limits_are_enforced(fields):
    with pytest.raises(ValidationError):
        upsert(**fields)


def test_delete_carries_no_text():
    DocumentEvent(op="delete", tenant="acme", doc_id="d", version=3)
    with pytest.raises(ValidationError):
        DocumentEvent(op="delete", tenant="acme", doc_id="d", version=3, text="x")


def test_dead_letter_headers_round_trip():
    headers = DeadLetterHeaders(reason="bad", stage=FailureStage.DECODE, source_topic="t", source_partition=1,
                                source_offset=5, worker_id="w")
    assert DeadLetterHeaders.from_kafka([("traceparent", b"x"), *headers.to_kafka()]) == headers
