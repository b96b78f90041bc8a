"""What ``ragstream status`` shows: the topics, the outcomes, the index and how far each partition got.

Each call reads only what arrived since the last one: the tally (counts, per-partition progress, the last
freshness figures) and where reading stopped are kept in the data folder (``status.json``), keyed by the broker
and the topic names, so a call costs the new records, not the topics' whole history. ``--full`` starts over.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field
from rich.table import Table

from ragstream.core.settings import Settings

RECENT = 1000  # outcomes the freshness percentiles are taken over
STATUS_FILE = "status.json"


class Tally(BaseModel):
    """Everything the tables need, updated record by record (partition numbers as strings: JSON keys)."""

    source: str = ""  # broker and topics the tally was read from
    positions: dict[str, dict[str, int]] = Field(default_factory=dict)  # topic → partition → next offset
    records: dict[str, int] = Field(default_factory=dict)  # documents topic: partition → records
    processed: dict[str, int] = Field(default_factory=dict)  # partition → highest source offset with an outcome
    last_progress: dict[str, str] = Field(default_factory=dict)  # partition → newest indexed_time
    outcomes: Counter[str] = Field(default_factory=Counter)
    dead_letters: int = 0
    recent_freshness_ms: list[float] = Field(default_factory=list)

    def add_document(self, record: Any) -> None:
        key = str(record.partition)
        self.records[key] = max(self.records.get(key, 0), record.offset + 1)

    def add_outcome(self, outcome: dict) -> None:
        key = str(outcome["source_partition"])
        self.processed[key] = max(self.processed.get(key, -1), outcome["source_offset"])
        self.last_progress[key] = max(self.last_progress.get(key, ""), outcome["indexed_time"])
        self.outcomes[outcome["outcome"]] += 1
        if outcome["outcome"] in ("indexed", "deleted"):
            self.recent_freshness_ms.append(outcome["freshness_ms"])


def _source(settings: Settings) -> str:
    kafka = settings.kafka
    return f"{kafka.bootstrap_servers}|{kafka.documents_topic}|{kafka.index_events_topic}|{kafka.dlq_topic}"


def load_tally(path: Path, settings: Settings) -> Tally:
    """The stored tally when it was read from this broker and these topics, else an empty one."""
    if path.exists():
        try:
            tally = Tally.model_validate_json(path.read_text())
        except ValueError:  # an older or damaged file: start over
            tally = Tally()
        if tally.source == _source(settings):
            return tally
    return Tally(source=_source(settings))


def update(tally: Tally, settings: Settings) -> Tally:
    """Reads each topic from where the tally stopped. On Kafka a stored position beyond a partition's end (the topic
    was recreated) fails the fetch and starts the tally over; the embedded broker answers such a fetch with nothing,
    and a recreated topic that already grew past the stored positions goes unnoticed anywhere: ``--full`` then."""
    from kafka.errors import OffsetOutOfRangeError

    try:
        return _read_new(tally, settings)
    except OffsetOutOfRangeError:
        return _read_new(Tally(source=tally.source), settings)


def _read_new(tally: Tally, settings: Settings) -> Tally:
    from ragstream.core.topic_reader import TopicReader

    kafka = settings.kafka
    for topic, add in ((kafka.documents_topic, tally.add_document),
                       (kafka.index_events_topic, lambda r: tally.add_outcome(json.loads(r.value))),
                       (kafka.dlq_topic, lambda r: setattr(tally, "dead_letters", tally.dead_letters + 1))):
        start = {int(p): o for p, o in tally.positions.get(topic, {}).items()}
        with TopicReader(kafka, topic, start=start) as reader:
            for record in reader.read_until_quiet():
                add(record)
                start[record.partition] = record.offset + 1
        tally.positions[topic] = {str(p): o for p, o in start.items()}
    tally.recent_freshness_ms = tally.recent_freshness_ms[-RECENT:]
    return tally


def _store(path: Path, tally: Tally) -> None:
    """Atomically, and never failing the command: a folder it may not write only costs the next call a recount."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".tmp")
        partial.write_text(tally.model_dump_json())
        os.replace(partial, path)
    except OSError as error:
        print(f"status tally not kept ({error}): the next call recounts", file=sys.stderr)


def partitions_table(tally: Tally) -> Table:
    """Per partition: how far processing got and when it last moved, so a stuck partition stands out (the
    workers' /metrics add the retries and the failure holding it: ragstream_ingest_partition_retries)."""
    table = Table(title="partitions of the documents topic")
    for column in ("partition", "records", "processed", "behind", "last progress"):
        table.add_column(column, justify="right")
    for key in sorted(tally.records, key=int):
        done = tally.processed.get(key, -1) + 1
        behind = tally.records[key] - done
        table.add_row(key, str(tally.records[key]), str(done), f"[red]{behind}[/]" if behind else "0",
                      tally.last_progress.get(key, "never"))
    return table


def status_tables(settings: Settings, full: bool = False) -> list[Table]:
    """Per-topic counts, outcomes, dead letters, index size and recent freshness; then per partition."""
    from ragstream.core.index.store import IndexStore

    path = settings.local.data_dir / STATUS_FILE
    tally = update(Tally(source=_source(settings)) if full else load_tally(path, settings), settings)
    _store(path, tally)
    store = IndexStore(settings.milvus, settings.models.embedder.dimension)
    try:
        chunks = store.count_chunks() if store.client.has_collection(store.chunks) else 0
    finally:
        store.close()
    kafka, produced, seen = settings.kafka, sum(tally.records.values()), sum(tally.outcomes.values())
    table = Table(title="ragstream status")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row(kafka.documents_topic, f"{produced} events")
    table.add_row(kafka.index_events_topic, f"{seen} outcomes")
    table.add_row(kafka.dlq_topic, f"{tally.dead_letters} dead letters")
    table.add_row("not yet processed (approx.)", str(max(produced - seen, 0)))
    for outcome, count in sorted(tally.outcomes.items()):
        table.add_row(f"  {outcome}", str(count))
    table.add_row("chunks in index", str(chunks))
    if len(recent := tally.recent_freshness_ms) >= 2:
        cuts = statistics.quantiles(recent, n=100)
        table.add_row(f"freshness p50 / p99 (last {len(recent)})", f"{cuts[49]:.0f} ms / {cuts[98]:.0f} ms")
    return [table, partitions_table(tally)]
