"""The bad-input corpus (tests/data/bad_events) through the real broker and worker: every record reaches the
dead-letter topic with its precise reason, the documented non-errors are handled, and the worker never restarts."""

from __future__ import annotations

import time

import pytest

from ragstream.core.producer import DocumentProducer
from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.dead_letter import DeadLetterHeaders
from ragstream.schemas.events import DocumentEvent
from ragstream.workers.actor import WorkerPool
from testkit.streams import bad_events, wait_for_outcomes

pytestmark = pytest.mark.stack


def test_every_bad_record_is_dead_lettered_with_its_reason_and_the_worker_keeps_going(isolated, ray_runtime):
    corpus = bad_events()
    unknown_delete = DocumentEvent(op="delete", tenant="acme", doc_id="never-seen", version=3)
    good = DocumentEvent(op="upsert", tenant="acme", doc_id="after-the-bad", version=1,
                         text="A good document produced after every bad one.")
    pool = WorkerPool(isolated).start()
    before = pool.stats()[0]
    reader = TopicReader(isolated.kafka, isolated.kafka.index_events_topic)
    dlq = TopicReader(isolated.kafka, isolated.kafka.dlq_topic)
    try:
        with DocumentProducer(isolated.kafka) as producer:
            futures = [producer.send_raw(value, key=b"same-partition") for _, value, _ in corpus]
            futures += [producer.send(unknown_delete), producer.send(good)]
            producer.flush()
            sources = [(m.partition, m.offset) for m in (f.get(30) for f in futures)]
        outcomes = {(o["source_partition"], o["source_offset"]): o for o in wait_for_outcomes(reader, sources)}
        deadline = time.monotonic() + 30
        while len(dlq.records) < len(corpus) and time.monotonic() < deadline:
            dlq.poll()
        after = pool.stats()[0]
    finally:
        reader.close()
        dlq.close()
        pool.stop()

    for (case, _, _), source in zip(corpus, sources, strict=False):
        assert outcomes[source]["outcome"] == "dead_lettered", case
    # Documented: a delete for a document never indexed is a no-op success (it may have been indexed elsewhere
    # and deleted already); the next good event is indexed as usual.
    assert outcomes[sources[-2]]["outcome"] == "deleted"
    assert outcomes[sources[-1]]["outcome"] == "indexed"
    reasons = {}
    for record in dlq.records:
        headers = DeadLetterHeaders.from_kafka(record.headers)
        assert headers.source_topic == isolated.kafka.documents_topic
        reasons[(headers.source_partition, headers.source_offset)] = (headers.reason, record.value)
    assert len(reasons) == len(corpus)
    for (case, value, reason), source in zip(corpus, sources, strict=False):
        dead_reason, dead_value = reasons[source]
        assert reason in dead_reason, (case, dead_reason)
        assert dead_value == value, f"{case}: the DLQ must keep the original bytes"
    assert after["pid"] == before["pid"] and after["loop_restarts"] == 0, "a bad record restarted the worker"
    assert after["records"] == len(sources)
