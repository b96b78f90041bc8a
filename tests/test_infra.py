"""The embedded components start on loopback, create topics idempotently, and the durable broker survives a crash."""

from __future__ import annotations

import ipaddress
import time

import psutil
import pytest

from infra.broker import TansuBroker
from infra.object_store import ObjectStore
from infra.topics import ensure_topics, topic_names
from ragstream import kafka_clients
from ragstream.settings import KafkaSettings

pytestmark = pytest.mark.stack


def listening_addresses(pid: int) -> set[str]:
    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="tcp") if c.status == "LISTEN"}


def test_topics_are_created_once(stack):
    kafka = stack.kafka.model_copy(update={"documents_topic": "infra.docs", "dlq_topic": "infra.dlq",
                                           "index_events_topic": "infra.events"})
    assert sorted(ensure_topics(kafka)) == sorted(topic_names(kafka))
    assert ensure_topics(kafka) == []
    admin = kafka_clients.admin(kafka)
    try:
        described = admin.describe_topics(topic_names(kafka))
    finally:
        admin.close()
    assert {len(t["partitions"]) for t in described} == {kafka.partitions}


def test_durable_broker_keeps_messages_and_offsets_across_a_kill(tmp_path):
    store = ObjectStore(tmp_path / "s3", tmp_path / "logs").start()
    broker = TansuBroker(tmp_path / "logs", object_store=store).start()
    try:
        assert listening_addresses(broker._server.pid) == {"127.0.0.1"}
        kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, documents_topic="durable",
                              session_timeout_ms=6000, heartbeat_interval_ms=2000, partitions=2)
        ensure_topics(kafka)
        producer = kafka_clients.producer(kafka)
        for i in range(50):
            producer.send("durable", key=b"k%d" % i, value=b"v%d" % i)
        producer.flush()
        producer.close()
        consumer = kafka_clients.consumer(kafka, "durable", group_id="g", max_poll_records=20)
        first = []
        while len(first) < 20:
            first.extend(r for batch in consumer.poll(500, max_records=20).values() for r in batch)
        consumer.commit()
        consumer.close(autocommit=False)

        broker.kill()
        broker.start()

        consumer = kafka_clients.consumer(kafka, "durable", group_id="g")
        rest, deadline = [], time.monotonic() + 60
        while len(first) + len(rest) < 50 and time.monotonic() < deadline:
            rest.extend(r for batch in consumer.poll(500).values() for r in batch)
        consumer.close(autocommit=False)
        assert sorted(r.value for r in first + rest) == sorted(b"v%d" % i for i in range(50))
    finally:
        broker.stop()
        store.stop()


def test_every_server_the_stack_starts_listens_on_loopback_only(stack, ray_runtime):
    """Broker, Milvus Lite, Triton (HTTP, gRPC, metrics) and Ray: every listening socket of our process tree."""
    processes = [psutil.Process(), *psutil.Process().children(recursive=True)]
    listening = {}
    for process in processes:
        try:
            for conn in process.net_connections(kind="inet"):
                if conn.status == "LISTEN":
                    address = ipaddress.ip_address(conn.laddr.ip)
                    listening[(str(getattr(address, "ipv4_mapped", None) or address), conn.laddr.port)] = process.name()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    triton_port = int(stack.models.triton.url.rsplit(":", 1)[1])
    assert triton_port in {port for _, port in listening}
    assert {ip for ip, _ in listening} <= {"127.0.0.1"}, {k: v for k, v in listening.items() if k[0] != "127.0.0.1"}
