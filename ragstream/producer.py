"""Produces document events: keyed by tenant/doc_id so each document's versions stay ordered on one partition."""

from __future__ import annotations

from typing import Any

from kafka.producer.future import FutureRecordMetadata

from ragstream import kafka_clients
from ragstream.settings import KafkaSettings
from schemas.events import DocumentEvent


class DocumentProducer:
    def __init__(self, kafka: KafkaSettings, **producer_options: Any) -> None:
        self.topic = kafka.documents_topic
        self._producer = kafka_clients.producer(kafka, **producer_options)

    def send(self, event: DocumentEvent) -> FutureRecordMetadata:
        return self._producer.send(self.topic, key=event.key.encode(), value=event.to_bytes())

    def send_raw(self, value: bytes, key: bytes | None = None) -> FutureRecordMetadata:
        """For tools and tests that must put arbitrary bytes on the topic."""
        return self._producer.send(self.topic, key=key, value=value)

    def upsert(self, tenant: str, doc_id: str, version: int, text: str, title: str = "",
               metadata: dict | None = None) -> FutureRecordMetadata:
        return self.send(DocumentEvent(op="upsert", tenant=tenant, doc_id=doc_id, version=version, text=text,
                                       title=title, metadata=metadata or {}))

    def delete(self, tenant: str, doc_id: str, version: int) -> FutureRecordMetadata:
        return self.send(DocumentEvent(op="delete", tenant=tenant, doc_id=doc_id, version=version))

    def flush(self, timeout: float | None = 30) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.close(timeout=10)

    def __enter__(self) -> DocumentProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
