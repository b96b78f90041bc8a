"""Reads a whole topic from the beginning without joining a group (status pages, audits, benchmarks, tests)."""

from __future__ import annotations

import time

from kafka.consumer.fetcher import ConsumerRecord

from ragstream import kafka_clients
from ragstream.settings import KafkaSettings


class TopicReader:
    """Keeps reading where it left off; ``records`` holds everything read so far."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self.consumer = kafka_clients.consumer(kafka, topic, group_id=None)
        self.records: list[ConsumerRecord] = []

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
