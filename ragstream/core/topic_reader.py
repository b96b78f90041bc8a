"""Reads a whole topic from the beginning without joining a group (status pages, audits, benchmarks, tests)."""

from __future__ import annotations

import time

from kafka import TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from ragstream.core import kafka_clients
from ragstream.core.settings import KafkaSettings


class TopicReader:
    """Keeps reading where it left off; ``records`` holds everything read so far."""

    def __init__(self, kafka: KafkaSettings, topic: str, start: dict[int, int] | None = None) -> None:
        """``start``: partition → offset to read from (the others from their beginning); none = all from the
        beginning."""
        self.records: list[ConsumerRecord] = []
        if not start:
            self.consumer = kafka_clients.consumer(kafka, topic, group_id=None)
            return
        # A stored offset past the end (the topic was recreated) raises OffsetOutOfRangeError instead of
        # silently rereading from the start: the caller decides.
        self.consumer = kafka_clients.consumer(kafka, group_id=None, auto_offset_reset="none")
        partitions = [TopicPartition(topic, p) for p in sorted(self.consumer.partitions_for_topic(topic) or ())]
        self.consumer.assign(partitions)
        for partition in partitions:
            if partition.partition in start:
                self.consumer.seek(partition, start[partition.partition])
            else:
                self.consumer.seek_to_beginning(partition)

    def poll(self, timeout_ms: int = 300) -> int:
        """Reads what has arrived; returns how many records that was."""
        fresh = [r for batch in self.consumer.poll(timeout_ms=timeout_ms).values() for r in batch]
        self.records.extend(fresh)
        return len(fresh)

    def read_until_quiet(self, idle_s: float = 1.5) -> list[ConsumerRecord]:
        """Everything until nothing new came for ``idle_s`` (the embedded broker's end offsets are unreliable)."""
        last = time.monotonic()
        while time.monotonic() - last < idle_s:
            if self.poll():
                last = time.monotonic()
        return self.records

    def close(self) -> None:
        self.consumer.close()

    def __enter__(self) -> TopicReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
