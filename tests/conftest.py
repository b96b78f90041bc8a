"""Session-scoped real components: one broker, Milvus Lite server and Triton server (the fast SmolLM generator),
one local Ray. Tests isolate themselves with their own topics, consumer group and collections (see ``isolated``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ragstream.core.settings import LocalStackSettings, ModelSettings, Settings
from ragstream.infra.local.stack import LocalStack
from testkit.api import API_KEYS, RATE_LIMITS
from testkit.settings import STACK_GENERATOR, TEST_WORKER, isolate, kafka_for_tests, with_api


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
    from ragstream.core.telemetry import tracing
    from testkit.otlp import OtlpReceiver

    receiver = OtlpReceiver().start()
    os.environ.update({"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                       "OTEL_TRACES_SAMPLER_ARG": "1.0", "OTEL_BSP_SCHEDULE_DELAY": "200"})
    tracing.configure("ragstream-tests")
    yield receiver
    tracing.flush()
    receiver.stop()


@pytest.fixture(scope="session")
def ray_runtime(otlp):
    from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray

    start_local_ray(num_cpus=2)
    yield
    stop_local_ray()


@pytest.fixture
def isolated(stack, request) -> Settings:
    return isolate(stack, request.node.name.split("[")[0].removeprefix("test_")[:20])




@pytest.fixture(scope="session")
def query_stack(stack, ray_runtime):
    """The Serve application over its own topics and collections, with one ingest worker feeding it."""
    from ray import serve

    from ragstream.services.app import run
    from ragstream.workers.actor import WorkerPool

    settings = with_api(isolate(stack, "api"), API_KEYS, read_your_writes_timeout_s=8,
                        tenant_rates=RATE_LIMITS)
    pool = WorkerPool(settings).start()
    try:
        url = run(settings)
        yield settings, url
    finally:
        serve.shutdown()
        pool.stop()


@pytest.fixture
def store(isolated):
    """The real index over the test's own collections."""
    from ragstream.core.index.store import IndexStore

    store = IndexStore(isolated.milvus, 384)
    store.ensure_collections()
    yield store
    store.close()
