"""The embedding and generation stages on the fake models: the contract's light construction and warm-up, the
query priority, and a stream passed through as it comes."""

from __future__ import annotations

import asyncio

import pytest

from ragstream.core.models.fake import FakeModelClient
from ragstream.core.settings import ModelSettings
from ragstream.core.stages.embedding import EmbeddingStage
from ragstream.core.stages.generation import GenerationStage
from ragstream.schemas.generation import ChatMessage, GenerationRequest


def test_a_stage_does_no_io_until_warm_up_and_says_so_when_called_before():
    stage = EmbeddingStage(ModelSettings(backend="in_process"))  # no model loaded, no connection opened
    with pytest.raises(RuntimeError, match="warm_up"):
        asyncio.run(stage.embed(texts=["x"]))


def test_query_embeddings_run_at_query_priority_and_nothing_costs_no_call():
    client = FakeModelClient(dimension=16)
    stage = EmbeddingStage(ModelSettings(), client)
    result = asyncio.run(stage.embed(texts=["a", "b"]))
    assert len(result.value) == 2 and len(result.value[0]) == 16 and result.ms >= 0
    assert asyncio.run(stage.embed(texts=[])).value == []
    assert client.calls == [("embed:query", 2)]


def test_generation_streams_the_models_chunks_and_ends_with_the_counts():
    async def chunks():
        stage = GenerationStage(ModelSettings(), FakeModelClient(replies=["It is twenty-five days [1]."]))
        request = GenerationRequest(messages=[ChatMessage(role="user", content="How many?")])
        return [chunk async for chunk in stage.generate(request=request)]

    streamed = asyncio.run(chunks())
    assert "".join(c.text for c in streamed) == "It is twenty-five days [1]." and len(streamed) > 2
    assert streamed[-1].finish_reason == "stop" and streamed[-1].completion_tokens == 5
