"""The streaming spine over the real broker, Milvus Lite server, Ray actors and the real embedder."""

from __future__ import annotations

import os
import signal
import time

import pytest
import ray

from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.dead_letter import DeadLetterHeaders
from ragstream.workers.actor import WorkerPool
from testkit.streams import (
    BAD_EVENTS,
    assert_index_matches,
    mixed_stream,
    produce,
    reset_group_to_start,
    wait_for_outcomes,
)

pytestmark = pytest.mark.stack


def test_mixed_stream_is_indexed_exactly_and_bad_events_are_dead_lettered(isolated, ray_runtime):
    stream = mixed_stream(seed=1)
    assert len(stream.items) >= 500
    pool = WorkerPool(isolated).start()
    reader = TopicReader(isolated.kafka, isolated.kafka.index_events_topic)
    try:
        sources = produce(isolated, stream)
        outcomes = wait_for_outcomes(reader, sources)
    finally:
        reader.close()
        pool.stop()

    assert_index_matches(isolated, stream)
    counts = {}
    for o in outcomes:
        counts[o["outcome"]] = counts.get(o["outcome"], 0) + 1
    assert counts["dead_lettered"] == len(stream.bad)
    assert counts.get("ignored_stale", 0) + counts.get("superseded", 0) > 0
    assert counts.get("duplicate", 0) > 0 and counts["deleted"] > 0
    for o in outcomes:
        if o["outcome"] in ("indexed", "deleted"):
            assert o["freshness_ms"] >= 0 and o["indexed_time"] >= o["event_time"]

    dlq = TopicReader(isolated.kafka, isolated.kafka.dlq_topic)
    deadline = time.monotonic() + 30
    while len(dlq.records) < len(stream.bad) and time.monotonic() < deadline:
        dlq.poll()
    dlq.close()
    assert sorted(r.value for r in dlq.records) == sorted(stream.bad)
    reasons = {value: reason for value, reason in BAD_EVENTS}
    for record in dlq.records:
        headers = DeadLetterHeaders.from_kafka(record.headers)
        assert reasons[record.value] in headers.reason, (headers.reason, record.value[:80])
        assert headers.source_topic == isolated.kafka.documents_topic and headers.source_offset >= 0


def test_worker_killed_mid_stream_then_full_replay_leaves_index_identical(isolated, ray_runtime):
    stream = mixed_stream(seed=2)
    pool = WorkerPool(isolated).start()
    reader = TopicReader(isolated.kafka, isolated.kafka.index_events_topic)
    try:
        sources = produce(isolated, stream)
        worker = pool.actors[0]
        deadline = time.monotonic() + 120
        while ray.get(worker.stats.remote()).get("records", 0) < len(sources) // 4:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        pid = ray.get(worker.stats.remote())["pid"]
        os.kill(pid, signal.SIGKILL)  # mid-stream, almost always mid-batch: the embedder dominates
        wait_for_outcomes(reader, sources)
        assert ray.get(worker.stats.remote())["pid"] != pid, "Ray should have started a new worker"
        assert_index_matches(isolated, stream)

        pool.stop()
        reset_group_to_start(isolated)
        pool = WorkerPool(isolated).start()
        outcomes = wait_for_outcomes(reader, sources, times=2)
        assert_index_matches(isolated, stream)
        replayed = outcomes[-len(sources):]  # the replay adds exactly one outcome per record
        assert {o["outcome"] for o in replayed} <= {"duplicate", "superseded", "ignored_stale", "dead_lettered"}
    finally:
        reader.close()
        pool.stop()


def test_two_workers_share_partitions_across_a_rebalance(isolated, ray_runtime):
    assert isolated.kafka.partitions == 4
    stream = mixed_stream(seed=3)
    pool = WorkerPool(isolated).start()
    reader = TopicReader(isolated.kafka, isolated.kafka.index_events_topic)
    try:
        sources = produce(isolated, stream)
        time.sleep(1.0)
        pool.scale(2, wait_ready=False)  # the second consumer joins mid-stream: the group rebalances
        outcomes = wait_for_outcomes(reader, sources)
        stats = pool.stats()
    finally:
        reader.close()
        pool.stop()
    assert_index_matches(isolated, stream)
    assert all(s.get("records", 0) > 0 for s in stats), stats
    applied = [(o["source_partition"], o["source_offset"]) for o in outcomes if o["outcome"] in ("indexed", "deleted")]
    assert len(applied) == len(set(applied)), "an event was applied twice"


def test_a_worker_ray_cannot_place_fails_fast_with_the_reason_and_is_removed(isolated, ray_runtime):
    greedy = isolated.model_copy(update={"worker": isolated.worker.model_copy(update={"num_cpus": 64})})
    pool = WorkerPool(greedy)
    with pytest.raises(RuntimeError, match="each reserves 64 CPU"):
        pool.scale(1, timeout_s=3)
    assert len(pool) == 0
    pool.stop()  # nothing left to stop: returns at once
