"""Operator metrics of one ingest worker, served as Prometheus text on its own port.

Consumer lag is the broker's high watermark as the consumer last saw it in a fetch response, minus the consumer's
position: not the admin API's end offsets, which the embedded broker (Tansu) reports unreliably.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ragstream.core.telemetry.metrics import MS_BUCKETS, serve_registry

FRESHNESS_BUCKETS = (10, 25, 50, 100, 200, 300, 500, 750, 1000, 2000, 5000, 10000, 30000, 60000, 300000)


class IngestMetrics:
    def __init__(self, worker_id: str) -> None:
        self.registry = CollectorRegistry()
        labels = {"registry": self.registry}
        self.events = Counter("ragstream_ingest_events", "consumed records by outcome", ["outcome"], **labels)
        self.dead_letters = Counter("ragstream_ingest_dead_letters", "records sent to the dead-letter topic",
                                    ["stage"], **labels)
        self.batch_size = Histogram("ragstream_ingest_batch_records", "records per processed batch",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1000), **labels)
        self.batch_ms = Histogram("ragstream_ingest_batch_ms", "time to index, publish and commit one batch",
                                  buckets=MS_BUCKETS, **labels)
        self.freshness_ms = Histogram("ragstream_ingest_freshness_ms",
                                      "event_time → indexed, per indexed or deleted event",
                                      buckets=FRESHNESS_BUCKETS, **labels)
        self.retries = Counter("ragstream_ingest_batch_retries", "batches retried after a transient failure",
                               **labels)
        self.lag = Gauge("ragstream_ingest_consumer_lag",
                         "records behind the high watermark last seen in a fetch response, per partition",
                         ["topic", "partition"], **labels)
        self.progress = Gauge("ragstream_ingest_partition_last_progress_seconds",
                              "unix time of the last batch committed, per partition", ["partition"], **labels)
        self.stalled = Gauge("ragstream_ingest_partition_retries",
                             "retries of the batch holding a partition back since its last progress (0 = flowing)",
                             ["partition"], **labels)
        self.info = Gauge("ragstream_ingest_worker", "this worker", ["worker_id"], **labels)
        self.info.labels(worker_id).set(1)
        self.url: str | None = None

    def observe_partitions(self, partitions: dict[str, dict]) -> None:
        for name, entry in partitions.items():
            if entry["last_progress_s"] is not None:
                self.progress.labels(name).set(entry["last_progress_s"])
            self.stalled.labels(name).set(entry["retries"])

    def serve(self, host: str, port: int) -> str:
        self.url = serve_registry(self.registry, host, port)
        return self.url
