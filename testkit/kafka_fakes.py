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


class LogConsumer:
    """A consumer over an in-memory log: polls from each partition's position, honours seeks, keeps commits. What
    the ingest loop needs of kafka-python's consumer, in one group generation, without a broker."""

    def __init__(self, log: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        self.log, self.owned = log, set(log)
        self.positions = {tp: 0 for tp in log}
        self.committed: dict[TopicPartition, int] = {}
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.generation_id, self.rejoin_needed = 1, False
        self._coordinator = self

    def generation_if_stable(self):
        return self

    def assignment(self) -> set[TopicPartition]:
        return self.owned

    def partitions_for_topic(self, topic: str) -> set[int]:
        return {tp.partition for tp in self.log if tp.topic == topic}

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.log[tp])

    def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self.positions[tp] = offset

    def poll(self, timeout_ms: int, max_records: int) -> dict[TopicPartition, list[ConsumerRecord]]:
        polled = {}
        for tp in sorted(self.owned):
            taken = self.log[tp][self.positions[tp]:self.positions[tp] + max_records - sum(map(len, polled.values()))]
            if taken:
                polled[tp] = taken
                self.positions[tp] += len(taken)
        return polled

    def commit(self, offsets: dict) -> None:
        self.committed.update({tp: meta.offset for tp, meta in offsets.items()})

    def caught_up(self) -> bool:
        return all(self.committed.get(tp) == len(records) for tp, records in self.log.items() if tp in self.owned)
