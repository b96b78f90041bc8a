"""What the Prometheus metrics of the API and the workers share: latency buckets and the scrape endpoint."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, start_http_server

# Milliseconds, from a cache hit to a cold model call.
MS_BUCKETS = (1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000)


def serve_registry(registry: CollectorRegistry, host: str, port: int) -> str:
    """Serves ``/metrics`` of one registry on a thread; port 0 takes a free one. Returns the scrape URL."""
    server, _ = start_http_server(port, addr=host, registry=registry)
    return f"http://{host}:{server.server_port}/metrics"
