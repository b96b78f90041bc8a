"""Dead letters and outcomes, sent and confirmed before the batch's offsets are committed.

Every send's own result is checked (``flush`` alone does not raise for a record the broker refused): a failed send
is an infrastructure failure, so the loop rewinds and retries the batch instead of committing past a lost dead
letter. A dead-letter copy too large for the producer keeps its key and headers and a cut value, with the original
size and sha256 in its headers.
"""

from __future__ import annotations

import hashlib

from kafka.consumer.fetcher import ConsumerRecord
from kafka.producer.future import FutureRecordMetadata

from ragstream.schemas.dead_letter import DeadLetterHeaders

SEND_TIMEOUT_S = 30
HEADROOM = 64 * 1024  # record framing, our headers and the batch overhead under the producer's max_request_size


def clean_headers(headers) -> list[tuple[str, bytes]]:
    """The source record's headers in a form any producer accepts (a null value becomes empty)."""
    return [(str(name), value if isinstance(value, bytes) else b"" if value is None else str(value).encode())
            for name, value in (headers or [])]


class SideOutputs:
    def __init__(self, producer, max_request_size: int) -> None:
        self.producer = producer
        self.max_value = max(max_request_size - HEADROOM, 1024)
        self.pending: list[FutureRecordMetadata] = []

    def send(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> None:
        self.pending.append(self.producer.send(topic, key=key, value=value, headers=headers))

    def dead_letter(self, topic: str, record: ConsumerRecord, headers: DeadLetterHeaders) -> None:
        value = record.value or b""
        source = clean_headers(record.headers)
        if sum(len(k) + len(v) for k, v in source) > self.max_value // 2:  # headers alone could not be sent
            source = [("ragstream.dlq.headers_dropped", str(len(source)).encode())]
        room = self.max_value - len(record.key or b"") - sum(len(k) + len(v) for k, v in source)
        if len(value) > room:
            headers = headers.model_copy(update={"value_truncated_from": len(value),
                                                 "value_sha256": hashlib.sha256(value).hexdigest()})
            value = value[:max(room, 0)]
        self.send(topic, record.key, value, source + headers.to_kafka())

    def confirm(self) -> None:
        """Raises the first failed send (after waiting for all of them)."""
        pending, self.pending = self.pending, []
        self.producer.flush(timeout=SEND_TIMEOUT_S)
        for future in pending:
            future.get(timeout=SEND_TIMEOUT_S)
