from __future__ import annotations

from ragstream.core.index.records import DocState, LogMark
from ragstream.schemas import DocumentEvent, Outcome
from ragstream.workers.chunking import content_hash
from ragstream.workers.planner import plan_batch


def up(doc="d", version=1, text="hello"):
    return DocumentEvent(op="upsert", tenant="t", doc_id=doc, version=version, text=text)


def state(event, kind="indexed"):
    return DocState(tenant="t", doc_id=event.doc_id, version=event.version, state=kind,
                    content_hash=content_hash(event), chunk_count=1, event_time_ms=0, indexed_time_ms=0)


def test_highest_version_wins_within_a_batch():
    plan = plan_batch([(0, up(version=1)), (1, up(version=3)), (2, up(version=2))], {})
    assert [(a.position, a.kind) for a in plan.actions] == [(1, "upsert")]
    # folded in log order: version 1 was overtaken in the batch, version 2 came after version 3
    assert {p: o for p, (o, _) in plan.settled.items()} == {0: Outcome.SUPERSEDED, 2: Outcome.IGNORED_STALE}


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


def mark(offset, ts=None, partition=0):
    return LogMark(partition, offset, 1_000 + offset if ts is None else ts)


def down(doc="d", version=None):
    return DocumentEvent(op="delete", tenant="t", doc_id=doc, version=version)


def test_server_ordered_writes_follow_the_log_whatever_the_versions_before_them():
    faq = up(version=3)
    plan = plan_batch([(0, faq), (1, down()), (2, up(version=4, text="back"))], {},
                      {0: mark(10), 1: mark(11), 2: mark(12)})
    assert plan.versions == {0: 3, 1: 4, 2: 4}
    # the versionless delete came at 4; the explicit 4 after it is a later write of an equal version: it wins
    assert [(a.position, a.kind, a.event.version) for a in plan.actions] == [(2, "upsert", 4)]
    deleted = DocState(tenant="t", doc_id="d", version=9, state="deleted", content_hash="", chunk_count=0,
                       event_time_ms=0, indexed_time_ms=0).marked(mark(40))
    again = plan_batch([(0, up(version=None, text="again"))], {"t/d": deleted}, {0: mark(41)})
    assert [(a.kind, a.event.version) for a in again.actions] == [("upsert", 10)]
    assert again.marks["t/d"].offset == 41


def test_a_replayed_record_changes_nothing_even_when_server_ordered():
    indexed = state(up(version=5)).marked(mark(20))
    for offset in (19, 20):  # the record that made the state, and one before it
        plan = plan_batch([(0, down())], {"t/d": indexed}, {0: mark(offset)})
        assert plan.settled[0][0] is Outcome.DUPLICATE and not plan.actions and "registry is at offset 20" in \
            plan.settled[0][1]
    # the same offset on another partition, or a newer timestamp (a topic created again), is a new write
    assert plan_batch([(0, down())], {"t/d": indexed}, {0: mark(5, partition=1)}).actions
    restarted = plan_batch([(0, down())], {"t/d": indexed}, {0: mark(3, ts=10**6)})
    assert restarted.actions and restarted.marks["t/d"].offset == 3


def test_a_stale_write_is_marked_for_its_writer():
    indexed = state(up(version=5)).marked(mark(20))
    plan = plan_batch([(0, up(version=2))], {"t/d": indexed}, {0: mark(21)})
    assert plan.settled[0][0] is Outcome.IGNORED_STALE
    assert (plan.marks["t/d"].ignored_version, plan.marks["t/d"].ignored_offset, plan.marks["t/d"].offset) == \
        (2, 21, 21)
