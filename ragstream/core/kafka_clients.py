"""Kafka clients built from settings, so security options and bootstrap servers are set in one place."""

from __future__ import annotations

from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer

from ragstream.core.settings import KafkaSettings


def _connection(kafka: KafkaSettings) -> dict[str, Any]:
    if not kafka.bootstrap_servers:
        raise RuntimeError(
            "no Kafka bootstrap servers: start the local stack with `ragstream up` "
            "or set RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS"
        )
    options: dict[str, Any] = {
        "bootstrap_servers": kafka.bootstrap_servers.split(","),
        "security_protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        options["sasl_mechanism"] = kafka.sasl_mechanism
        options["sasl_plain_username"] = kafka.sasl_username
        options["sasl_plain_password"] = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
    if kafka.ssl_cafile:
        options["ssl_cafile"] = str(kafka.ssl_cafile)
    return options


def producer(kafka: KafkaSettings, **overrides: Any) -> KafkaProducer:
    options = {"acks": "all", "linger_ms": 2, "retries": 10, **overrides}
    return KafkaProducer(**_connection(kafka), **options)


def consumer(kafka: KafkaSettings, *topics: str, **overrides: Any) -> KafkaConsumer:
    options = {
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "session_timeout_ms": kafka.session_timeout_ms,
        "heartbeat_interval_ms": kafka.heartbeat_interval_ms,
        "max_poll_interval_ms": kafka.max_poll_interval_ms,
        **overrides,
    }
    return KafkaConsumer(*topics, **_connection(kafka), **options)


def admin(kafka: KafkaSettings) -> KafkaAdminClient:
    return KafkaAdminClient(**_connection(kafka))
