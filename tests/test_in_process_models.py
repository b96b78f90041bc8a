"""The in-process model client: same engines and interface as Triton, for unit tests and machines without it."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from ragstream.core.models.client import ModelError
from ragstream.core.models.embedder import build_embedder
from ragstream.core.models.factory import BlockingModels, build_client
from ragstream.core.models.files import ModelFileError, embedder_onnx_path
from ragstream.core.models.in_process import InProcessModelClient
from ragstream.core.models.reranker import CrossEncoderReranker, build_reranker
from ragstream.core.settings import EmbedderSettings, ModelSettings, RerankerSettings
from ragstream.schemas.generation import GenerationRequest
from testkit.doubles import tiny_cross_encoder
from testkit.settings import TEST_GENERATOR

STORY = GenerationRequest(messages=[{"role": "user", "content": "Tell a long story about the sea."}], max_tokens=40)


@pytest.fixture(scope="module")
def client() -> InProcessModelClient:
    return InProcessModelClient(ModelSettings(generator=TEST_GENERATOR))


def test_generation_streams_and_counts_tokens(client):
    async def collect():
        return [c async for c in client.generate(STORY.model_copy(update={"max_tokens": 5}))]

    chunks = asyncio.run(collect())
    assert chunks[-1].finish_reason == "length" and chunks[-1].completion_tokens == 5
    assert "".join(c.text for c in chunks).strip()


class RecordingGenerator:
    """Wraps the real engine and keeps what it produced, to see whether a generation was cut short."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.finals = []

    def generate(self, request, cancelled=lambda: False):
        for chunk in self.engine.generate(request, cancelled):
            if chunk.finish_reason:
                self.finals.append(chunk)
            yield chunk


def test_a_reader_that_stops_cancels_generation_and_frees_the_model(client):
    recorder = RecordingGenerator(client._generator)
    client.__dict__["_generator"] = recorder

    async def read_one_then_leave():
        stream = client.generate(STORY)
        async for _ in stream:
            break
        await stream.aclose()
        return [c async for c in client.generate(STORY.model_copy(update={"max_tokens": 3}))]

    try:
        chunks = asyncio.run(read_one_then_leave())
    finally:
        client.__dict__["_generator"] = recorder.engine
    assert chunks[-1].completion_tokens == 3, "the model is free again"
    first = recorder.finals[0]
    assert first.finish_reason == "cancelled" and first.completion_tokens < STORY.max_tokens


def test_engine_errors_become_model_errors(client):
    async def too_long():
        huge = GenerationRequest(messages=[{"role": "user", "content": "word " * 3000}])
        return [c async for c in client.generate(huge)]

    with pytest.raises(ModelError, match="context window"):
        asyncio.run(too_long())


def test_a_cross_encoder_folder_replaces_the_default_reranker(tmp_path):
    reranker = build_reranker(RerankerSettings(model_dir=tiny_cross_encoder(tmp_path)))
    assert isinstance(reranker, CrossEncoderReranker)
    scores = reranker.score("hamlet", ["hamlet is a tragedy", "the tower is in paris", "plants"])
    assert len(scores) == 3 and all(isinstance(s, float) for s in scores)
    assert scores == reranker.score("hamlet", ["hamlet is a tragedy", "the tower is in paris", "plants"])


def test_the_onnx_engine_embeds_like_sentence_transformers():
    texts = ["Rivers carry sediment to the sea.", "Grüße aus Köln", "a longer passage " * 80]
    onnx = np.asarray(build_embedder(EmbedderSettings(engine="onnxruntime")).embed(texts))
    torch = np.asarray(build_embedder(EmbedderSettings(engine="torch")).embed(texts))
    assert onnx.shape == torch.shape == (3, 384)
    assert (onnx * torch).sum(axis=1).min() >= 1 - 1e-4


def test_the_onnx_engine_refuses_a_model_that_does_not_mean_pool(tmp_path):
    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true}')
    with pytest.raises(ModelFileError, match="ENGINE=torch"):
        embedder_onnx_path(EmbedderSettings(model_path=tmp_path))


def test_workers_embed_in_process_when_the_settings_say_so():
    embedder = BlockingModels(ModelSettings(backend="in_process"))
    try:
        vectors = embedder.embed(["one text", "another text"])
    finally:
        embedder.close()
    assert embedder.dimension == 384 and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_the_triton_backend_needs_an_endpoint():
    with pytest.raises(RuntimeError, match="RAGSTREAM_MODELS__TRITON__URL"):
        build_client(ModelSettings())
