"""One Kafka consumer's loop: poll a bounded batch, dead-letter what is malformed, apply the rest, publish outcomes,
and commit only after the index and the output topics acknowledged.

A transient failure (Milvus or the model unreachable) rewinds the batch's partitions and retries with backoff;
nothing past a failure is ever committed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

from kafka import ConsumerRebalanceListener
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CommitFailedError
from kafka.structs import OffsetAndMetadata, TopicPartition

from ragstream import kafka_clients
from ragstream.index.store import IndexStore
from ragstream.models.embedder import Embedder
from ragstream.models.factory import BlockingModels
from ragstream.settings import Settings
from ragstream.telemetry.batch import BatchTrace
from schemas.dead_letter import DeadLetterHeaders
from schemas.events import DocumentEvent
from schemas.outcomes import IndexEvent, Outcome
from workers.chunking import Chunker
from workers.codec import Rejected, decode
from workers.metrics import IngestMetrics
from workers.processor import BatchProcessor, EventResult

log = logging.getLogger("ragstream.ingest")


@dataclass
class LoopStats:
    outcomes: Counter = field(default_factory=Counter)
    batches: int = 0
    records: int = 0
    retries: int = 0
    commit_failures: int = 0
    last_error: str | None = None
    assigned: list[str] = field(default_factory=list)

    def snapshot(self) -> dict:
        return {"outcomes": dict(self.outcomes), "batches": self.batches, "records": self.records,
                "retries": self.retries, "commit_failures": self.commit_failures, "last_error": self.last_error,
                "assigned": list(self.assigned)}


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


class _JoinedListener(ConsumerRebalanceListener):
    """Signals the first completed group join (even with no partitions assigned)."""

    def __init__(self, joined: threading.Event) -> None:
        self.joined = joined

    def on_partitions_revoked(self, revoked) -> None:
        pass

    def on_partitions_assigned(self, assigned) -> None:
        self.joined.set()


class IngestLoop:
    def __init__(self, settings: Settings, worker_id: str, embedder: Embedder | None = None,
                 metrics: IngestMetrics | None = None) -> None:
        self.settings = settings
        self.metrics = metrics or IngestMetrics(worker_id)
        self.worker_id = worker_id
        self.stats = LoopStats()
        self._stop = threading.Event()
        self._embedder = embedder
        self.joined = threading.Event()  # set once the consumer is in the group: new events will be seen

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        kafka, worker = self.settings.kafka, self.settings.worker
        embedder = self._embedder or BlockingModels(self.settings.models)
        store = IndexStore(self.settings.milvus, embedder.dimension)
        store.ensure_collections()
        processor = BatchProcessor(Chunker(self.settings.chunking), embedder, store)
        producer = kafka_clients.producer(kafka)
        consumer = kafka_clients.consumer(
            kafka, group_id=kafka.consumer_group, client_id=self.worker_id,
            max_poll_records=worker.batch_max_events, fetch_max_wait_ms=max(worker.batch_max_wait_ms, 1),
        )
        consumer.subscribe([kafka.documents_topic], listener=_JoinedListener(self.joined))
        backoff = worker.retry_initial_s
        try:
            while not self._stop.is_set():
                polled = consumer.poll(timeout_ms=200, max_records=worker.batch_max_events)
                self.stats.assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())
                self._observe_lag(consumer)
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    _best_effort(lambda: store.seal(idle=True), "segments not sealed")
                    continue
                started = time.perf_counter()
                traced = BatchTrace(records, kafka.consumer_group, self.worker_id)
                try:
                    self._handle(records, processor, producer, traced)
                except Exception as error:  # transient by construction: see module docstring
                    traced.end(error)
                    self.stats.retries += 1
                    self.metrics.retries.inc()
                    self.stats.last_error = f"{type(error).__name__}: {error}"[:500]
                    log.warning("batch failed, retrying in %.1fs: %s", backoff, self.stats.last_error)
                    for tp, batch in polled.items():
                        consumer.seek(tp, batch[0].offset)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, worker.retry_max_s)
                    _best_effort(store.reload, "collections not reloaded yet")  # a restarted Milvus
                    continue
                backoff = worker.retry_initial_s
                with traced.step("commit", **{"messaging.system": "kafka", "messaging.operation.type": "settle"}):
                    self._commit(consumer, polled)
                traced.end()
                self.metrics.batch_size.observe(len(records))
                self.metrics.batch_ms.observe((time.perf_counter() - started) * 1000)
                _best_effort(store.seal, "segments not sealed")
        finally:
            consumer.close(autocommit=False)
            producer.close(timeout=5)
            store.close()
            if isinstance(embedder, BlockingModels):
                embedder.close()

    def _observe_lag(self, consumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(highwater - consumer.position(tp), 0))

    def _commit(self, consumer, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        offsets = {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()}
        try:
            consumer.commit(offsets)
        except CommitFailedError as error:
            # The partitions moved to another worker, which replays from the last commit: idempotent writes
            # make that safe, so this is only worth a count and a line in the log.
            self.stats.commit_failures += 1
            log.info("commit after rebalance failed (records will be replayed): %s", error)

    def _handle(self, records: list[ConsumerRecord], processor: BatchProcessor, producer,
                traced: BatchTrace) -> None:
        decoded = [decode(r.value) for r in records]
        valid = [(i, item) for i, item in enumerate(decoded) if isinstance(item, DocumentEvent)]
        for position, event in valid:
            traced.annotate(position, {"ragstream.tenant": event.tenant, "ragstream.doc_id": event.doc_id,
                                       "ragstream.version": event.version, "ragstream.op": event.op})
        results = {r.position: r for r in processor.process(valid, traced)}
        now_ms = int(time.time() * 1000)
        with traced.step("publish outcomes", **{"messaging.system": "kafka", "messaging.operation.type": "send"}):
            for position, record in enumerate(records):
                item = decoded[position]
                if isinstance(item, Rejected):
                    result = EventResult(position, Outcome.DEAD_LETTERED, reason=item.reason,
                                         failed_stage=item.stage)
                    event = None
                else:
                    result, event = results[position], item
                traced.annotate(position, {"ragstream.outcome": result.outcome.value,
                                           "ragstream.chunk_count": result.chunk_count,
                                           "ragstream.dead_letter_reason": result.reason})
                if result.failed_stage is not None:
                    self._dead_letter(producer, record, result)
                    self.metrics.dead_letters.labels(result.failed_stage.value).inc()
                self._publish_outcome(producer, record, event, result, now_ms, traced, position)
                self.stats.outcomes[result.outcome.value] += 1
                self.metrics.events.labels(result.outcome.value).inc()
            producer.flush(timeout=30)
        self.stats.batches += 1
        self.stats.records += len(records)

    def _dead_letter(self, producer, record: ConsumerRecord, result: EventResult) -> None:
        headers = DeadLetterHeaders(reason=result.reason or "", stage=result.failed_stage,
                                    source_topic=record.topic, source_partition=record.partition,
                                    source_offset=record.offset, worker_id=self.worker_id)
        producer.send(self.settings.kafka.dlq_topic, key=record.key, value=record.value,
                      headers=list(record.headers or []) + headers.to_kafka())

    def _publish_outcome(self, producer, record: ConsumerRecord, event: DocumentEvent | None,
                         result: EventResult, now_ms: int, traced: BatchTrace, position: int) -> None:
        indexed_time = _ms_to_dt(result.indexed_time_ms or now_ms)
        outcome = IndexEvent(
            outcome=result.outcome, reason=result.reason, chunk_count=result.chunk_count,
            op=event.op if event else None, tenant=event.tenant if event else None,
            doc_id=event.doc_id if event else None, version=event.version if event else None,
            event_time=event.event_time if event else None, indexed_time=indexed_time,
            freshness_ms=(indexed_time - event.event_time).total_seconds() * 1000 if event else None,
            source_topic=record.topic, source_partition=record.partition, source_offset=record.offset,
            worker_id=self.worker_id, trace_id=traced.trace_id(position),
        )
        producer.send(self.settings.kafka.index_events_topic, key=record.key,
                      value=outcome.model_dump_json().encode(), headers=traced.headers(position))
        if outcome.freshness_ms is not None and outcome.outcome in (Outcome.INDEXED, Outcome.DELETED):
            self.metrics.freshness_ms.observe(outcome.freshness_ms)


def _best_effort(call, failure: str) -> None:
    """Housekeeping between batches (reloading released collections, sealing segments): a failure is logged and
    the call is tried again later; the batch path reports real outages."""
    try:
        call()
    except Exception as error:
        log.info("%s: %s", failure, error)
