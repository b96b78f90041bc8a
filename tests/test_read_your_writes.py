"""Waiting for named document versions over the real Milvus Lite server."""

from __future__ import annotations

import asyncio

from ragstream.index.read_your_writes import wait_for_versions
from ragstream.index.store import IndexStore
from schemas import DocumentEvent
from schemas.openai import MinVersion
from tests.doubles import HashingEmbedder
from workers.chunking import Chunker
from workers.processor import BatchProcessor


def test_waits_until_the_version_is_indexed_and_reports_what_never_came(isolated):
    store = IndexStore(isolated.milvus, 384)
    store.ensure_collections()
    processor = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store)

    def upsert(version: int):
        event = DocumentEvent(op="upsert", tenant="acme", doc_id="policy", version=version, text=f"v{version} text")
        processor.process([(0, event)])

    async def scenario():
        upsert(1)
        waiting = asyncio.create_task(wait_for_versions(store, "acme", [MinVersion(doc_id="policy", version=2)], 20))
        await asyncio.sleep(0.3)
        assert not waiting.done(), "version 1 does not satisfy a wait for version 2"
        await asyncio.to_thread(upsert, 2)
        missing = await waiting
        timed_out = await wait_for_versions(store, "acme", [MinVersion(doc_id="policy", version=3),
                                                            MinVersion(doc_id="policy", version=2)], 0.2)
        other_tenant = await wait_for_versions(store, "globex", [MinVersion(doc_id="policy", version=1)], 0.1)
        return missing, timed_out, other_tenant

    try:
        missing, timed_out, other_tenant = asyncio.run(scenario())
    finally:
        store.close()
    assert missing == []
    assert timed_out == [MinVersion(doc_id="policy", version=3)]
    assert other_tenant == [MinVersion(doc_id="policy", version=1)], "another tenant's write is not yours"


def test_before_the_first_document_creates_the_index_everything_named_is_missing(isolated):
    store = IndexStore(isolated.milvus, 384)  # no ensure_collections: a fresh index
    try:
        wanted = [MinVersion(doc_id="policy", version=1)]
        assert asyncio.run(wait_for_versions(store, "acme", wanted, 0.1)) == wanted
    finally:
        store.close()
