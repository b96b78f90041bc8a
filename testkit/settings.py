"""Settings for tests and benchmarks on the shared local stack: small models, quick group joins, and topics and
collections of their own per test."""

from __future__ import annotations

import itertools

from ragstream.core.settings import GeneratorSettings, KafkaSettings, Settings, WorkerSettings
from ragstream.infra.local.process import free_port
from ragstream.infra.topics import ensure_topics

_counter = itertools.count()
# In-process unit tests: the tiny SmolLM. The stack's Triton serves the shipped default (Qwen 0.5B): answer tests
# need a model that reads its sources reliably, and the prefix cache keeps repeated prompts fast.
TEST_GENERATOR = GeneratorSettings(model="smollm2-135m-instruct", threads=1, context_tokens=2048, max_tokens=64)
STACK_GENERATOR = GeneratorSettings(threads=1, context_tokens=2048, max_tokens=64)
# Three workers must fit in Ray's 2 CPUs beside the Serve app and the API's own worker (the fault tests scale to 3).
TEST_WORKER = WorkerSettings(num_cpus=0.25)


def kafka_for_tests(**overrides) -> KafkaSettings:
    # Group joins take ~session_timeout/2 on Tansu: keep the timeout short in tests.
    return KafkaSettings(session_timeout_ms=6000, heartbeat_interval_ms=2000, **overrides)


def isolate(settings: Settings, name: str) -> Settings:
    """Own topics, group and collections, so tests sharing one broker and one Milvus never see each other."""
    n = next(_counter)
    prefix = f"t{n}-{name}"
    kafka = settings.kafka.model_copy(update={
        "documents_topic": f"{prefix}.documents", "dlq_topic": f"{prefix}.dlq",
        "index_events_topic": f"{prefix}.index-events", "consumer_group": f"{prefix}-ingest",
    })
    milvus = settings.milvus.model_copy(update={
        "chunks_collection": f"chunks_{n}_{name}".replace("-", "_"),
        "documents_collection": f"documents_{n}_{name}".replace("-", "_"),
    })
    ensure_topics(kafka)
    return settings.model_copy(update={"kafka": kafka, "milvus": milvus})


def with_api(settings: Settings, api_keys: dict[str, str], **api) -> Settings:
    """``settings`` with an API of their own: a free loopback port and these keys (plus any other API settings)."""
    return settings.model_copy(update={
        "api": settings.api.model_copy(update={"port": free_port(), "api_keys": api_keys, **api})})
