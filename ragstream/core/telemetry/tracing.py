"""Tracing set-up from the standard ``OTEL_*`` variables, the same in every process (CLI, workers, Serve replicas).

Where spans go: ``RAGSTREAM_TELEMETRY__TRACES_FILE`` (JSON lines, what ``ragstream up --traces`` sets), else
``OTEL_TRACES_EXPORTER`` (``otlp``, ``console``, ``none``), else OTLP when an OTLP endpoint is set, else nowhere —
and with nowhere to go, no tracer provider is installed and every span is a no-op. Sampling is parent-based with
``OTEL_TRACES_SAMPLER_ARG`` as the ratio for new traces (1.0 when unset), so a sampled caller is always followed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import ParentBasedTraceIdRatio

TRACES_FILE = "RAGSTREAM_TELEMETRY__TRACES_FILE"
_lock = threading.Lock()
_configured = False


class JsonLinesExporter(SpanExporter):
    """One JSON object per span, appended: readable with ``jq``, safe for several processes appending."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._out: IO[str] = path.open("a", buffering=1)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = "".join(json.dumps(json.loads(span.to_json()), separators=(",", ":")) + "\n" for span in spans)
        with self._lock:
            self._out.write(lines)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        self._out.close()


def exporter_name() -> str:
    if os.environ.get(TRACES_FILE):
        return "file"
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if chosen:
        return chosen
    endpoint = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return "otlp" if endpoint else "none"


def environment() -> dict[str, str]:
    """The variables that decide tracing, to hand to processes started elsewhere (Ray workers, replicas)."""
    return {name: value for name, value in os.environ.items() if name.startswith("OTEL_") or name == TRACES_FILE}


def enabled() -> bool:
    return exporter_name() != "none"


def sampling_ratio() -> float:
    return float(os.environ.get("OTEL_TRACES_SAMPLER_ARG") or 1.0)


def _exporter() -> SpanExporter | None:
    name = exporter_name()
    if name == "file":
        return JsonLinesExporter(Path(os.environ[TRACES_FILE]))
    if name == "console":
        return ConsoleSpanExporter()
    if name == "otlp":
        if os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf") == "grpc":
            raise ValueError("OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not installed; use http/protobuf")
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        return OTLPSpanExporter()
    if name == "none":
        return None
    raise ValueError(f"OTEL_TRACES_EXPORTER={name!r}: ragstream exports otlp, console or none")


def span_processors() -> list[SpanProcessor]:
    """Ray Serve's tracing exporter hook (``TracingConfig.exporter_import_path``) and our own set-up share this."""
    exporter = _exporter()
    return [BatchSpanProcessor(exporter, schedule_delay_millis=500)] if exporter else []


def configure(service_name: str) -> bool:
    """Installs the process's tracer provider once; False (nothing installed) when traces go nowhere."""
    global _configured
    with _lock:
        if _configured:
            return True
        processors = span_processors()
        if not processors:
            return False
        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service_name)})
        provider = TracerProvider(resource=resource, sampler=ParentBasedTraceIdRatio(sampling_ratio()))
        for processor in processors:
            provider.add_span_processor(processor)
        trace.set_tracer_provider(provider)
        _configured = True
        return True


def flush(timeout_ms: int = 5000) -> None:
    """Short-lived processes (the CLI) export what they traced before exiting."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.force_flush(timeout_ms)


def tracer() -> trace.Tracer:
    return trace.get_tracer("ragstream")
