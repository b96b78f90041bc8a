from __future__ import annotations

import pytest

from ragstream.schemas import DocumentEvent, FailureStage
from ragstream.workers.codec import Rejected, decode
from testkit.streams import BAD_EVENTS


@pytest.mark.parametrize(("value", "reason"), BAD_EVENTS, ids=[r for _, r in BAD_EVENTS])
def test_every_bad_event_gets_a_precise_reason(value, reason):
    result = decode(value)
    assert isinstance(result, Rejected)
    assert reason in result.reason
    assert len(result.reason) <= 1000


def test_decode_stage_is_distinguished_from_validation():
    assert decode(b"\xff").stage is FailureStage.DECODE
    assert decode(b"{}").stage is FailureStage.VALIDATE


def test_valid_event_decodes():
    event = DocumentEvent(op="upsert", tenant="t", doc_id="d", version=2, text="hello")
    assert decode(event.to_bytes()) == event
