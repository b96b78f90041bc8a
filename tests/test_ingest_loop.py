"""The ingest loop's retry, seek and commit logic over stand-ins (an in-memory log, a scripted batch processor, a
producer that acknowledges): what it commits, what it seeks back, what it dead-letters. No broker, Milvus or
Triton; the same cases over the real parts are in test_poison.py and test_faults.py."""

from __future__ import annotations

import threading
import time

from kafka.structs import TopicPartition

from ragstream.core.settings import Settings, WorkerSettings
from ragstream.schemas.dead_letter import FailureStage
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.outcomes import IndexEvent, Outcome
from ragstream.workers.failures import Fenced, StageFailure
from ragstream.workers.ingest_loop import IngestLoop, LoopParts
from ragstream.workers.processor import EventResult
from ragstream.workers.routing import default_partition
from ragstream.workers.side_outputs import SideOutputs
from testkit.kafka_fakes import FakeProducer, LogConsumer, record

SETTINGS = Settings(worker=WorkerSettings(retry_initial_s=0.01, retry_max_s=0.02, poison_timeout_s=0.5,
                                          batch_max_wait_ms=1, check_partitioning=False))
TOPIC = SETTINGS.kafka.documents_topic


def log_of(*doc_ids: str, partitions: int = 2) -> dict[TopicPartition, list]:
    log: dict[TopicPartition, list] = {TopicPartition(TOPIC, p): [] for p in range(partitions)}
    for doc_id in doc_ids:
        event = DocumentEvent(op="upsert", tenant="acme", doc_id=doc_id, version=1, text=f"{doc_id} text.")
        tp = TopicPartition(TOPIC, default_partition(event.key.encode(), partitions))
        log[tp].append(record(len(log[tp]), event.to_bytes(), tp.partition, event.key.encode()))
    return {tp: [r._replace(topic=TOPIC) for r in records] for tp, records in log.items()}


class ScriptedProcessor:
    """Fails the next calls with ``failures`` (one error per call, in turn); a document in ``refuse`` fails with a
    data error every time, as a record the index cannot store does."""

    def __init__(self, failures: list[Exception] = (), refuse: set[str] = frozenset()) -> None:
        self.failures, self.refuse, self.calls = list(failures), refuse, []

    def process(self, events, traced=None, sources=None, fence=lambda: None) -> list[EventResult]:
        self.calls.append([event.doc_id for _, event in events])
        fence()
        if self.failures:
            raise self.failures.pop(0)
        if any(event.doc_id in self.refuse for _, event in events):
            raise StageFailure(FailureStage.INDEX, ValueError("Integer exceeds 64-bit range"))
        return [EventResult(position, Outcome.INDEXED, chunk_count=1) for position, _ in events]


class Housekeeping:
    """The store and the embedder as far as the loop itself calls them (seal, reload, repair, the probe)."""

    def __init__(self) -> None:
        self.repaired: list[set[str]] = []

    def seal(self, idle: bool = False) -> None: ...

    def reload(self) -> None: ...

    def probe_write(self) -> None: ...

    def embed(self, texts):
        return [[0.0] for _ in texts]

    def repair(self, keys) -> None:
        self.repaired.append(set(keys))


def run_loop(log, processor, fence=lambda: None, consumer: LogConsumer | None = None, timeout_s: float = 10):
    consumer, producer, kept = consumer or LogConsumer(log), FakeProducer(), Housekeeping()
    loop = IngestLoop(SETTINGS, "loop-test", embedder=kept)
    thread = threading.Thread(target=loop.serve, args=(LoopParts(
        consumer, SideOutputs(producer, 1 << 20), kept, kept, processor, fence),), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while not consumer.caught_up() and time.monotonic() < deadline:
        time.sleep(0.01)
    loop.stop()
    thread.join(5)
    assert not thread.is_alive()
    outcomes = [IndexEvent.model_validate_json(value) for topic, _, value, _ in producer.sent
                if topic == SETTINGS.kafka.index_events_topic]
    dead = [key for topic, key, _, _ in producer.sent if topic == SETTINGS.kafka.dlq_topic]
    return consumer, loop, kept, outcomes, dead


def test_a_clean_stream_is_committed_past_its_last_record_once_each():
    log = log_of(*(f"doc-{n}" for n in range(12)))
    consumer, loop, _, outcomes, dead = run_loop(log, ScriptedProcessor())
    assert consumer.committed == {tp: len(records) for tp, records in log.items()}
    assert sorted(o.doc_id for o in outcomes) == sorted(f"doc-{n}" for n in range(12)) and dead == []
    assert loop.stats.retries == 0 and consumer.seeks == []


def test_an_outage_rewinds_the_batch_commits_nothing_and_the_retry_applies_it():
    log = log_of("a", "b", "c", "d")
    outage = StageFailure(FailureStage.INDEX, ConnectionRefusedError("connection refused"))
    processor = ScriptedProcessor(failures=[outage, outage])
    consumer, loop, _, outcomes, dead = run_loop(log, processor)
    assert loop.stats.retries == 2 and dead == []
    first = {tp: records[0].offset for tp, records in log.items() if records}
    assert set(consumer.seeks[:len(first)]) == set(first.items()), "every partition of the failed batch rewound"
    assert consumer.caught_up() and sorted(o.doc_id for o in outcomes) == ["a", "b", "c", "d"]


def test_a_data_failure_dead_letters_only_its_record_and_the_rest_is_applied():
    log = log_of("good-1", "poison", "good-2", partitions=1)
    consumer, loop, _, outcomes, dead = run_loop(log, ScriptedProcessor(refuse={"poison"}))
    assert dead == [b"acme/poison"]
    by_doc = {o.doc_id: o for o in outcomes}
    assert by_doc["poison"].outcome is Outcome.DEAD_LETTERED and "64-bit" in by_doc["poison"].reason
    assert by_doc["good-1"].outcome is by_doc["good-2"].outcome is Outcome.INDEXED
    assert consumer.caught_up() and loop.stats.retries == 0


def test_an_unclassified_failure_is_retried_until_the_poison_time_out_then_isolated():
    log = log_of("mystery", partitions=1)
    mystery = RuntimeError("the model said something nobody has seen before")
    processor = ScriptedProcessor(failures=[mystery] * 200)  # fails until isolation gives up on it
    started = time.monotonic()
    consumer, loop, _, outcomes, dead = run_loop(log, processor)
    assert dead == [b"acme/mystery"] and outcomes[-1].outcome is Outcome.DEAD_LETTERED
    assert "kept failing while Milvus and the embedder were healthy" in outcomes[-1].reason
    assert SETTINGS.worker.poison_timeout_s <= time.monotonic() - started < 5 and loop.stats.retries >= 2


def test_a_fenced_batch_is_abandoned_its_documents_repaired_and_replayed():
    log = log_of("x", "y", partitions=1)
    fenced = iter([True, False])

    def fence():
        if next(fenced, False):
            raise Fenced("the consumer group is rebalancing")

    consumer, loop, kept, outcomes, _ = run_loop(log, ScriptedProcessor(), fence=fence)
    assert kept.repaired == [{"acme/x", "acme/y"}] and loop.stats.retries == 1
    assert consumer.caught_up() and sorted(o.doc_id for o in outcomes) == ["x", "y"]


def test_a_partition_lost_in_the_failure_is_left_to_its_new_owner():
    log = log_of(*(f"doc-{n}" for n in range(8)))
    consumer, lost = LogConsumer(log), max(log, key=lambda tp: tp.partition)

    class LosesAPartition(ScriptedProcessor):
        def process(self, events, traced=None, sources=None, fence=lambda: None):
            if not self.calls:
                consumer.owned.discard(lost)  # a rebalance during the batch moved it to another worker
            return super().process(events, traced, sources, fence)

    run_loop(log, LosesAPartition(failures=[StageFailure(FailureStage.INDEX, ConnectionRefusedError("refused"))]),
             consumer=consumer)
    assert consumer.seeks and all(tp != lost for tp, _ in consumer.seeks), "only the kept partitions are sought"
    assert lost not in consumer.committed and consumer.caught_up()
