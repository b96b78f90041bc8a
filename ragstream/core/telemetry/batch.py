"""Traces of a consumed batch, following the messaging conventions: a ``process`` span per record, child of the
span that produced it, and a batch span linked to every record's producer.

Work done once for the whole batch (one embedding call, one Milvus upsert, one commit) is a ``step``: recorded
once under the batch span, and once in each record's own trace with the same start and end (its Triton calls
copied under it) and a link to the shared span, so a document's single trace shows every stage it went through from
producer to commit.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from ragstream.core.telemetry import propagation
from ragstream.core.telemetry.propagation import extract, inject
from ragstream.core.telemetry.tracing import tracer

_SHARED = otel_context.create_key("ragstream.batch-step-children")


@contextmanager
def shared_span(name: str, kind: SpanKind, attributes: dict[str, Any]) -> Iterator[Span]:
    """A client span (a Triton call); inside a batch step it is also copied into each record's trace."""
    children = otel_context.get_value(_SHARED)
    start = time.time_ns()
    with tracer().start_as_current_span(name, kind=kind, attributes=attributes) as span:
        yield span
    if children is not None:
        children.append((name, kind, attributes, start, time.time_ns()))


class BatchTrace:
    def __init__(self, records: Sequence[Any], consumer_group: str, worker_id: str) -> None:
        self._tracer = tracer()
        parents = [extract(record.headers) for record in records]
        links = [Link(context) for context in (trace.get_current_span(p).get_span_context() for p in parents)
                 if context.is_valid]
        topic = records[0].topic if records else ""
        self.batch = self._tracer.start_span(f"process {topic} batch", kind=SpanKind.CONSUMER, links=links,
                                             attributes={"messaging.system": "kafka",
                                                         "messaging.destination.name": topic,
                                                         "messaging.consumer.group.name": consumer_group,
                                                         "messaging.batch.message_count": len(records),
                                                         "ragstream.worker_id": worker_id})
        self.events: list[Span] = [
            self._tracer.start_span(f"process {record.topic}", context=parent, kind=SpanKind.CONSUMER,
                                    attributes={"messaging.system": "kafka",
                                                "messaging.destination.name": record.topic,
                                                "messaging.destination.partition.id": str(record.partition),
                                                "messaging.kafka.offset": record.offset,
                                                "messaging.consumer.group.name": consumer_group,
                                                "messaging.operation.type": "process",
                                                "ragstream.worker_id": worker_id})
            for record, parent in zip(records, parents, strict=True)]

    def annotate(self, position: int, attributes: Mapping[str, Any]) -> None:
        self.events[position].set_attributes({k: v for k, v in attributes.items() if v is not None})

    def trace_id(self, position: int) -> str | None:
        return propagation.trace_id(trace.set_span_in_context(self.events[position]))

    def headers(self, position: int) -> list[tuple[str, bytes]]:
        """Kafka headers that continue a record's trace (on its outcome record)."""
        return inject([], trace.set_span_in_context(self.events[position]))

    @contextmanager
    def step(self, name: str, positions: Iterable[int] | None = None, **attributes: Any) -> Iterator[Span]:
        """A shared piece of work: current span inside the block; client spans opened in it (``shared_span``) are
        copied, with the step, into every record's trace."""
        children: list[tuple[str, SpanKind, dict, int, int]] = []
        context = otel_context.set_value(_SHARED, children, trace.set_span_in_context(self.batch))
        start = time.time_ns()
        span = self._tracer.start_span(name, context=context, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span, context))
        try:
            yield span
        except BaseException as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            otel_context.detach(token)
            span.end()
        end = time.time_ns()
        shared = [Link(span.get_span_context())] if span.get_span_context().is_valid else []
        for position in range(len(self.events)) if positions is None else positions:
            event = self.events[position]
            if not event.is_recording():
                continue
            copy = self._tracer.start_span(name, context=trace.set_span_in_context(event), start_time=start,
                                           links=shared, attributes={**attributes,
                                                                     "ragstream.batch_size": len(self.events)})
            for child_name, kind, child_attributes, child_start, child_end in children:
                self._tracer.start_span(child_name, context=trace.set_span_in_context(copy), kind=kind,
                                        start_time=child_start, attributes=child_attributes).end(child_end)
            copy.end(end)

    def end(self, error: BaseException | None = None) -> None:
        for span in (*self.events, self.batch):
            if error is not None:
                span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: retried"))
            span.end()
