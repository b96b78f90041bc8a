"""Builds mixed event streams, computes the index they must produce, and reads topics back."""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from kafka.structs import OffsetAndMetadata, TopicPartition

from ragstream.core import kafka_clients
from ragstream.core.index.store import IndexStore
from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import ChunkingSettings, Settings
from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.events import DocumentEvent
from ragstream.workers.chunking import Chunker

WORDS = ("river stream index vector kafka milvus chunk tenant version replay offset broker worker embed search "
         "answer question fresh stale delete update latency cluster partition commit model token passage title "
         "ocean mountain forest city garden library music history science planet energy").split()

BAD_EVENTS_DIR = Path(__file__).parents[1] / "tests" / "data" / "bad_events"


def bad_events() -> list[tuple[str, bytes, str]]:
    """The bad-input corpus: (case, raw value, substring its dead-letter reason must contain)."""
    index = json.loads((BAD_EVENTS_DIR / "index.json").read_text())
    return [(c["case"], (BAD_EVENTS_DIR / c["file"]).read_bytes(), c["reason"]) for c in index]


BAD_EVENTS: list[tuple[bytes, str]] = [(value, reason) for _, value, reason in bad_events()]


def paragraph(rng: random.Random, words: int) -> str:
    sentences, current = [], []
    for _ in range(words):
        current.append(rng.choice(WORDS))
        if len(current) >= rng.randint(6, 14):
            sentences.append(" ".join(current).capitalize() + ".")
            current = []
    if current:
        sentences.append(" ".join(current).capitalize() + ".")
    return " ".join(sentences)


@dataclass
class Stream:
    """Valid events in produce order, interleaved with bad raw values (kept in their own list)."""

    items: list[DocumentEvent | bytes] = field(default_factory=list)

    @property
    def events(self) -> list[DocumentEvent]:
        return [i for i in self.items if isinstance(i, DocumentEvent)]

    @property
    def bad(self) -> list[bytes]:
        return [i for i in self.items if isinstance(i, bytes)]


def mixed_stream(seed: int = 7, docs: int = 180, tenants: tuple[str, ...] = ("acme", "globex"), changes: int = 300,
                 words: tuple[int, int] = (20, 260), paragraphs: int = 3) -> Stream:
    """New docs, new versions (longer and shorter), stale versions, duplicates, deletes, re-creations, bad events.
    ``changes`` events follow the ``docs`` creations; ``words`` and ``paragraphs`` bound each text."""
    rng = random.Random(seed)
    stream = Stream()
    latest: dict[tuple[str, str], DocumentEvent] = {}

    def upsert(tenant: str, doc_id: str, version: int) -> DocumentEvent:
        text = "\n\n".join(paragraph(rng, rng.randint(*words)) for _ in range(rng.randint(1, paragraphs)))
        return DocumentEvent(op="upsert", tenant=tenant, doc_id=doc_id, version=version, text=text,
                             title=f"{doc_id} title", metadata={"source": "test", "n": rng.randint(0, 9)})

    for n in range(docs):
        key = (rng.choice(tenants), f"doc-{n}")
        latest[key] = upsert(*key, version=1)
        stream.items.append(latest[key])
    keys = list(latest)
    mix = {"version": 130, "stale": 50, "duplicate": 50, "delete": 45, "recreate": 25}  # per 300 changes
    actions = [action for action, share in mix.items() for _ in range(share * changes // 300)]
    rng.shuffle(actions)
    bad = list(BAD_EVENTS) * 2
    for i, action in enumerate(actions):
        key = rng.choice(keys)
        current = latest[key]
        if action == "version":
            latest[key] = upsert(*key, version=current.version + rng.randint(1, 3))
            stream.items.append(latest[key])
        elif action == "stale":
            stream.items.append(upsert(*key, version=max(current.version - 1, 0)))
        elif action == "duplicate":
            stream.items.append(current)
        elif action == "delete":
            latest[key] = DocumentEvent(op="delete", tenant=key[0], doc_id=key[1], version=current.version + 1)
            stream.items.append(latest[key])
        else:
            latest[key] = upsert(*key, version=current.version + 2)
            stream.items.append(latest[key])
        if bad and i % max(changes // 30, 1) == 3:
            stream.items.append(bad.pop()[0])
    stream.items.extend(value for value, _ in bad)
    return stream


def expected_chunks(events: list[DocumentEvent], chunking: ChunkingSettings) -> dict[str, str]:
    """The index a correct worker must hold: per document the newest version (ties: the later event) wins."""
    winners: dict[str, DocumentEvent] = {}
    for event in events:
        current = winners.get(event.key)
        if current is None or event.version >= current.version:
            winners[event.key] = event
    chunker = Chunker(chunking)
    return {c.id: c.text for e in winners.values() if e.op == "upsert" for c in chunker.split(e)}


def produce(settings: Settings, stream: Stream) -> list[tuple[int, int]]:
    """Produces the stream in order; returns the (partition, offset) of every record."""
    with DocumentProducer(settings.kafka) as producer:
        futures = [producer.send(item) if isinstance(item, DocumentEvent) else producer.send_raw(item, key=b"bad")
                   for item in stream.items]
        producer.flush()
        return [(m.partition, m.offset) for m in (f.get(30) for f in futures)]


def wait_for_outcomes(reader: TopicReader, sources: list[tuple[int, int]], times: int = 1,
                      timeout_s: float = 240.0) -> list[dict]:
    """Waits until every source record has at least ``times`` outcomes; returns all outcomes read."""
    deadline = time.monotonic() + timeout_s
    wanted = Counter({s: times for s in sources})
    while True:
        reader.poll()
        outcomes = [json.loads(r.value) for r in reader.records]
        seen = Counter((o["source_partition"], o["source_offset"]) for o in outcomes)
        missing = [s for s in wanted if seen[s] < times]
        if not missing:
            return outcomes
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(missing)} of {len(wanted)} records have no outcome yet, e.g. {missing[:5]}")


def index_rows(settings) -> list[dict]:
    store = IndexStore(settings.milvus, settings.models.embedder.dimension)
    try:
        return store.chunk_rows(("id", "text", "doc_id", "version"))
    finally:
        store.close()


def index_diff(settings, stream) -> dict[str, int]:
    """The index against the state the event log implies: chunks missing, rows stored twice, chunks of versions
    or documents that should be gone, and chunks whose text differs."""
    expected = expected_chunks(stream.events, settings.chunking)
    rows = index_rows(settings)
    actual = {row["id"]: row["text"] for row in rows}
    return {"chunks": len(expected), "lost": len(set(expected) - set(actual)),
            "duplicated": len(rows) - len(actual), "stale": len(set(actual) - set(expected)),
            "wrong_text": sum(actual[i] != text for i, text in expected.items() if i in actual)}


def assert_index_matches(settings, stream) -> dict[str, int]:
    diff = index_diff(settings, stream)
    assert diff | {"chunks": 0} == dict.fromkeys(diff, 0), diff
    return diff


def reset_group_to_start(settings) -> None:
    kafka = settings.kafka
    consumer = kafka_clients.consumer(kafka, group_id=kafka.consumer_group)
    partitions = [TopicPartition(kafka.documents_topic, p) for p in range(kafka.partitions)]
    consumer.assign(partitions)
    consumer.commit({tp: OffsetAndMetadata(0, "", -1) for tp in partitions})
    consumer.close(autocommit=False)
