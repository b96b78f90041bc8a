"""Creates ragstream's topics if they are missing (idempotent; safe when several processes race)."""

from __future__ import annotations

from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from ragstream.core import kafka_clients
from ragstream.core.settings import KafkaSettings


def topic_names(kafka: KafkaSettings) -> list[str]:
    return [kafka.documents_topic, kafka.dlq_topic, kafka.index_events_topic]


def ensure_topics(kafka: KafkaSettings) -> list[str]:
    """Returns the topics that this call created."""
    client = kafka_clients.admin(kafka)
    try:
        existing = set(client.list_topics())
        created = []
        for name in topic_names(kafka):
            if name in existing:
                continue
            try:
                client.create_topics([NewTopic(name, kafka.partitions, kafka.replication_factor)])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        return created
    finally:
        client.close()
