"""One Kafka consumer's loop: poll a bounded batch, dead-letter what is malformed or misrouted, apply the rest,
publish outcomes, and commit only after the index and the output topics acknowledged.

An infrastructure failure (Milvus, the models or the broker unreachable) rewinds the batch's partitions and retries
with backoff; nothing past a failure is ever committed. A data failure (the index or a model refuses a record), or
any failure that lasts ``poison_timeout_s``, makes the loop apply the batch one event at a time: an event that still
fails while a health probe of Milvus and the embedder passes is dead-lettered with the stage and the sink's message,
the rest is applied. While the probe fails nothing is dead-lettered.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata, TopicPartition

from ragstream.core import kafka_clients
from ragstream.core.index.records import LogMark
from ragstream.core.index.store import IndexStore
from ragstream.core.models.embedder import Embedder
from ragstream.core.models.factory import BlockingModels
from ragstream.core.settings import Settings
from ragstream.core.telemetry.batch import BatchTrace
from ragstream.schemas.dead_letter import DeadLetterHeaders, FailureStage
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.outcomes import IndexEvent, Outcome
from ragstream.workers.batching import next_batch
from ragstream.workers.chunking import Chunker
from ragstream.workers.codec import MAX_REASON_CHARS, Rejected, decode
from ragstream.workers.failures import FailureKind, Fenced, StageFailure, classify, describe, unclassified_since
from ragstream.workers.fencing import Fence, JoinedListener
from ragstream.workers.loop_stats import LoopStats
from ragstream.workers.metrics import IngestMetrics
from ragstream.workers.processor import BatchProcessor, EventResult
from ragstream.workers.routing import doc_keys, misrouted
from ragstream.workers.side_outputs import SideOutputs
from ragstream.workers.unreadable import UnreadableRecord

log = logging.getLogger("ragstream.ingest")


def _ms_to_dt(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


@dataclass
class LoopParts:
    """What the loop runs on, connected: the consumer (kafka-python's API), the side outputs, the index, the
    embedder (for the health probe), the batch processor, and the fence's check before every write phase."""

    consumer: Any
    outputs: SideOutputs
    store: IndexStore
    embedder: Embedder
    processor: BatchProcessor
    fence: Callable[[], None]


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
        with ExitStack() as opened:  # a start-up that fails half-way (Milvus down) closes what it opened
            self.serve(self._connect(opened))

    def _connect(self, opened: ExitStack) -> LoopParts:
        kafka, worker = self.settings.kafka, self.settings.worker
        embedder = self._embedder or BlockingModels(self.settings.models)
        if isinstance(embedder, BlockingModels):  # the loop owns it, given or made
            opened.callback(embedder.close)
        store = IndexStore(self.settings.milvus, embedder.dimension)
        opened.callback(store.close)
        store.ensure_collections()
        processor = BatchProcessor(Chunker(self.settings.chunking), embedder, store, worker)
        producer = kafka_clients.producer(kafka)
        opened.callback(producer.close, timeout=5)
        outputs = SideOutputs(producer, producer.config["max_request_size"])
        consumer = kafka_clients.consumer(
            kafka, group_id=kafka.consumer_group, client_id=self.worker_id,
            max_poll_records=worker.batch_max_events, fetch_max_wait_ms=max(worker.batch_max_wait_ms, 1),
        )
        opened.callback(consumer.close, autocommit=False)
        listener = JoinedListener(self.joined)
        consumer.subscribe([kafka.documents_topic], listener=listener)
        fence = listener.fence = Fence(consumer, kafka.session_timeout_ms)
        opened.callback(fence.close)
        return LoopParts(consumer, outputs, store, embedder, processor, fence.check)

    def serve(self, parts: LoopParts) -> None:
        """The loop over connected parts, until ``stop``: what a test runs over stand-ins for all of them."""
        kafka, worker = self.settings.kafka, self.settings.worker
        consumer, outputs, store, embedder, processor = (parts.consumer, parts.outputs, parts.store,
                                                         parts.embedder, parts.processor)
        backoff = worker.retry_initial_s
        unknown_since: float | None = None  # first unclassified failure of the batch now being retried
        while not self._stop.is_set():
            polled = next_batch(consumer, worker.batch_max_events, worker.max_batch_bytes, worker.batch_max_wait_ms)
            self.stats.assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in consumer.assignment())
            self._observe_lag(consumer)
            records = [r for batch in polled.values() for r in batch]
            if not records:
                _best_effort(lambda: store.seal(idle=True), "segments not sealed")
                continue
            started = time.perf_counter()
            names = [f"{tp.topic}:{tp.partition}" for tp in polled]
            traced = BatchTrace(records, kafka.consumer_group, self.worker_id)
            partitions = consumer.partitions_for_topic(kafka.documents_topic) if worker.check_partitioning \
                else None
            try:
                try:
                    self._handle(records, processor, outputs, traced, partitions, parts.fence)
                except Exception as error:
                    kind = classify(error)
                    unknown_since = unclassified_since(kind, unknown_since)
                    timed_out = unknown_since is not None and \
                        time.monotonic() - unknown_since >= worker.poison_timeout_s
                    if kind is not FailureKind.DATA and not timed_out:
                        raise
                    log.warning("isolating the events of a failing batch (%s)", describe(error))
                    self._handle(records, processor, outputs, traced, partitions, parts.fence,
                                 probe=lambda: _probe(store, embedder), timed_out=timed_out)
            except Exception as error:  # infrastructure, or not isolated yet: rewind, back off, commit nothing
                unknown_since = unclassified_since(classify(error), unknown_since)
                traced.end(error)
                self.stats.retries += 1
                self.metrics.retries.inc()
                self.stats.last_error = describe(error)
                self.stats.failed(names, self.stats.last_error)
                self.metrics.observe_partitions(self.stats.partitions)
                if isinstance(error, Fenced):  # late writes of this batch are made harmless
                    _best_effort(lambda: store.repair(doc_keys(records)), "documents not repaired")
                owned = consumer.assignment()
                for tp, batch in polled.items():
                    if tp in owned:  # a partition lost in a rebalance is replayed by its new owner
                        consumer.seek(tp, batch[0].offset)
                # never wait past the poison time-out: the batch is isolated on the first retry after it
                left = worker.poison_timeout_s - (time.monotonic() - unknown_since) if unknown_since else backoff
                wait = min(backoff, left) if left > 0 else backoff
                log.warning("batch failed, retrying in %.1fs: %s", wait, self.stats.last_error)
                self._stop.wait(wait)
                backoff = min(backoff * 2, worker.retry_max_s)
                _best_effort(store.reload, "collections not reloaded yet")  # a restarted Milvus
                continue
            backoff, unknown_since = worker.retry_initial_s, None
            with traced.step("commit", **{"messaging.system": "kafka", "messaging.operation.type": "settle"}):
                self._commit(consumer, polled)
            traced.end()
            self.stats.progressed(names)
            self.metrics.observe_partitions(self.stats.partitions)
            self.metrics.batch_size.observe(len(records))
            self.metrics.batch_ms.observe((time.perf_counter() - started) * 1000)
            _best_effort(store.seal, "segments not sealed")

    def _observe_lag(self, consumer) -> None:
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                self.metrics.lag.labels(tp.topic, str(tp.partition)).set(max(highwater - consumer.position(tp), 0))

    def _commit(self, consumer, polled: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        offsets = {tp: OffsetAndMetadata(batch[-1].offset + 1, "", -1) for tp, batch in polled.items()}
        try:
            consumer.commit(offsets)
        except KafkaError as error:  # CommitFailedError after a rebalance; a coordinator time-out
            # The partitions moved to another worker, which replays from the last commit: idempotent writes
            # make that safe, so this is only worth a count and a line in the log.
            self.stats.commit_failures += 1
            log.info("commit after rebalance failed (records will be replayed): %s", error)

    def _decode(self, record: ConsumerRecord, partitions: set[int] | None) -> DocumentEvent | Rejected:
        if isinstance(record, UnreadableRecord):
            return Rejected(FailureStage.DECODE, record.reason)
        item = decode(record.value)
        if isinstance(item, DocumentEvent) and partitions is not None:
            reason = misrouted(record.key, record.partition, item, len(partitions))
            if reason:
                return Rejected(FailureStage.ROUTE, reason)
        return item

    def _handle(self, records: list[ConsumerRecord], processor: BatchProcessor, outputs: SideOutputs,
                traced: BatchTrace, partitions: set[int] | None, fence, probe=None, timed_out: bool = False) -> None:
        """Applies the batch; with ``probe``, one event at a time, dead-lettering the events that fail alone."""
        decoded = [self._decode(r, partitions) for r in records]
        valid = [(i, item) for i, item in enumerate(decoded) if isinstance(item, DocumentEvent)]
        for position, event in valid:
            traced.annotate(position, {"ragstream.tenant": event.tenant, "ragstream.doc_id": event.doc_id,
                                       "ragstream.op": event.op, **({"ragstream.version": event.version}
                                                                    if event.version is not None else {})})
        sources = {i: LogMark(r.partition, r.offset, r.timestamp) for i, r in enumerate(records)}
        if probe is None:
            results = {r.position: r for r in processor.process(valid, traced, sources, fence)}
        else:
            results = {}
            for item in valid:
                results.update({r.position: r for r in self._isolated(item, processor, traced, sources, fence,
                                                                      probe, timed_out)})
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
                    outputs.dead_letter(self.settings.kafka.dlq_topic, record, DeadLetterHeaders(
                        reason=result.reason or "", stage=result.failed_stage, source_topic=record.topic,
                        source_partition=record.partition, source_offset=record.offset, worker_id=self.worker_id))
                self._publish_outcome(outputs, record, event, result, now_ms, traced, position)
            outputs.confirm()
        for position in range(len(records)):
            result = results.get(position)
            outcome = result.outcome if result else Outcome.DEAD_LETTERED
            if outcome is Outcome.DEAD_LETTERED:
                stage = result.failed_stage if result else decoded[position].stage
                self.metrics.dead_letters.labels(stage.value).inc()
            self.stats.outcomes[outcome.value] += 1
            self.metrics.events.labels(outcome.value).inc()
        self.stats.batches += 1
        self.stats.records += len(records)

    @staticmethod
    def _isolated(item: tuple[int, DocumentEvent], processor: BatchProcessor, traced: BatchTrace,
                  sources: dict[int, LogMark], fence, probe, timed_out: bool) -> list[EventResult]:
        try:
            return processor.process([item], traced, sources, fence)
        except Exception as error:
            kind = classify(error)
            if kind is FailureKind.INFRA or (kind is FailureKind.UNKNOWN and not timed_out):
                raise
            probe()  # raises while Milvus or the embedder is down: then nothing is dead-lettered
            stage = error.stage if isinstance(error, StageFailure) else FailureStage.INDEX
            why = "refused" if kind is FailureKind.DATA else "kept failing while Milvus and the embedder were healthy"
            return [EventResult(item[0], Outcome.DEAD_LETTERED, failed_stage=stage,
                                reason=f"{stage.value} {why}: {describe(error)}"[:MAX_REASON_CHARS])]

    def _publish_outcome(self, outputs: SideOutputs, record: ConsumerRecord, event: DocumentEvent | None,
                         result: EventResult, now_ms: int, traced: BatchTrace, position: int) -> None:
        indexed_time = _ms_to_dt(result.indexed_time_ms or now_ms)
        outcome = IndexEvent(
            outcome=result.outcome, reason=result.reason, chunk_count=result.chunk_count,
            op=event.op if event else None, tenant=event.tenant if event else None,
            doc_id=event.doc_id if event else None,
            version=result.version if result.version is not None else event.version if event else None,
            event_time=event.event_time if event else None, indexed_time=indexed_time,
            freshness_ms=(indexed_time - event.event_time).total_seconds() * 1000 if event else None,
            source_topic=record.topic, source_partition=record.partition, source_offset=record.offset,
            worker_id=self.worker_id, trace_id=traced.trace_id(position),
        )
        outputs.send(self.settings.kafka.index_events_topic, record.key, outcome.model_dump_json().encode(),
                     traced.headers(position))
        if outcome.freshness_ms is not None and outcome.outcome in (Outcome.INDEXED, Outcome.DELETED):
            self.metrics.freshness_ms.observe(outcome.freshness_ms)


def _probe(store: IndexStore, embedder: Embedder) -> None:
    """Milvus reads and writes and the embedder embeds: a record that still fails is the record's fault."""
    store.probe_write()
    embedder.embed(["ragstream health probe"])


def _best_effort(call, failure: str) -> None:
    """Housekeeping between batches (reloading released collections, sealing segments): a failure is logged and
    the call is tried again later; the batch path reports real outages."""
    try:
        call()
    except Exception as error:
        log.info("%s: %s", failure, error)
