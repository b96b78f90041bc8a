"""Poison, oversize and outages through the real broker, Milvus Lite server and Triton embedder, with the ingest
loop in this process (so the embedder and the store can be wrapped to refuse marked records the way a model guard
or a producer without our schema would). Every record gets an outcome, exactly the poison is dead-lettered with its
stage and reason, the index equals the log's oracle, and no record holds the stream back past the poison time-out.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter

import pytest
from kafka.structs import TopicPartition

from ragstream.core import kafka_clients
from ragstream.core.models.factory import BlockingModels
from ragstream.core.topic_reader import TopicReader
from ragstream.infra.local.milvus_server import MilvusLiteServer
from ragstream.workers.routing import default_partition
from testkit.poison import (
    EMBED_MARK,
    INDEX_MARK,
    MYSTERY_MARK,
    GuardedEmbedder,
    Latin1Name,
    LoopThread,
    RawMetadataStore,
    dead_letters,
    produce_all,
    raw,
    settled,
    upsert,
)
from testkit.streams import Stream, assert_index_matches, reset_group_to_start, wait_for_outcomes

pytestmark = pytest.mark.stack

POISON_TIMEOUT_S = 3.0


@pytest.fixture
def poison_settings(isolated):
    worker = isolated.worker.model_copy(update={"poison_timeout_s": POISON_TIMEOUT_S, "retry_initial_s": 0.1,
                                                "retry_max_s": 1.0, "max_chunks_per_document": 12})
    return isolated.model_copy(update={"worker": worker})



def test_a_stream_with_a_dozen_kinds_of_poison_indexes_the_rest_and_dead_letters_exactly_the_poison(
        poison_settings, monkeypatch):
    settings = poison_settings
    monkeypatch.setattr("ragstream.workers.ingest_loop.IndexStore", RawMetadataStore)
    partitions = settings.kafka.partitions
    good = [upsert(f"doc-{n}", tenant=("acme", "globex")[n % 2]) for n in range(24)]
    odd_but_valid = [
        upsert("unicode", text="Émoji 😀, right-to-left עברית, zero\u200bwidth, \u2028line separator, \x07bell."),
        upsert("edges", metadata={"max": 2**63 - 1, "min": -(2**63), "tiny": 5e-324, "nul": "a\x00b"}),
        upsert("doc-1", version=2, tenant="globex", text="A second version of doc-1."),
    ]
    misrouted = upsert("misrouted")
    wrong_partition = upsert("wrong-partition")
    right = default_partition(wrong_partition.key.encode(), partitions)
    bad_header = upsert("bad-header")
    long_text = " ".join(f"Sentence {n} of a document that is far too long for the chunk cap." for n in range(900))
    poison = {  # label → (item to produce, stage, reason fragment)
        "int 2**64": ((raw("sink_00.json"), b"acme/poison"), "validate", "outside the signed 64-bit range"),
        "int 2**63": ((raw("sink_01.json"), b"acme/poison"), "validate", "outside the signed 64-bit range"),
        "int below int64": ((raw("sink_02.json"), b"acme/poison"), "validate", "outside the signed 64-bit range"),
        "NaN": ((raw("sink_03.json"), b"acme/poison"), "validate", "not a finite number"),
        "-Infinity": ((raw("sink_04.json"), b"acme/poison"), "validate", "not a finite number"),
        "surrogate text": ((raw("sink_05.json"), b"acme/poison"), "validate", "unicode string"),
        "surrogate metadata": ((raw("sink_07.json"), b"acme/poison"), "validate", "lone UTF-16 surrogate"),
        "wrong key": ((misrouted.to_bytes(), b"acme/someone-else"), "route", "murmur2_random"),
        "wrong partition": ((wrong_partition, wrong_partition.key.encode(), (right + 1) % partitions), "route",
                            f"partition {right} of {partitions}"),
        "header name not UTF-8": ((bad_header, bad_header.key.encode(), None, [(Latin1Name("größe"), b"1")]),
                                  "decode", "cannot parse this record"),
        "too many chunks": (upsert("huge", text=long_text), "chunk", "the limit is 12"),
        "model guard": (upsert("doc-2", version=2, text=f"A new version the guard refuses: {EMBED_MARK}."),
                        "embed", "input rejected by the model's guard"),
        "Milvus refuses": (upsert("index-poison", text=f"Milvus refuses this row: {INDEX_MARK}."), "index",
                           "Integer exceeds 64-bit range"),
        "unclassified": (upsert("mystery", tenant="globex", text=f"Fails every time: {MYSTERY_MARK}."), "embed",
                         "kept failing while Milvus and the embedder were healthy"),
    }
    items, labels = [], []
    for n, event in enumerate(good + odd_but_valid):
        items.append(event)
        labels.append(None)
        if n % 2 == 0 and len(labels) - labels.count(None) < len(poison):
            label = list(poison)[len(labels) - labels.count(None)]
            items.append(poison[label][0])
            labels.append(label)
    for label in list(poison)[len(labels) - labels.count(None):]:
        items.append(poison[label][0])
        labels.append(label)
    assert sorted(label for label in labels if label) == sorted(poison)

    started = time.monotonic()
    with LoopThread(settings, GuardedEmbedder(BlockingModels(settings.models))) as loop:
        sources = produce_all(settings, items)
        reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
        try:
            outcomes = {(o["source_partition"], o["source_offset"]): o
                        for o in wait_for_outcomes(reader, sources, timeout_s=120)}
        finally:
            reader.close()
        elapsed = time.monotonic() - started
        stats = settled(loop)
    dead = dead_letters(settings, len(poison))

    poisoned = {source: label for source, label in zip(sources, labels, strict=True) if label}
    assert set(dead) == set(poisoned), "the dead-letter topic must hold exactly the poison"
    for source, label in poisoned.items():
        _, stage, fragment = poison[label]
        headers, _ = dead[source]
        assert outcomes[source]["outcome"] == "dead_lettered", label
        assert headers.stage.value == stage and fragment in headers.reason, (label, headers.reason)
    for source, label in zip(sources, labels, strict=True):
        if label is None:  # "duplicate": applied by an attempt that a poison record then rewound (not committed);
            # "superseded": doc-1's second version came in the same batch
            assert outcomes[source]["outcome"] in ("indexed", "duplicate", "superseded"), outcomes[source]
    # the index: every good event, none of the poison (doc-2 keeps version 1: its refused version 2 changed nothing)
    assert_index_matches(settings, Stream(items=good + odd_but_valid))
    # the stall: only the unclassified record waited for the time-out, once; nothing else held the stream back
    stall_s = max(o["freshness_ms"] for o in outcomes.values() if o["freshness_ms"] is not None) / 1000
    print(f"[reliability] poison: {len(poisoned)} poison of {len(sources)} records, longest wait {stall_s:.1f} s, "
          f"{stats['retries']} batch retries, {elapsed:.1f} s in all")
    assert stall_s < POISON_TIMEOUT_S + 20, stall_s
    assert elapsed < POISON_TIMEOUT_S + 60, elapsed
    assert stats["retries"] <= 10, stats
    assert all(entry["failure"] is None for entry in stats["partitions"].values()), stats["partitions"]


@pytest.mark.parametrize("outage", ["stopped", "frozen"])
def test_milvus_down_or_hung_longer_than_the_poison_time_out_dead_letters_nothing(poison_settings, tmp_path, outage):
    """Frozen: SIGSTOP, so every call hangs (the port still accepts connections) until its deadline."""
    server = MilvusLiteServer(tmp_path / "milvus", tmp_path).start()
    settings = poison_settings.model_copy(update={"milvus": poison_settings.milvus.model_copy(
        update={"uri": server.uri, "call_timeout_s": 2.0})})
    down, up = (server.stop, server.start) if outage == "stopped" else (
        lambda: os.kill(server.pid, signal.SIGSTOP), lambda: os.kill(server.pid, signal.SIGCONT))
    events = [upsert(f"outage-{n}", tenant=("acme", "globex")[n % 2]) for n in range(30)]
    try:
        with LoopThread(settings, BlockingModels(settings.models)) as loop:
            first = produce_all(settings, events[:10])
            reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
            wait_for_outcomes(reader, first, timeout_s=60)
            down()
            rest = produce_all(settings, events[10:])
            time.sleep(3 * POISON_TIMEOUT_S)  # every batch fails: Milvus is gone, the time-out long passed
            retries_while_down = loop.stats.retries
            failing = [e["failure"] for e in loop.stats.snapshot()["partitions"].values() if e["failure"]]
            up()
            outcomes = wait_for_outcomes(reader, first + rest, timeout_s=120)
            reader.close()
        assert retries_while_down > 0 and failing, "the outage must be visible per partition"
        if outage == "frozen":
            assert any("deadline" in reason.lower() for reason in failing), failing
        assert {o["outcome"] for o in outcomes} == {"indexed"}
        assert dead_letters(settings, 0, timeout_s=3) == {}
        assert_index_matches(settings, Stream(items=events))
    finally:
        if outage == "frozen":
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


def test_six_megabyte_documents_with_8k_metadata_index_or_dead_letter_and_replay_the_same(isolated):
    worker = isolated.worker.model_copy(update={"max_chunks_per_document": 600})
    settings = isolated.model_copy(update={"worker": worker})
    metadata = {f"k{n}": "m" * 240 for n in range(32)}  # ~8 KiB of JSON, copied into every chunk
    assert 7_500 < len(json.dumps(metadata)) <= 8_192
    word = "€€ĥ€€é€€ł€€"  # two and three bytes a character: 1.2 MB of UTF-8 within the 500,000-character limit
    big = " ".join(f"{word}{n % 97}." for n in range(70_000))[:499_000]
    medium = " ".join(f"Paragraph {n} about the ocean and a library." for n in range(2_000))
    events = [upsert(f"big-{n}", text=big + f" {n}", metadata=metadata) for n in range(5)]
    events.insert(2, upsert("medium", text=medium, metadata=metadata))
    assert all(len(e.to_bytes()) > 1_100_000 for e in events if e.doc_id.startswith("big"))
    with LoopThread(settings, BlockingModels(settings.models)) as loop:
        sources = produce_all(settings, events)
        reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
        outcomes = {(o["source_partition"], o["source_offset"]): o
                    for o in wait_for_outcomes(reader, sources, timeout_s=300)}
        stats = loop.stats.snapshot()
    by_doc = {e.doc_id: outcomes[s] for e, s in zip(events, sources, strict=True)}
    assert by_doc["medium"]["outcome"] == "indexed" and by_doc["medium"]["chunk_count"] > 50
    for n in range(5):
        assert by_doc[f"big-{n}"]["outcome"] == "dead_lettered"
        assert "the limit is 600" in by_doc[f"big-{n}"]["reason"]
    dead = dead_letters(settings, 5)
    for (headers, value) in dead.values():
        # a copy too large for the worker's producer is cut, keeping its size and hash
        assert headers.value_truncated_from and headers.value_truncated_from > len(value)
        assert headers.value_sha256 and len(headers.value_sha256) == 64
    assert stats["retries"] == 0, stats  # nothing timed out, nothing was retried, no rebalance storm
    indexed = Stream(items=[e for e in events if e.doc_id == "medium"])
    assert_index_matches(settings, indexed)

    reset_group_to_start(settings)  # a replay of the whole topic changes nothing
    with LoopThread(settings, BlockingModels(settings.models)):
        wait_for_outcomes(reader, sources, times=2, timeout_s=300)
        reader.close()
    assert_index_matches(settings, indexed)


def test_outcomes_the_broker_refuses_commit_nothing_and_the_next_worker_delivers_every_one(poison_settings,
                                                                                          monkeypatch):
    settings = poison_settings
    events = [upsert(f"side-{n}", tenant=("acme", "globex")[n % 2]) for n in range(12)]
    bad = (raw("sink_00.json"), b"acme/poison")
    sources = produce_all(settings, [*events[:6], bad, *events[6:]])
    real = kafka_clients.producer
    # every outcome and dead letter is larger than this producer may send: each send fails
    monkeypatch.setattr("ragstream.workers.ingest_loop.kafka_clients.producer",
                        lambda kafka: real(kafka, max_request_size=300))
    with LoopThread(settings, BlockingModels(settings.models)) as loop:
        deadline = time.monotonic() + 30
        while loop.stats.retries < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
        failing = loop.stats.snapshot()
    assert failing["retries"] >= 3 and "MessageSizeTooLarge" in failing["last_error"], failing
    assert failing["batches"] == 0, "a batch whose outcomes were not delivered must not count as done"
    assert dead_letters(settings, 0, timeout_s=2) == {}
    consumer = kafka_clients.consumer(settings.kafka, group_id=settings.kafka.consumer_group)
    try:
        committed = [consumer.committed(TopicPartition(settings.kafka.documents_topic, p))
                     for p in range(settings.kafka.partitions)]
    finally:
        consumer.close(autocommit=False)
    assert all(offset in (None, 0) for offset in committed), committed

    monkeypatch.setattr("ragstream.workers.ingest_loop.kafka_clients.producer", real)
    reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
    try:
        with LoopThread(settings, BlockingModels(settings.models)):
            outcomes = wait_for_outcomes(reader, sources, timeout_s=60)
        # applied by the failing worker already (not committed): the next one recognises them and reports them
        kinds = Counter(o["outcome"] for o in outcomes)
        assert kinds["dead_lettered"] == 1 and kinds["indexed"] + kinds["duplicate"] == len(events), kinds
        assert len(dead_letters(settings, 1)) == 1
        assert_index_matches(settings, Stream(items=events))
        reset_group_to_start(settings)  # and a replay of the whole topic changes nothing
        with LoopThread(settings, BlockingModels(settings.models)):
            wait_for_outcomes(reader, sources, times=2, timeout_s=60)
    finally:
        reader.close()
    assert_index_matches(settings, Stream(items=events))
