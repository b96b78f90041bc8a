"""The test API keys and the two ways tests talk to the stack: the official ``openai`` client and the producer."""

from __future__ import annotations

import openai

from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import TenantRate

API_KEYS = {"key-acme": "acme", "key-globex": "globex", "key-fuzz": "fuzz", "key-demo": "demo",
            "key-limited": "limited"}
ACME, GLOBEX, DEMO, LIMITED = "key-acme", "key-globex", "key-demo", "key-limited"
RATE_LIMITS = [TenantRate(tenant="limited", requests_per_s=1.0, burst=5)]  # the query stack's (others: none)


class Refused(Exception):
    """The API refused a write: its status is counted apart from writes lost to a restarting component."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"{status}: {body}")
        self.status = status


def client(url: str, key: str = ACME) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=120)


def produce_one(settings, tenant: str, doc_id: str, version: int, text: str | None, title: str = "") -> dict:
    with DocumentProducer(settings.kafka) as producer:
        if text is None:
            producer.delete(tenant, doc_id, version).get(30)
        else:
            producer.upsert(tenant, doc_id, version, text, title=title).get(30)
    return {"doc_id": doc_id, "version": version}


def stream_answer(url: str, question: str, key: str = ACME, min_pieces: int = 2, **ragstream
                  ) -> tuple[str, list[dict]]:
    """Streams with the unmodified openai client; returns the text and the final chunk's citations. An abstention
    decided before generation (no passage good enough) arrives as one piece."""
    stream = client(url, key).chat.completions.create(
        model="ragstream", stream=True, messages=[{"role": "user", "content": question}],
        extra_body={"ragstream": ragstream} if ragstream else None)
    text, citations, pieces = "", None, 0
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
            pieces += 1
        if chunk.choices and chunk.choices[0].finish_reason:
            citations = chunk.model_extra["citations"]
    assert pieces >= min_pieces and citations is not None, "the answer must arrive in pieces and end with citations"
    return text, citations
