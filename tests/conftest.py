"""Session-scoped real components: one broker, Milvus Lite server and Triton server (the fast SmolLM generator),
one local Ray. Tests isolate themselves with their own topics, consumer group and collections (see ``isolated``)."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from infra.stack import LocalStack
from infra.topics import ensure_topics
from ragstream.settings import (
    GeneratorSettings,
    KafkaSettings,
    LocalStackSettings,
    ModelSettings,
    Settings,
    WorkerSettings,
)

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


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory) -> LocalStack:
    """The servers themselves, for tests that crash and restart them."""
    data_dir: Path = tmp_path_factory.mktemp("stack")
    local = LocalStack(Settings(kafka=kafka_for_tests(), local=LocalStackSettings(data_dir=data_dir),
                                models=ModelSettings(generator=STACK_GENERATOR), worker=TEST_WORKER))
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="module")
def durable_stack(local_stack, tmp_path_factory) -> LocalStack:
    """A durable broker and a Milvus server of the module's own, for tests that crash them; Triton is the session's."""
    local = LocalStack(Settings(kafka=kafka_for_tests(), models=local_stack.settings.models, worker=TEST_WORKER,
                                local=LocalStackSettings(data_dir=tmp_path_factory.mktemp("durable"),
                                                         durable_broker=True)))
    local.start()
    yield local
    local.stop()


@pytest.fixture(scope="session")
def stack(local_stack) -> Settings:
    return local_stack.settings


@pytest.fixture(scope="session")
def otlp():
    """The session's OTLP receiver: every process the tests start (Ray workers, Serve's proxy and replicas, this
    one) exports its spans here, at 100% sampling, so the whole suite runs traced."""
    from ragstream.telemetry import tracing
    from tests.otlp import OtlpReceiver

    receiver = OtlpReceiver().start()
    os.environ.update({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                       "OTEL_TRACES_SAMPLER_ARG": "1.0", "OTEL_BSP_SCHEDULE_DELAY": "200"})
    tracing.configure("ragstream-tests")
    yield receiver
    tracing.flush()
    receiver.stop()


@pytest.fixture(scope="session")
def ray_runtime(otlp):
    from infra.ray_runtime import start_local_ray, stop_local_ray

    start_local_ray(num_cpus=2)
    yield
    stop_local_ray()


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


@pytest.fixture
def isolated(stack, request) -> Settings:
    return isolate(stack, request.node.name.split("[")[0].removeprefix("test_")[:20])


API_KEYS = {"key-acme": "acme", "key-globex": "globex", "key-fuzz": "fuzz"}


@pytest.fixture(scope="session")
def query_stack(stack, ray_runtime):
    """The Serve application over its own topics and collections, with one ingest worker feeding it."""
    from ray import serve

    from infra.process import free_port
    from services.app import run
    from workers.actor import WorkerPool

    settings = isolate(stack, "api")
    settings = settings.model_copy(update={
        "api": settings.api.model_copy(update={"port": free_port(), "api_keys": API_KEYS,
                                               "read_your_writes_timeout_s": 8}),
    })
    pool = WorkerPool(settings).start()
    try:
        url = run(settings)
        yield settings, url
    finally:
        serve.shutdown()
        pool.stop()
