"""Waiting for named document versions over the real Milvus Lite server."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from ragstream.core.index.read_your_writes import wait_for_versions
from ragstream.core.index.records import LogMark
from ragstream.core.index.store import IndexStore
from ragstream.schemas import DocumentEvent
from ragstream.schemas.openai import MinVersion
from ragstream.workers.chunking import Chunker
from ragstream.workers.processor import BatchProcessor
from testkit.api import ACME
from testkit.doubles import HashingEmbedder


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
    assert missing.missing == [] and missing.stale == []
    assert timed_out.missing == [MinVersion(doc_id="policy", version=3)]
    assert other_tenant.missing == [MinVersion(doc_id="policy", version=1)], "another tenant's write is not yours"


def test_before_the_first_document_creates_the_index_everything_named_is_missing(isolated):
    store = IndexStore(isolated.milvus, 384)  # no ensure_collections: a fresh index
    try:
        wanted = [MinVersion(doc_id="policy", version=1)]
        assert asyncio.run(wait_for_versions(store, "acme", wanted, 0.1)).missing == wanted
    finally:
        store.close()


def test_a_write_ignored_as_stale_fails_fast_and_an_offset_waits_for_its_server_ordered_write(isolated):
    store = IndexStore(isolated.milvus, 384)
    store.ensure_collections()
    processor = BatchProcessor(Chunker(isolated.chunking), HashingEmbedder(), store)

    def write(offset: int, version: int | None, op: str = "upsert"):
        event = DocumentEvent(op=op, tenant="acme", doc_id="faq", version=version,
                              text=f"text at {offset}" if op == "upsert" else "")
        return processor.process([(0, event)], sources={0: LogMark(2, offset, 1_000 + offset)})[0]

    try:
        assert write(10, 5).version == 5
        assert write(11, 3).outcome.value == "ignored_stale"
        started = time.monotonic()
        stale = asyncio.run(wait_for_versions(store, "acme", [MinVersion(doc_id="faq", version=3)], 10))
        assert stale.stale and stale.stale[0].indexed_version == 5 and time.monotonic() - started < 2
        assert "faq=3 was ignored as stale: the index holds version 5" in str(stale.stale[0])
        by_offset = asyncio.run(wait_for_versions(store, "acme", [MinVersion(doc_id="faq", offset=11)], 1))
        assert by_offset.stale and not by_offset.missing
        assert write(12, None, "delete").version == 6  # server-ordered: after version 5
        assert asyncio.run(wait_for_versions(store, "acme", [MinVersion(doc_id="faq", offset=12)], 1)).missing == []
        pending = asyncio.run(wait_for_versions(store, "acme", [MinVersion(doc_id="faq", offset=13)], 0.2))
        assert pending.missing == [MinVersion(doc_id="faq", offset=13)]
        assert write(13, None).version == 7  # a server-ordered upsert re-creates the document
        state = store.doc_state("acme", "faq")
        assert (state.version, state.state, state.source_offset, state.ignored_version) == (7, "indexed", 13, 3)
    finally:
        store.close()


@pytest.mark.stack
def test_a_version_that_never_arrives_times_out_with_504(query_stack):
    """Over HTTP: the API's wait gives up after its time-out and names what never came."""
    settings, url = query_stack
    started = time.monotonic()
    response = httpx.post(f"{url}/v1/retrieve", headers={"Authorization": f"Bearer {ACME}"}, timeout=60, json={
        "query": "x", "min_versions": [{"doc_id": "never-produced", "version": 1}]})
    assert response.status_code == 504 and "never-produced=1" in response.json()["error"]["message"]
    assert time.monotonic() - started >= settings.api.read_your_writes_timeout_s * 0.9
