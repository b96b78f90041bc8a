"""Fencing, tried the way it breaks: the worker that owns a document's partition is frozen (SIGSTOP) in the middle
of a batch for longer than the session timeout; the other worker takes the partition over and applies newer
versions and deletes; then the frozen worker is thawed (SIGCONT). Its late writes must change nothing, and a reader
polling the index throughout must never see a document go back to an older version or a deleted one reappear."""

from __future__ import annotations

import os
import signal
import time

import pytest
import ray

from ragstream.core.index.store import IndexStore
from ragstream.core.producer import DocumentProducer
from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.events import DocumentEvent
from ragstream.workers.actor import WorkerPool
from ragstream.workers.routing import default_partition
from testkit.monotonic import MonotonicReader
from testkit.streams import Stream, assert_index_matches, paragraph, wait_for_outcomes

pytestmark = pytest.mark.stack


def actor_stats(actor, timeout_s: float = 10) -> dict:
    return ray.get(actor.stats.remote(), timeout=timeout_s)


def test_a_worker_frozen_past_the_session_timeout_cannot_write_over_the_new_owner(isolated):
    settings = isolated.model_copy(update={"worker": isolated.worker.model_copy(update={"replicas": 2})})
    pool = WorkerPool(settings).start()
    reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
    try:
        deadline = time.monotonic() + 60
        while not all(s["assigned"] for s in pool.stats()) and time.monotonic() < deadline:
            time.sleep(0.5)
        owner, other = pool.actors
        first = actor_stats(owner)
        owned = {int(name.rsplit(":", 1)[1]) for name in first["assigned"]}
        assert owned, "the first worker has no partition"
        docs = [f"frozen-{n}" for n in range(400)
                if default_partition(f"acme/frozen-{n}".encode(), settings.kafka.partitions) in owned][:16]
        import random

        rng = random.Random(3)
        v1 = [DocumentEvent(op="upsert", tenant="acme", doc_id=d, version=1,
                            text="\n\n".join(paragraph(rng, 180) for _ in range(12))) for d in docs]
        v2 = [DocumentEvent(op="upsert", tenant="acme", doc_id=d, version=2, text=f"Version two of {d}.")
              for d in docs[::2]]
        gone = [DocumentEvent(op="delete", tenant="acme", doc_id=d, version=2) for d in docs[1::2]]
        with MonotonicReader(settings, "acme", docs, pause_s=(0.05, 0.2)) as watcher, \
                DocumentProducer(settings.kafka) as producer:
            sources = [(m.partition, m.offset) for m in (producer.send(e).get(30) for e in v1)]
            time.sleep(1.0)  # the owner has polled the batch and is embedding it
            os.kill(first["pid"], signal.SIGSTOP)
            try:
                deadline = time.monotonic() + 90
                while len(actor_stats(other)["assigned"]) < settings.kafka.partitions:
                    assert time.monotonic() < deadline, "the other worker never took the partitions over"
                    time.sleep(0.5)
                later = [(m.partition, m.offset) for m in (producer.send(e).get(30) for e in v2 + gone)]
                wait_for_outcomes(reader, sources + later, timeout_s=180)
                applied_before_thaw = watcher.reads
            finally:
                os.kill(first["pid"], signal.SIGCONT)
            # the thawed worker wakes up mid-batch: give it time to try its late writes and rejoin the group
            deadline = time.monotonic() + 60
            while "lost its partitions" not in (actor_stats(owner, 30).get("last_error") or ""):
                assert time.monotonic() < deadline, actor_stats(owner, 30)
                time.sleep(0.5)
            time.sleep(5)
        thawed = actor_stats(owner)
        assert thawed["loop_restarts"] == 0 and thawed["pid"] == first["pid"], thawed
        assert watcher.reads > applied_before_thaw > 0
        assert watcher.violations == [], watcher.violations[:5]
        assert_index_matches(settings, Stream(items=v1 + v2 + gone))
        store = IndexStore(settings.milvus, settings.models.embedder.dimension)
        try:
            states = store.doc_states(f"acme/{d}" for d in docs)
        finally:
            store.close()
        assert {s.doc_id: (s.version, s.state) for s in states.values()} == \
            {**{e.doc_id: (2, "indexed") for e in v2}, **{e.doc_id: (2, "deleted") for e in gone}}
    finally:
        reader.close()
        pool.stop()
