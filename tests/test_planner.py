from __future__ import annotations

from ragstream.index.records import DocState
from schemas import DocumentEvent, Outcome
from workers.chunking import content_hash
from workers.planner import plan_batch


def up(doc="d", version=1, text="hello"):
    return DocumentEvent(op="upsert", tenant="t", doc_id=doc, version=version, text=text)


def state(event, kind="indexed"):
    return DocState(tenant="t", doc_id=event.doc_id, version=event.version, state=kind,
                    content_hash=content_hash(event), chunk_count=1, event_time_ms=0, indexed_time_ms=0)


def test_highest_version_wins_within_a_batch():
    plan = plan_batch([(0, up(version=1)), (1, up(version=3)), (2, up(version=2))], {})
    assert [(a.position, a.kind) for a in plan.actions] == [(1, "upsert")]
    assert {p: o for p, (o, _) in plan.settled.items()} == {0: Outcome.SUPERSEDED, 2: Outcome.SUPERSEDED}


def test_older_than_indexed_is_stale_and_equal_is_duplicate():
    indexed = up(version=5)
    plan = plan_batch([(0, up(version=4))], {"t/d": state(indexed)})
    assert plan.settled[0][0] is Outcome.IGNORED_STALE and not plan.actions
    plan = plan_batch([(0, indexed)], {"t/d": state(indexed)})
    assert plan.settled[0][0] is Outcome.DUPLICATE


def test_same_version_with_new_content_is_reapplied():
    plan = plan_batch([(0, up(version=5, text="changed"))], {"t/d": state(up(version=5))})
    assert [a.kind for a in plan.actions] == ["upsert"]


def test_tombstone_keeps_late_older_upserts_out():
    deleted = DocumentEvent(op="delete", tenant="t", doc_id="d", version=7)
    plan = plan_batch([(0, up(version=6)), (1, deleted)], {"t/d": state(deleted, "deleted")})
    assert plan.settled[0][0] is Outcome.IGNORED_STALE
    assert plan.settled[1][0] is Outcome.DUPLICATE
