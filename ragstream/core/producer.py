"""Produces document events: keyed by tenant/doc_id so each document's versions stay ordered on one partition.

Each send is a ``send <topic>`` producer span, open until the broker acknowledges, whose context travels in the
record's ``traceparent`` header: the worker that indexes the event continues the same trace.
"""

from __future__ import annotations

from typing import Any

from kafka.producer.future import FutureRecordMetadata
from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

from ragstream.core import kafka_clients
from ragstream.core.settings import KafkaSettings
from ragstream.core.telemetry.propagation import inject
from ragstream.core.telemetry.tracing import tracer
from ragstream.schemas.events import DocumentEvent


class DocumentProducer:
    def __init__(self, kafka: KafkaSettings, **producer_options: Any) -> None:
        self.topic = kafka.documents_topic
        self._producer = kafka_clients.producer(kafka, **producer_options)

    def send(self, event: DocumentEvent) -> FutureRecordMetadata:
        attributes = {"ragstream.tenant": event.tenant, "ragstream.doc_id": event.doc_id,
                      "ragstream.version": event.version, "ragstream.op": event.op}
        return self._traced_send(event.key.encode(), event.to_bytes(),
                                 {k: v for k, v in attributes.items() if v is not None})

    def send_raw(self, value: bytes, key: bytes | None = None) -> FutureRecordMetadata:
        """For tools and tests that must put arbitrary bytes on the topic."""
        return self._traced_send(key, value, {})

    def _traced_send(self, key: bytes | None, value: bytes, attributes: dict) -> FutureRecordMetadata:
        span = tracer().start_span(f"send {self.topic}", kind=SpanKind.PRODUCER, attributes={
            "messaging.system": "kafka", "messaging.destination.name": self.topic,
            "messaging.operation.type": "send", "messaging.message.body.size": len(value), **attributes})
        future = self._producer.send(self.topic, key=key, value=value,
                                     headers=inject([], trace.set_span_in_context(span)))

        def acknowledged(metadata) -> None:
            span.set_attributes({"messaging.destination.partition.id": str(metadata.partition),
                                 "messaging.kafka.offset": metadata.offset})
            span.end()

        def failed(error: BaseException) -> None:
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            span.end()

        return future.add_callback(acknowledged).add_errback(failed)

    def upsert(self, tenant: str, doc_id: str, version: int | None, text: str, title: str = "",
               metadata: dict | None = None) -> FutureRecordMetadata:
        return self.send(DocumentEvent(op="upsert", tenant=tenant, doc_id=doc_id, version=version, text=text,
                                       title=title, metadata=metadata or {}))

    def delete(self, tenant: str, doc_id: str, version: int | None) -> FutureRecordMetadata:
        return self.send(DocumentEvent(op="delete", tenant=tenant, doc_id=doc_id, version=version))

    def flush(self, timeout: float | None = 30) -> None:
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        self._producer.close(timeout=10)

    def __enter__(self) -> DocumentProducer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
