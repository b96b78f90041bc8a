"""OpenTelemetry tracing (set-up, Kafka header propagation, spans fanned out over batches) and Prometheus metrics."""
