"""The pieces behind the stream's guarantees, without a broker: failure classification, routing checks, batch
bounds, confirmed side outputs and the schema's sink limits. The real-broker cases are in test_poison.py."""

from __future__ import annotations

import hashlib

import pytest
from kafka.errors import KafkaTimeoutError
from kafka.structs import TopicPartition
from pydantic import ValidationError

from ragstream.schemas.api import DocumentUpsert
from ragstream.schemas.dead_letter import DeadLetterHeaders, FailureStage
from ragstream.schemas.events import DocumentEvent
from ragstream.workers.batching import bounded, next_batch
from ragstream.workers.failures import FailureKind, StageFailure, classify, stage
from ragstream.workers.processor import slices
from ragstream.workers.routing import default_partition, misrouted
from ragstream.workers.side_outputs import SideOutputs, clean_headers
from testkit.kafka_fakes import P0, P1, FakeProducer, ScriptedConsumer, SeekRecorder, record

EVENT = DocumentEvent(op="upsert", tenant="acme", doc_id="faq", version=1, text="hello world.")


@pytest.mark.parametrize(("error", "kind"), [
    (StageFailure(FailureStage.INDEX, ValueError("Integer exceeds 64-bit range")), FailureKind.DATA),
    (StageFailure(FailureStage.INDEX, UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")),
     FailureKind.DATA),
    (StageFailure(FailureStage.EMBED, TypeError("Object of type float is not JSON serializable")), FailureKind.DATA),
    (StageFailure(FailureStage.INDEX, RuntimeError("field text: length exceeds max length 16384")), FailureKind.DATA),
    (StageFailure(FailureStage.INDEX, ConnectionRefusedError("connection refused")), FailureKind.INFRA),
    (StageFailure(FailureStage.INDEX, RuntimeError("<MilvusException: (code=2, message=Fail connecting to server "
                                                   "on 127.0.0.1:1. Timeout)>")), FailureKind.INFRA),
    (StageFailure(FailureStage.EMBED, RuntimeError("StatusCode.UNAVAILABLE: failed to connect")), FailureKind.INFRA),
    (StageFailure(FailureStage.EMBED, RuntimeError("Deadline Exceeded")), FailureKind.INFRA),
    (StageFailure(FailureStage.INDEX, ValueError("collection not loaded")), FailureKind.INFRA),
    (RuntimeError("something nobody has seen"), FailureKind.UNKNOWN),  # retried until the poison time-out
    (StageFailure(FailureStage.EMBED, RuntimeError("[StatusCode.INVALID_ARGUMENT] input too long")),
     FailureKind.DATA),
    (KafkaTimeoutError("Failed to update metadata after 60.0 secs."), FailureKind.INFRA),
])
def test_only_errors_about_the_record_count_as_data_failures(error, kind):
    assert classify(error) is kind


def test_a_stage_names_the_write_phase_that_failed():
    with pytest.raises(StageFailure) as raised, stage(FailureStage.EMBED):
        raise ValueError("refused")
    assert raised.value.stage is FailureStage.EMBED and "refused" in raised.value.message


def test_a_record_must_carry_its_documents_key_and_the_default_partition():
    key = EVENT.key.encode()
    right = default_partition(key, 4)
    assert misrouted(key, right, EVENT, 4) is None
    assert "is not 'acme/faq'" in misrouted(b"faq", right, EVENT, 4)
    assert "murmur2_random" in misrouted(None, right, EVENT, 4)
    wrong = misrouted(key, (right + 1) % 4, EVENT, 4)
    assert f"partition {right} of 4" in wrong
    assert misrouted(key, (right + 1) % 4, EVENT, None) is None  # partition count unknown: key checked only


@pytest.mark.parametrize(("key", "partition"), [
    (b"", 681), (b"a", 524), (b"ab", 434), (b"abc", 107), (b"123456789", 566), (b"\x00 ", 742)])
def test_the_java_clients_default_partitioner_is_reproduced(key, partition):
    # the Java client's own choices among 1,000 partitions (the vectors kafka-python checks itself against)
    assert default_partition(key, 1000) == partition


def test_a_batch_is_cut_by_bytes_and_the_rest_is_sought_back():
    p0, p1 = TopicPartition("docs", 0), TopicPartition("docs", 1)
    polled = {p0: [record(i, b"a" * 400) for i in range(5)], p1: [record(i, b"b" * 400, 1) for i in range(3)]}
    consumer = SeekRecorder()
    kept = bounded(consumer, polled, 1000)
    assert [r.offset for r in kept[p0]] == [0, 1] and p1 not in kept
    assert consumer.sought == {p0: 2, p1: 0}
    # one record larger than the bound is still taken alone: a batch is never empty
    consumer = SeekRecorder()
    kept = bounded(consumer, {p0: [record(7, b"z" * 5000), record(8)]}, 1000)
    assert [r.offset for r in kept[p0]] == [7] and consumer.sought == {p0: 8}
    assert bounded(SeekRecorder(), polled, 10**9) == polled




def test_a_batch_fills_from_several_polls_while_its_partitions_are_behind():
    # a broker that answers each fetch with a record batch or two (Tansu on object storage) still fills a batch;
    # empty polls while the partition is behind do not end it, catching up does
    consumer = ScriptedConsumer([{P0: [record(0), record(1)]}, {}, {P1: [record(5, partition=1)], P0: [record(2)]},
                                 {P0: [record(3)]}, {P0: [record(4)]}], highwater={P0: 4, P1: 6})
    batch = next_batch(consumer, max_records=32, max_bytes=10**6, fill_ms=10_000)
    assert {tp: [r.offset for r in rs] for tp, rs in batch.items()} == {P0: [0, 1, 2, 3], P1: [5]}
    assert consumer.calls == [32, 30, 30, 28]  # each poll asks only for the room left
    consumer = ScriptedConsumer([{P0: [record(i) for i in range(4)]}, {P0: [record(4)]}], highwater={P0: 9})
    assert [r.offset for r in next_batch(consumer, 4, 10**6, 10_000)[P0]] == [0, 1, 2, 3]  # full: no second poll
    assert consumer.calls == [4] and next_batch(ScriptedConsumer([], {}), 4, 10**6, 10_000) == {}
    # a caught-up stream's event goes at once, and so does one whose high watermark is not known yet
    for highwater in ({P0: 1}, {}):
        consumer = ScriptedConsumer([{P0: [record(0)]}, {P0: [record(1)]}], highwater)
        assert next_batch(consumer, 32, 10**6, 10_000) == {P0: [record(0)]} and consumer.calls == [32]
    consumer = ScriptedConsumer([{P0: [record(0)]}], highwater={P0: 9})
    assert [r.offset for r in next_batch(consumer, 32, 10**6, fill_ms=0)[P0]] == [0]  # no fill time: no wait


def test_a_batch_stops_filling_at_its_bytes_and_a_rebalance_drops_what_came_before_it():
    consumer = ScriptedConsumer([{P0: [record(0, b"a" * 600)]}, {P0: [record(1, b"b" * 600), record(2)]},
                                 {P0: [record(3)]}], highwater={P0: 9})
    batch = next_batch(consumer, max_records=32, max_bytes=1000, fill_ms=10_000)
    assert [r.offset for r in batch[P0]] == [0] and consumer.sought == {P0: 1} and len(consumer.calls) == 2
    # the second poll rejoined the group and this worker kept P0 (kafka-python keeps a kept partition's position):
    # everything polled is sought back, nothing is taken; a partition it lost is left to its new owner
    consumer = ScriptedConsumer([{P0: [record(0), record(1)], P1: [record(4, partition=1)]},
                                 {P0: [record(2)], P1: [record(5, partition=1)]}],
                                highwater={P0: 5, P1: 8}, rebalance_at=1)
    consumer.owned = {P0}
    assert next_batch(consumer, max_records=32, max_bytes=10**6, fill_ms=10_000) == {}
    assert consumer.sought == {P0: 0}
    # a position that moved back (log truncation, offset reset) is sought back the same way
    consumer = ScriptedConsumer([{P0: [record(3), record(4)]}, {P0: [record(1)]}], highwater={P0: 9})
    assert next_batch(consumer, 32, 10**6, 10_000) == {} and consumer.sought == {P0: 3}


def test_writes_are_sliced_by_chunks_and_bytes():
    from ragstream.core.settings import ChunkingSettings
    from ragstream.workers.chunking import Chunker

    big = DocumentEvent(op="upsert", tenant="acme", doc_id="big", version=1, metadata={"m": "x" * 7000},
                        text=" ".join(f"Sentence number {n} is here." for n in range(3000)))
    chunks = Chunker(ChunkingSettings()).split(big)
    parts = slices(chunks, max_chunks=16, max_bytes=64 * 1024)
    assert [c for part in parts for c in part] == chunks
    assert all(1 <= len(part) <= 16 for part in parts)
    assert max(len(part) for part in parts) < 16  # the bytes bound cut first: 7 kB metadata per chunk
    assert slices(chunks[:1], 1, 1) == [chunks[:1]]


def test_a_dead_letter_too_large_for_the_producer_is_cut_with_its_size_and_hash():
    producer = FakeProducer()
    outputs = SideOutputs(producer, max_request_size=100_000)
    value = b"v" * 250_000
    dead = record(3, value, key=b"acme/big", headers=[("traceparent", b"00-x"), ("empty", None)])
    headers = DeadLetterHeaders(reason="too big", stage=FailureStage.CHUNK, source_topic="docs",
                                source_partition=0, source_offset=3, worker_id="w")
    outputs.dead_letter("dlq", dead, headers)
    outputs.confirm()
    _, key, sent, sent_headers = producer.sent[0]
    assert key == b"acme/big" and len(sent) < 100_000 and value.startswith(sent)
    parsed = DeadLetterHeaders.from_kafka(sent_headers)
    assert parsed.value_truncated_from == 250_000
    assert parsed.value_sha256 == hashlib.sha256(value).hexdigest()
    assert ("traceparent", b"00-x") in sent_headers and ("empty", b"") in sent_headers


def test_a_small_dead_letter_keeps_the_original_bytes_and_no_cut_headers():
    producer = FakeProducer()
    outputs = SideOutputs(producer, max_request_size=1_048_576)
    headers = DeadLetterHeaders(reason="r", stage=FailureStage.VALIDATE, source_topic="docs", source_partition=0,
                                source_offset=1, worker_id="w")
    outputs.dead_letter("dlq", record(1, b"{bad"), headers)
    _, _, sent, sent_headers = producer.sent[0]
    assert sent == b"{bad" and DeadLetterHeaders.from_kafka(sent_headers).value_truncated_from is None


def test_a_send_the_broker_refused_fails_the_batch():
    outputs = SideOutputs(FakeProducer(fail=True), max_request_size=1_048_576)
    outputs.send("outcomes", b"k", b"v", [])
    with pytest.raises(KafkaTimeoutError):
        outputs.confirm()
    assert outputs.pending == []


def test_odd_headers_are_made_sendable():
    assert clean_headers([("a", None), ("b", b"x"), ("c", "text")]) == [("a", b""), ("b", b"x"), ("c", b"text")]
    assert clean_headers(None) == []


@pytest.mark.parametrize(("metadata", "message"), [
    ({"n": 2**64}, "outside the signed 64-bit range"),  # Milvus Lite: "Integer exceeds 64-bit range"
    ({"n": 2**63}, "outside the signed 64-bit range"),  # Lite stores it; a Milvus cluster's int64 cannot
    ({"n": -(2**63) - 1}, "outside the signed 64-bit range"),
    ({"x": float("nan")}, "not a finite number"),  # Milvus Lite would store null: silently different data
    ({"x": [1.0, float("inf")]}, "not a finite number"),
    ({"s": "x\ud800"}, "lone UTF-16 surrogate"),
])
def test_the_schema_refuses_metadata_milvus_cannot_store(metadata, message):
    for build in (lambda: DocumentEvent(op="upsert", tenant="acme", doc_id="d", version=1, text="t.",
                                        metadata=metadata),
                  lambda: DocumentUpsert(doc_id="d", text="t.", metadata=metadata)):
        with pytest.raises(ValidationError, match=message):
            build()


def test_the_int64_and_bool_edges_are_kept_as_they_are():
    event = DocumentEvent(op="upsert", tenant="acme", doc_id="d", version=1, text="t.",
                          metadata={"max": 2**63 - 1, "min": -(2**63), "flag": True, "ratio": 1e308, "s": "ok ✓"})
    assert event.metadata == {"max": 2**63 - 1, "min": -(2**63), "flag": True, "ratio": 1e308, "s": "ok ✓"}
    assert isinstance(event.metadata["flag"], bool)


def test_lone_surrogates_in_text_or_title_are_refused():
    with pytest.raises(ValidationError, match="unicode string"):
        DocumentEvent(op="upsert", tenant="acme", doc_id="d", version=1, text="bad \udc80 text")
    with pytest.raises(ValidationError, match="unicode string"):
        DocumentEvent(op="upsert", tenant="acme", doc_id="d", version=1, text="ok", title="\ud800")


def test_the_event_log_or_the_index_down_is_a_503_with_retry_after():
    from pymilvus.exceptions import MilvusException

    from ragstream.services.api.errors import from_exception

    for error in (KafkaTimeoutError("Failed to update metadata after 10.0 secs."),
                  MilvusException(2, "Fail connecting to server on 127.0.0.1:19530")):
        mapped = from_exception(error, retry_after_s=2)
        assert mapped.status == 503 and mapped.headers == {"Retry-After": "2"}, mapped.message


def test_document_ids_with_at_signs_can_be_named_in_the_header():
    from ragstream.services.api.documents import parse_min_versions

    parsed = parse_min_versions("user@example.com=3, notes@1042, a@b@7")
    assert [(m.doc_id, m.version, m.offset) for m in parsed] == [
        ("user@example.com", 3, None), ("notes", None, 1042), ("a@b", None, 7)]


def test_a_fence_notices_a_pause_before_its_watchdog_ticks():
    import time as clock
    from types import SimpleNamespace

    from ragstream.workers.failures import Fenced
    from ragstream.workers.fencing import Fence

    heartbeat = SimpleNamespace(last_receive=clock.monotonic(), last_reset=clock.monotonic())
    coordinator = SimpleNamespace(heartbeat=heartbeat, generation_if_stable=lambda: 1, rejoin_needed=False,
                                  request_rejoin=lambda: setattr(coordinator, "rejoin_needed", True))
    fence = Fence(SimpleNamespace(_coordinator=coordinator), session_timeout_ms=1000)
    try:
        fence.check()
        fence._last_tick -= 5  # as after SIGCONT: the watchdog has not run since the process was frozen
        heartbeat.last_receive = clock.monotonic()  # and the heartbeat thread already got an answer
        with pytest.raises(Fenced, match="stood still"):
            fence.check()
        assert coordinator.rejoin_needed
        fence.assigned()
        coordinator.rejoin_needed = False
        fence.check()
    finally:
        fence.close()


def test_ragstream_status_shows_a_partition_that_is_behind():
    from types import SimpleNamespace

    from rich.console import Console

    from ragstream.cli.status import Tally, partitions_table

    tally = Tally()
    for event in [SimpleNamespace(partition=p, offset=o) for p, n in ((0, 3), (1, 2)) for o in range(n)]:
        tally.add_document(event)
    for o in range(3):
        tally.add_outcome({"source_partition": 0, "source_offset": o, "indexed_time": f"2026-12-01T10:00:0{o}Z",
                           "outcome": "indexed", "freshness_ms": 5.0})
    console = Console(record=True, width=120)
    console.print(partitions_table(Tally.model_validate_json(tally.model_dump_json())))  # as stored between calls
    rows = [line.split("│")[1:-1] for line in console.export_text().splitlines() if line.count("│") == 6]
    cells = {r[0].strip(): [c.strip() for c in r[1:]] for r in rows}
    assert cells["0"] == ["3", "3", "0", "2026-12-01T10:00:02Z"]
    assert cells["1"] == ["2", "0", "2", "never"]


@pytest.mark.parametrize("failure", ["restarting", "dead"])
def test_a_pool_stops_even_when_a_worker_is_restarting_or_dead(monkeypatch, failure):
    """Seen at the end of a history run: a worker SIGKILLed moments before was still restarting, its stop call
    raised, and the pool's other workers were left running."""
    import ray

    from ragstream.core.settings import Settings
    from ragstream.workers import actor as actor_module

    class Handle:
        class stop:  # noqa: N801 - the shape of an actor method
            @staticmethod
            def remote():
                return failure

    def get(ref, timeout=None):
        if ref == "restarting":
            raise ray.exceptions.ActorUnavailableError("The actor is restarting.", b"\0" * 16)
        raise ray.exceptions.ActorDiedError()

    killed = []
    monkeypatch.setattr(actor_module.ray, "get", get)
    monkeypatch.setattr(actor_module.ray, "kill", killed.append)
    monkeypatch.setattr(actor_module.ray, "remote", lambda cls: cls)
    pool = actor_module.WorkerPool(Settings())
    pool._actors = [Handle(), Handle()]
    pool.stop()
    assert len(pool) == 0 and len(killed) == 2
