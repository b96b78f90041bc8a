"""The test API keys and the two ways tests talk to the stack: the official ``openai`` client and the producer."""

from __future__ import annotations

import openai

from ragstream.producer import DocumentProducer

API_KEYS = {"key-acme": "acme", "key-globex": "globex", "key-fuzz": "fuzz"}
ACME, GLOBEX = "key-acme", "key-globex"


def client(url: str, key: str = ACME) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def produce_one(settings, tenant: str, doc_id: str, version: int, text: str | None, title: str = "") -> dict:
    with DocumentProducer(settings.kafka) as producer:
        if text is None:
            producer.delete(tenant, doc_id, version).get(30)
        else:
            producer.upsert(tenant, doc_id, version, text, title=title).get(30)
    return {"doc_id": doc_id, "version": version}
