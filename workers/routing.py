"""One document, one partition, one order: a record must carry its document's key and sit on the partition Kafka's
default partitioner gives that key, or two versions of one document could be applied by two workers in any order.
"""

from __future__ import annotations

import re

from kafka.consumer.fetcher import ConsumerRecord
from kafka.partitioner.default import murmur2

from ragstream.schemas.events import DocId, DocumentEvent, TenantId

FIX = ("produce with key tenant/doc_id and Kafka's default murmur2 partitioner (librdkafka clients: "
       "partitioner=murmur2_random; never pick the partition by hand)")
_DOC_KEY = re.compile(TenantId.__metadata__[0].pattern.strip("^$") + "/" + DocId.__metadata__[0].pattern.strip("^$"))


def default_partition(key: bytes, partitions: int) -> int:
    """What the Java client's and kafka-python's default partitioner choose for a keyed record."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def misrouted(key: bytes | None, partition: int, event: DocumentEvent, partitions: int | None) -> str | None:
    """The reason the record is misrouted, or None; ``partitions`` is the topic's partition count when known."""
    expected = event.key.encode()
    if key != expected:
        shown = key.decode("utf-8", "replace")[:300] if key is not None else None
        return f"record key {shown!r} is not {event.key!r} (tenant/doc_id of its value): {FIX}"
    if partitions and (wanted := default_partition(expected, partitions)) != partition:
        return (f"record for {event.key!r} is on partition {partition}, but the default partitioner puts that key on "
                f"partition {wanted} of {partitions}: {FIX}")
    return None


def doc_keys(records: list[ConsumerRecord]) -> set[str]:
    """The records' keys that can name a document (others are dead-lettered as misrouted anyway)."""
    keys = {record.key.decode("utf-8", "replace") for record in records if record.key}
    return {key for key in keys if _DOC_KEY.fullmatch(key)}
