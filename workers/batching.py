"""Bounds one batch by bytes as well as by records, so the work between two polls stays within what one Milvus write,
one model request and the poll interval can take."""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import TopicPartition


def bounded(consumer, polled: dict[TopicPartition, list[ConsumerRecord]],
             max_bytes: int) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The longest prefix of the poll within ``max_bytes`` of keys and values (at least one record); the rest is
    sought back and comes again with the next poll."""
    kept: dict[TopicPartition, list[ConsumerRecord]] = {}
    size, full = 0, False
    for tp, batch in polled.items():
        taken = 0
        for record in batch:
            size += len(record.value or b"") + len(record.key or b"")
            full = full or (size > max_bytes and bool(kept or taken))
            if full:
                break
            taken += 1
        if taken:
            kept[tp] = batch[:taken]
        if taken < len(batch):
            consumer.seek(tp, batch[taken].offset)
    return kept
