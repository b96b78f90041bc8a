"""W3C trace context in Kafka record headers (``traceparent`` / ``tracestate``), both directions.

Kafka headers are ``(str, bytes)`` pairs; the propagator works on text maps, so the getter/setter translate.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.propagators.textmap import Getter, Setter

Headers = list[tuple[str, bytes]]


class _HeaderGetter(Getter[Iterable[tuple[str, bytes]]]):
    def get(self, carrier, key: str) -> list[str] | None:
        values = [value.decode("latin-1") for name, value in carrier or () if name == key and value is not None]
        return values or None

    def keys(self, carrier) -> list[str]:
        return [name for name, _ in carrier or ()]


class _HeaderSetter(Setter[Headers]):
    def set(self, carrier: Headers, key: str, value: str) -> None:
        carrier[:] = [(name, v) for name, v in carrier if name != key]
        carrier.append((key, value.encode("latin-1")))


def inject(headers: Headers, context: Context | None = None) -> Headers:
    """Adds the current (or given) span's context to the headers and returns them."""
    propagate.inject(headers, context=context, setter=_HeaderSetter())
    return headers


def extract(headers: Iterable[tuple[str, bytes]] | None) -> Context:
    return propagate.extract(list(headers or ()), getter=_HeaderGetter())


def trace_id(context: Context | None = None) -> str | None:
    """Hex trace id of the span in the context, None when there is no valid one."""
    span_context = trace.get_current_span(context).get_span_context()
    return format(span_context.trace_id, "032x") if span_context.is_valid else None
