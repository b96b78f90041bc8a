"""Stand-ins for kafka-python's consumer and producer, for tests of the ingest loop's pieces without a broker:
records, a consumer that answers polls from a script and records seeks, a producer whose sends succeed or fail."""

from __future__ import annotations

from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import KafkaTimeoutError
from kafka.producer.future import FutureProduceResult, FutureRecordMetadata
from kafka.structs import TopicPartition

P0, P1 = TopicPartition("docs", 0), TopicPartition("docs", 1)


def record(offset: int, value: bytes = b"x", partition: int = 0, key: bytes | None = b"k",
           headers=None) -> ConsumerRecord:
    return ConsumerRecord("docs", partition, 0, offset, 0, 0, key, value, headers or [], None, len(key or b""),
                          len(value), -1)


class SeekRecorder:
    def __init__(self) -> None:
        self.sought: dict[TopicPartition, int] = {}

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.sought[tp] = offset


class ScriptedConsumer(SeekRecorder):
    """Answers each poll with the next scripted result; the broker holds ``highwater`` records of each partition;
    ``rebalance_at`` makes that poll start a new generation."""

    def __init__(self, polls: list[dict], highwater: dict, rebalance_at: int | None = None) -> None:
        super().__init__()
        self._polls, self._highwater, self._rebalance_at = polls, highwater, rebalance_at
        self.generation_id, self.calls, self.owned = 1, [], {P0, P1}
        self._coordinator = self

    def generation_if_stable(self):
        return self

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    def highwater(self, tp: TopicPartition) -> int | None:
        return self._highwater.get(tp)

    def poll(self, timeout_ms: int, max_records: int) -> dict:
        self.calls.append(max_records)
        if len(self.calls) - 1 == self._rebalance_at:
            self.generation_id += 1
        return self._polls.pop(0) if self._polls else {}


class FakeProducer:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple] = []
        self.fail = fail

    def send(self, topic, key, value, headers):
        self.sent.append((topic, key, value, headers))
        future = FutureRecordMetadata(FutureProduceResult(TopicPartition(topic, 0)), 0, 0, 0, 0, len(value), -1)
        if self.fail:
            future.failure(KafkaTimeoutError("broker did not acknowledge"))
        else:
            future.success(None)
        return future

    def flush(self, timeout=None):
        pass
