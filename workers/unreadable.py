"""Records the Kafka client cannot parse: a header name that is not UTF-8 (librdkafka and hand-built producers can
write one), or a record that fails its CRC.

kafka-python raises ``CorruptRecordError`` from ``poll`` for such a record and then, left alone, spins inside the
next ``poll`` forever (3.0.12: the exhausted record iterator of that partition is never drained), so one record
would stall its partition for good. The worker finds where the partition stopped (its position: every record before
it was returned), turns the record into a placeholder that is dead-lettered like any undecodable record, and seeks
past it, which also frees the fetcher. Its bytes cannot be read through this client, so the dead-letter copy has no
key or value; its headers name the source partition and offset, where the original stays for the topic's retention.

A limit of the client, not removed here: kafka-python parses a producer batch from its start and stops at the first
record it cannot parse, so the records after it *in the same producer batch* cannot be read either; each of them
gets a placeholder the same way (pointing at its own offset) and the partition goes on with the next batch.
"""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import CorruptRecordError
from kafka.structs import TopicPartition


class UnreadableRecord(ConsumerRecord):
    """A placeholder for the record at ``offset`` that the client could not parse; ``reason`` says why."""

    reason: str

    @classmethod
    def at(cls, tp: TopicPartition, offset: int, error: CorruptRecordError) -> UnreadableRecord:
        record = cls(topic=tp.topic, partition=tp.partition, leader_epoch=-1, offset=offset, timestamp=-1,
                     timestamp_type=0, key=None, value=None, headers=[], checksum=None, serialized_key_size=-1,
                     serialized_value_size=-1, serialized_header_size=-1)
        record.reason = (f"the Kafka client cannot parse this record ({error}): check its producer (header names "
                         "must be UTF-8); the original is at the source partition and offset")
        return record


def skip_unreadable(consumer, error: CorruptRecordError) -> dict[TopicPartition, list[ConsumerRecord]]:
    """The poll's replacement: the unreadable record's placeholder, with the consumer moved past it. Raises
    ``error`` again when the partition cannot be found: the loop then ends and its supervisor starts it again."""
    stuck = getattr(consumer._fetcher, "_next_partition_records", None)  # no public accessor
    if stuck is None or stuck.topic_partition not in consumer.assignment():
        raise error
    tp = stuck.topic_partition
    offset = consumer.position(tp)
    consumer.seek(tp, offset + 1)  # a failed batch seeks back to ``offset``: the record comes again, raises again
    return {tp: [UnreadableRecord.at(tp, offset, error)]}
