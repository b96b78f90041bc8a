"""What ``ragstream status`` shows: the topics, the outcomes, the index and how far each partition got."""

from __future__ import annotations

import json
import statistics
from collections import Counter

from rich.table import Table

from ragstream.settings import Settings


def _read_topic(settings: Settings, topic: str) -> list:
    from ragstream.topic_reader import TopicReader

    with TopicReader(settings.kafka, topic) as reader:
        return reader.read_until_quiet()


def partitions_table(documents: list, outcomes: list[dict]) -> Table:
    """Per partition: how far processing got and when it last moved, so a stuck partition stands out (the
    workers' /metrics add the retries and the failure holding it: ragstream_ingest_partition_retries)."""
    table = Table(title="partitions of the documents topic")
    for column in ("partition", "records", "processed", "behind", "last progress"):
        table.add_column(column, justify="right")
    last: dict[int, int] = {}
    latest: dict[int, str] = {}
    for outcome in outcomes:
        partition = outcome["source_partition"]
        last[partition] = max(last.get(partition, -1), outcome["source_offset"])
        latest[partition] = max(latest.get(partition, ""), outcome["indexed_time"])
    ends: dict[int, int] = {}
    for record in documents:
        ends[record.partition] = max(ends.get(record.partition, -1), record.offset)
    for partition in sorted(ends):
        behind = ends[partition] - last.get(partition, -1)
        table.add_row(str(partition), str(ends[partition] + 1), str(last.get(partition, -1) + 1),
                      f"[red]{behind}[/]" if behind else "0", latest.get(partition, "never"))
    return table


def status_tables(settings: Settings) -> list[Table]:
    """Per-topic counts, outcomes, dead letters, index size and recent freshness; then per partition."""
    from ragstream.index.store import IndexStore

    kafka = settings.kafka
    documents = _read_topic(settings, kafka.documents_topic)
    produced = len(documents)
    dlq = len(_read_topic(settings, kafka.dlq_topic))
    outcomes = [json.loads(r.value) for r in _read_topic(settings, kafka.index_events_topic)]
    store = IndexStore(settings.milvus, settings.models.embedder.dimension)
    try:
        chunks = store.count_chunks() if store.client.has_collection(store.chunks) else 0
    finally:
        store.close()
    table = Table(title="ragstream status")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row(kafka.documents_topic, f"{produced} events")
    table.add_row(kafka.index_events_topic, f"{len(outcomes)} outcomes")
    table.add_row(kafka.dlq_topic, f"{dlq} dead letters")
    table.add_row("not yet processed (approx.)", str(max(produced - len(outcomes), 0)))
    for outcome, count in sorted(Counter(o["outcome"] for o in outcomes).items()):
        table.add_row(f"  {outcome}", str(count))
    table.add_row("chunks in index", str(chunks))
    recent = [o["freshness_ms"] for o in outcomes[-1000:] if o["outcome"] in ("indexed", "deleted")]
    if len(recent) >= 2:
        cuts = statistics.quantiles(recent, n=100)
        table.add_row("freshness p50 / p99 (last 1000)", f"{cuts[49]:.0f} ms / {cuts[98]:.0f} ms")
    return [table, partitions_table(documents, outcomes)]
