"""Operator metrics of the query path, served as Prometheus text at ``/metrics`` by each ingress replica."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from ragstream.core.telemetry.metrics import MS_BUCKETS


class QueryMetrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("ragstream_http_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=self.registry)
        self.request_ms = Histogram("ragstream_http_request_ms", "time to the response headers",
                                    ["route"], buckets=MS_BUCKETS, registry=self.registry)
        self.stage_ms = Histogram("ragstream_stage_ms", "compute time per query stage", ["stage"],
                                  buckets=MS_BUCKETS, registry=self.registry)
        self.tokens = Counter("ragstream_generated_tokens", "completion tokens generated", registry=self.registry)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage_ms.labels(stage).observe(ms)

    def render(self) -> bytes:
        return generate_latest(self.registry)
