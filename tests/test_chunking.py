from __future__ import annotations

import random

from ragstream.core.settings import ChunkingSettings
from ragstream.schemas import DocumentEvent
from ragstream.workers.chunking import Chunker
from testkit.streams import paragraph


def test_chunks_are_deterministic_and_carry_the_title():
    text = "\n\n".join(paragraph(random.Random(1), 250) for _ in range(3))
    event = DocumentEvent(op="upsert", tenant="t", doc_id="d", version=4, title="Rivers", text=text)
    chunker = Chunker(ChunkingSettings())
    first, second = chunker.split(event), chunker.split(event)
    assert len(first) > 1
    assert [c.id for c in first] == [f"t/d/4/{n}" for n in range(len(first))] == [c.id for c in second]
    assert all(c.content.startswith("Rivers\n\n") and c.content.endswith(c.text) for c in first)
    assert all(c.text in text for c in first)
