"""Extractive compression of retrieved passages within a token budget, and the compression stage around it."""

from __future__ import annotations

import asyncio

from ragstream.core.retrieval.compression import ExtractiveCompressor
from ragstream.core.settings import ContextSettings
from ragstream.core.stages.compression import CompressionStage
from ragstream.core.stages.passage import Passage

LEAVE = ("The office opens at eight. Employees receive twenty-five vacation days per year. "
         "Unused vacation days expire in March. The cafeteria serves soup on Fridays.")
ROUTER = "Routers are reset with the recessed button. Hold the button for ten seconds. The light turns green."
PASSAGES = [Passage(id=i, doc_id=d, version=1, chunk_no=0, text=t, score=1.0)
            for i, d, t in (("a", "leave", LEAVE), ("b", "router", ROUTER))]
ORIGINAL = {p.id: p.text for p in PASSAGES}


def words(text: str) -> int:
    return len(text.split())


def test_keeps_the_relevant_sentences_within_the_budget_with_exact_spans():
    compressed = ExtractiveCompressor(budget_tokens=22, count_tokens=words).compress(
        "How many vacation days do employees get?", PASSAGES)
    assert [c.id for c in compressed] == ["a", "b"], "order kept, every passage still citable"
    leave = compressed[0]
    assert "twenty-five vacation days" in leave.text and "cafeteria" not in leave.text
    assert sum(words(c.text) for c in compressed) <= 22
    for c in compressed:
        assert " ".join(ORIGINAL[c.id][start:end].strip() for start, end in c.spans) == c.text


def test_a_large_budget_keeps_everything_and_a_tiny_one_keeps_the_best_that_fit():
    everything = ExtractiveCompressor(budget_tokens=1000, count_tokens=words).compress("vacation", PASSAGES)
    assert [c.text for c in everything] == [LEAVE, ROUTER]
    tiny = ExtractiveCompressor(budget_tokens=6, count_tokens=words).compress("vacation days expire", PASSAGES)
    assert [c.text for c in tiny] == ["Unused vacation days expire in March."]


def test_counts_tokens_with_the_default_tokenizer():
    compressed = ExtractiveCompressor(budget_tokens=40).compress("reset the router", PASSAGES)
    assert any("recessed button" in c.text for c in compressed)


def test_the_stage_compresses_as_configured_and_can_be_switched_off_per_call():
    stage = CompressionStage(ContextSettings(budget_tokens=40))
    asyncio.run(stage.warm_up())
    cut = asyncio.run(stage.compress(question="vacation days", passages=PASSAGES)).value
    assert cut[0].spans and "cafeteria" not in cut[0].text
    assert asyncio.run(stage.compress(question="vacation days", passages=PASSAGES, enabled=False)).value == PASSAGES
