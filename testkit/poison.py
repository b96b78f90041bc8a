"""What the poison tests over the real broker, Milvus and Triton need: the ingest loop on a thread, an embedder
and a store that refuse marked records the way a model guard or a producer without our schema would, producers
of odd records, and readers of the outcomes' and the dead letters' topics."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

from tritonclient.utils import InferenceServerException

from ragstream.core import kafka_clients
from ragstream.core.index.store import IndexStore
from ragstream.core.models.factory import BlockingModels
from ragstream.core.producer import DocumentProducer
from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.dead_letter import DeadLetterHeaders
from ragstream.schemas.events import DocumentEvent
from ragstream.workers.ingest_loop import IngestLoop
from testkit.streams import BAD_EVENTS_DIR

EMBED_MARK, INDEX_MARK, MYSTERY_MARK = "embed-guard-refuses-this", "index-refuses-this", "mystery-failure-here"


class GuardedEmbedder:
    """The real Triton embedder behind an input guard: a marked text is refused like a model refuses bad input,
    another fails with an error nobody classified."""

    def __init__(self, inner: BlockingModels) -> None:
        self.inner = inner
        self.dimension = inner.dimension

    def embed(self, texts):
        for text in texts:
            if EMBED_MARK in text:
                raise InferenceServerException("input rejected by the model's guard", "StatusCode.INVALID_ARGUMENT")
            if MYSTERY_MARK in text:
                raise RuntimeError("the model said something nobody has seen before")
        return self.inner.embed(texts)

    def close(self) -> None:
        self.inner.close()


class RawMetadataStore(IndexStore):
    """Writes a marked chunk with the integer a producer without our schema could send: the real Milvus refuses it."""

    def upsert_chunks(self, chunks, vectors):
        chunks = [replace(c, metadata={**c.metadata, "n": 2**64}) if INDEX_MARK in c.text else c for c in chunks]
        return super().upsert_chunks(chunks, vectors)


class LoopThread:
    def __init__(self, settings, embedder) -> None:
        self.loop = IngestLoop(settings, "poison-worker", embedder=embedder)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.loop.run()
        except BaseException as error:  # the test fails on it: a poison record must never end the loop
            self.error = error

    def __enter__(self) -> IngestLoop:
        self.thread.start()
        assert self.loop.joined.wait(60), "the consumer did not join its group"
        return self.loop

    def __exit__(self, *exc) -> None:
        self.loop.stop()
        self.thread.join(60)
        assert not self.thread.is_alive() and self.error is None, self.error


class Latin1Name(str):
    """A header name written as Latin-1, as a librdkafka or hand-built producer can (kafka-python cannot parse it)."""

    def encode(self, *args, **kwargs) -> bytes:
        return str(self).encode("latin-1")


def upsert(doc_id: str, version: int = 1, text: str | None = None, tenant: str = "acme", **fields) -> DocumentEvent:
    return DocumentEvent(op="upsert", tenant=tenant, doc_id=doc_id, version=version,
                         text=text or f"Document {doc_id} version {version} talks about rivers and ledgers.", **fields)


def raw(name: str) -> bytes:
    return (BAD_EVENTS_DIR / name).read_bytes()


def produce_all(settings, items) -> list[tuple[int, int]]:
    """items: events (keyed properly), (raw bytes, key) pairs, (event, key, partition) triples, or (event, key,
    partition, headers) for headers no well-behaved producer sends."""
    # a producer allowed larger requests than the worker's (1 MiB): its dead-letter copies must be cut
    with DocumentProducer(settings.kafka, max_request_size=4 * 2**20) as producer:
        plain = kafka_clients.producer(settings.kafka)
        futures = []
        for item in items:
            if isinstance(item, DocumentEvent):
                futures.append(producer.send(item))
            elif len(item) == 2:
                futures.append(producer.send_raw(item[0], key=item[1]))
            else:
                event, key, partition, *headers = item
                futures.append(plain.send(settings.kafka.documents_topic, key=key, value=event.to_bytes(),
                                          partition=partition, headers=headers[0] if headers else None))
        producer.flush()
        plain.flush()
        sources = [(m.partition, m.offset) for m in (f.get(30) for f in futures)]
        plain.close()
        return sources


def settled(loop: IngestLoop, timeout_s: float = 15) -> dict:
    """The loop's stats once every partition is flowing: it sends a batch's outcomes before it commits and
    records the progress, so a reader can see the last outcome a moment before the failure is cleared."""
    deadline = time.monotonic() + timeout_s
    while True:
        stats = loop.stats.snapshot()
        if time.monotonic() > deadline or all(e["failure"] is None for e in stats["partitions"].values()):
            return stats
        time.sleep(0.1)


def dead_letters(settings, count: int, timeout_s: float = 60) -> dict[tuple[int, int], tuple[DeadLetterHeaders, bytes]]:
    reader = TopicReader(settings.kafka, settings.kafka.dlq_topic)
    try:
        deadline = time.monotonic() + timeout_s
        while len(reader.records) < count and time.monotonic() < deadline:
            reader.poll()
        time.sleep(0.5)
        reader.poll()
        out = {}
        for record in reader.records:
            headers = DeadLetterHeaders.from_kafka(record.headers)
            out[(headers.source_partition, headers.source_offset)] = (headers, record.value)
        return out
    finally:
        reader.close()
