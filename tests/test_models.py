"""The models on a real Triton server, called through the client layer (and compared with the in-process engines)."""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from ragstream.core.index.store import IndexStore
from ragstream.core.models.client import ModelError, ModelUnavailable, Priority
from ragstream.core.models.factory import build_client
from ragstream.core.models.in_process import InProcessModelClient
from ragstream.core.models.resilience import CircuitOpen
from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import RerankerSettings
from ragstream.core.topic_reader import TopicReader
from ragstream.infra.local.process import free_port
from ragstream.infra.local.triton_server import TritonServer
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.generation import GenerationRequest
from ragstream.workers.actor import WorkerPool
from testkit.doubles import tiny_cross_encoder
from testkit.streams import paragraph, wait_for_outcomes

pytestmark = pytest.mark.stack

TEXTS = ["Rivers carry sediment to the sea.", "Grüße aus Köln — ünïcödé ✓", "x", "a longer passage " * 60]
PASSAGES = [
    "The Eiffel Tower is a wrought-iron lattice tower in Paris.",
    "Photosynthesis converts light energy into chemical energy in plants.",
    "Hamlet is a tragedy written by William Shakespeare around 1600.",
    "The stock market closed higher on Tuesday.",
]


def run(coroutine):
    return asyncio.run(coroutine)


async def _with_client(settings, work):
    client = build_client(settings.models)  # Traced(Resilient(Triton)), as the stages and workers use it
    try:
        return await work(client)
    finally:
        await client.close()


@pytest.mark.parametrize("priority", list(Priority))
def test_triton_embeddings_equal_the_in_process_model(stack, priority):
    triton = run(_with_client(stack, lambda c: c.embed(TEXTS, priority)))
    local = run(InProcessModelClient(stack.models).embed(TEXTS))
    assert np.asarray(triton).shape == (len(TEXTS), 384)
    for a, b in zip(triton, local, strict=True):
        cosine = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert cosine >= 1 - 1e-4


@pytest.mark.parametrize("priority", list(Priority))
def test_embed_splits_more_texts_than_one_request_holds(stack, priority):
    texts = [f"sentence number {n}" for n in range(3 * stack.models.embedder.batch_size + 5)]
    vectors = run(_with_client(stack, lambda c: c.embed(texts, priority)))
    assert len(vectors) == len(texts)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


def test_reranker_puts_the_relevant_passage_first(stack):
    scores = run(_with_client(stack, lambda c: c.rerank("Who wrote Hamlet?", PASSAGES)))
    assert len(scores) == len(PASSAGES)
    assert int(np.argmax(scores)) == 2
    assert scores[2] - sorted(scores)[-2] > 0.05


def test_generator_streams_tokens_and_stops_at_max_tokens(stack):
    request = GenerationRequest(messages=[{"role": "user", "content": "Write a long story about a lighthouse."}],
                                max_tokens=12)

    async def collect(client):
        arrivals, chunks = [], []
        async for chunk in client.generate(request):
            arrivals.append(time.perf_counter())
            chunks.append(chunk)
        return arrivals, chunks

    arrivals, chunks = run(_with_client(stack, collect))
    final = chunks[-1]
    assert final.finish_reason == "length" and final.completion_tokens == 12 and final.prompt_tokens > 5
    texts = [c.text for c in chunks[:-1]]
    assert len(texts) >= 6 and all(texts), "streamed piece by piece, not in one response"
    assert arrivals[-2] - arrivals[0] > 0.01, "pieces arrive over time"


def test_generator_honours_stop_sequences(stack):
    request = GenerationRequest(messages=[{"role": "user", "content": "List the numbers 1 to 10, one per line."}],
                                max_tokens=60, stop=["5"])
    chunks = run(_with_client(stack, lambda c: _collect(c.generate(request))))
    text = "".join(c.text for c in chunks)
    assert chunks[-1].finish_reason == "stop" and "5" not in text and "4" in text


async def _collect(stream):
    return [chunk async for chunk in stream]


def test_model_errors_are_clear_and_not_retried(stack):
    too_many = ["passage"] * (stack.models.reranker.max_passages + 1)
    with pytest.raises(ModelError, match="at most") as refused:
        run(_with_client(stack, lambda c: c.rerank("q", too_many)))
    assert not isinstance(refused.value, ModelUnavailable)

    huge = GenerationRequest(messages=[{"role": "user", "content": "word " * 3000}])
    with pytest.raises(ModelError, match="context window"):
        run(_with_client(stack, lambda c: _collect(c.generate(huge))))


def test_deadline_and_unreachable_server_surface_as_unavailable_then_the_breaker_opens(stack):
    slow = stack.models.model_copy(update={"triton": stack.models.triton.model_copy(
        update={"timeout_s": 0.001, "retries": 1, "retry_initial_s": 0.01})})
    with pytest.raises(ModelUnavailable, match="embedder"):
        run(_with_client(stack.model_copy(update={"models": slow}), lambda c: c.embed(["a"] * 64)))

    down = stack.models.model_copy(update={"triton": stack.models.triton.model_copy(update={
        "url": f"127.0.0.1:{free_port()}", "retries": 2, "retry_initial_s": 0.01, "breaker_failures": 3})})

    async def hammer(client):
        with pytest.raises(ModelUnavailable):
            await client.embed(["a"])  # 3 attempts: opens the breaker
        started = time.perf_counter()
        with pytest.raises(CircuitOpen, match="circuit open"):
            await client.embed(["a"])
        return time.perf_counter() - started

    assert run(_with_client(stack.model_copy(update={"models": down}), hammer)) < 0.1, "an open breaker fails fast"


def test_a_cross_encoder_folder_is_served_by_triton_without_code_changes(stack, tmp_path):
    models = stack.models.model_copy(update={"reranker": RerankerSettings(model_dir=tiny_cross_encoder(tmp_path))})
    server = TritonServer(models, stack.local.triton_env, tmp_path / "triton", tmp_path, load=["reranker"]).start()
    try:
        scores = run(_with_client(stack.model_copy(update={"models": models.model_copy(update={
            "triton": models.triton.model_copy(update={"url": server.url})})}),
            lambda c: c.rerank("hamlet", PASSAGES)))
    finally:
        server.stop()
    local = run(InProcessModelClient(models).rerank("hamlet", PASSAGES))
    assert np.allclose(scores, local, atol=1e-5) and len(set(np.round(scores, 6))) > 1


def test_workers_retry_without_committing_while_triton_is_down(isolated, ray_runtime, tmp_path):
    server = TritonServer(isolated.models, isolated.local.triton_env, tmp_path / "triton", tmp_path,
                          load=["embedder"]).start()
    models = isolated.models.model_copy(update={"triton": isolated.models.triton.model_copy(
        update={"url": server.url, "retries": 1, "timeout_s": 5.0})})
    settings = isolated.model_copy(update={"models": models})
    rng = random.Random(3)
    docs = [DocumentEvent(op="upsert", tenant="acme", doc_id=f"d{n}", version=1, text=paragraph(rng, 60))
            for n in range(12)]
    pool = WorkerPool(settings).start()
    reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
    try:
        with DocumentProducer(settings.kafka) as producer:
            first = [producer.send(d).get(30) for d in docs[:6]]
            wait_for_outcomes(reader, [(m.partition, m.offset) for m in first], timeout_s=120)
            server.stop()
            rest = [producer.send(d).get(30) for d in docs[6:]]
        time.sleep(6)
        reader.poll()
        assert len(reader.records) == 6, "nothing is indexed or committed while the embedder is down"
        stats = pool.stats()[0]
        assert stats["retries"] >= 1 and "embedder" in stats["last_error"]
        server.start()
        outcomes = wait_for_outcomes(reader, [(m.partition, m.offset) for m in first + rest], timeout_s=180)
    finally:
        reader.close()
        pool.stop()
        server.stop()
    assert sorted(o["doc_id"] for o in outcomes if o["outcome"] == "indexed") == sorted(d.doc_id for d in docs)
    store = IndexStore(settings.milvus, settings.models.embedder.dimension)
    try:
        assert {row["doc_id"] for row in store.chunk_rows(fields=("id", "doc_id"))} == {d.doc_id for d in docs}
    finally:
        store.close()


def test_ingest_embedder_instances_yield_the_cpu_to_the_query_path(stack):
    """Each Python-backend instance is its own stub process; only the ingest embedder's run niced."""
    by_model: dict[str, list[psutil.Process]] = {}
    for process in psutil.Process().children(recursive=True):
        if process.name() == "triton_python_backend_stub":
            by_model.setdefault(Path(process.cmdline()[1]).parts[-3], []).append(process)
    nice = stack.models.embedder.ingest_nice
    assert len(by_model["embedder"]) == 2
    for process in by_model["embedder"]:
        assert {os.getpriority(os.PRIO_PROCESS, t.id) for t in process.threads()} == {nice}
    for model in ("embedder_query", "reranker", "generator"):
        assert all(p.nice() == 0 for p in by_model[model]), model
