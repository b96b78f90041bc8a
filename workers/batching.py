"""One batch from the consumer: filled from several polls within a short wait, and bounded by records and bytes, so
the work between two polls stays within what one Milvus write, one model request and the poll interval can take.

Filling matters because one fetch may return far less than is waiting: Tansu on object storage answers a fetch with
the record batch or two it read, so a worker behind by thousands of single-record producer batches took one or two
records per batch and fell further behind with every batch. Filling stops as soon as the batch's partitions are
caught up (their high watermark), so an event on an idle stream is not held back.
"""

from __future__ import annotations

import time

from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CorruptRecordError
from kafka.structs import TopicPartition

from ragstream.workers.unreadable import skip_unreadable

Polled = dict[TopicPartition, list[ConsumerRecord]]


def next_batch(consumer, max_records: int, max_bytes: int, fill_ms: int, first_timeout_ms: int = 200) -> Polled:
    """Waits up to ``first_timeout_ms`` for records; then, while a partition of the batch is behind its high
    watermark, keeps polling for up to ``fill_ms`` until the batch holds ``max_records`` records or ``max_bytes``
    bytes. A caught-up stream's event is never held back; what came past the bytes bound is sought back. When the
    group changes during the fill, everything polled is sought back and the batch is empty."""
    polled = _poll(consumer, first_timeout_ms, max_records)
    deadline = time.monotonic() + fill_ms / 1000
    count, size = _count(polled)
    while count < max_records and size <= max_bytes and _behind(consumer, polled) and \
            (left := deadline - time.monotonic()) > 0:
        generation = _generation(consumer)
        more = _poll(consumer, max(int(left * 1000), 1), max_records - count)
        if generation is None or _generation(consumer) != generation or not _continues(polled, more):
            _rewind(consumer, polled, more)
            return {}
        for tp, records in more.items():
            polled.setdefault(tp, []).extend(records)  # later polls continue each partition where it stopped
        count, size = _count(polled)
    return bounded(consumer, polled, max_bytes)


def _continues(polled: Polled, more: Polled) -> bool:
    """Whether each partition's new records come after the ones already taken (a log truncation or an offset
    reset moves a position back)."""
    return all(records[0].offset > polled[tp][-1].offset for tp, records in more.items() if tp in polled)


def _rewind(consumer, polled: Polled, more: Polled) -> None:
    """The group changed during the fill (or a position moved back): nothing of it is kept. A rebalance keeps the
    positions of the partitions this worker keeps, so those are sought back to the fill's first record; the
    partitions it lost are replayed by their new owner from the commit."""
    first = {tp: records[0].offset for tp, records in more.items()}
    first.update({tp: records[0].offset for tp, records in polled.items()})
    owned = consumer.assignment()
    for tp, offset in first.items():
        if tp in owned:
            consumer.seek(tp, offset)


def _behind(consumer, polled: Polled) -> bool:
    """Whether the broker holds more of a batch's partition than the batch (as of the last fetch response)."""
    for tp, records in polled.items():
        highwater = consumer.highwater(tp)
        if highwater is not None and highwater > records[-1].offset + 1:
            return True
    return False


def _poll(consumer, timeout_ms: int, max_records: int) -> Polled:
    try:
        return consumer.poll(timeout_ms=timeout_ms, max_records=max_records)
    except CorruptRecordError as error:
        return skip_unreadable(consumer, error)


def _generation(consumer) -> int | None:
    generation = consumer._coordinator.generation_if_stable()  # kafka-python has no public accessor
    return generation.generation_id if generation else None


def _count(polled: Polled) -> tuple[int, int]:
    records = [record for batch in polled.values() for record in batch]
    return len(records), sum(_size(record) for record in records)


def _size(record: ConsumerRecord) -> int:
    return len(record.value or b"") + len(record.key or b"")


def bounded(consumer, polled: Polled, max_bytes: int) -> Polled:
    """The longest prefix of the poll within ``max_bytes`` of keys and values (at least one record); the rest is
    sought back and comes again with the next poll."""
    kept: Polled = {}
    size, full = 0, False
    for tp, batch in polled.items():
        taken = 0
        for record in batch:
            size += _size(record)
            full = full or (size > max_bytes and bool(kept or taken))
            if full:
                break
            taken += 1
        if taken:
            kept[tp] = batch[:taken]
        if taken < len(batch):
            consumer.seek(tp, batch[taken].offset)
    return kept
