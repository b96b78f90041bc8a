"""The chat endpoint through the client libraries teams already use, unmodified: LangChain's ``ChatOpenAI``
(``langchain-openai``) and LlamaIndex's ``OpenAILike`` (``llama-index-llms-openai-like``), over the real stack.
Each answers streaming and not, passes ragstream's extension fields (filters, min_versions) through its own
extra-body option, and reaches the citations from its own response objects."""

from __future__ import annotations

import pytest

from testkit.api import ACME, produce_one

pytestmark = pytest.mark.stack

QUESTION = "How often must the Zephyr-9 espresso machine be descaled?"
ONLY_B = {"all": [{"field": "doc_id", "op": "eq", "value": "zephyr-b"}]}


@pytest.fixture(scope="module")
def zephyr(query_stack):
    """Two documents answer the question differently; each call waits (min_versions) until both are indexed."""
    settings, url = query_stack
    written = [
        produce_one(settings, "acme", "zephyr-a", 1, "The Zephyr-9 espresso machine must be descaled every 40 days.",
                    "Zephyr-9 care guide"),
        produce_one(settings, "acme", "zephyr-b", 1, "The Zephyr-9 espresso machine must be descaled every 90 days "
                    "when it runs on filtered water.", "Zephyr-9 filtered water guide"),
    ]
    return url, written


def langchain(url: str, **options):
    from langchain_openai import ChatOpenAI

    return ChatOpenAI(model="ragstream", base_url=f"{url}/v1", api_key=ACME, max_retries=0, timeout=120,
                      temperature=0, include_response_headers=True, **options)


def header_sources(metadata: dict) -> list[str]:
    """LangChain keeps neither extension fields nor chat annotations: the sources header is its way to them."""
    return [entry.split("=")[0] for entry in metadata["headers"]["x-ragstream-sources"].split(",")]


def test_langchain_chat_openai_answers_with_the_extension_fields_and_reaches_the_sources(zephyr):
    url, written = zephyr
    answer = langchain(url, extra_body={"ragstream": {"min_versions": written}}).invoke(QUESTION)
    assert "Sources:\n[" in answer.content and answer.usage_metadata["output_tokens"] > 0
    assert set(header_sources(answer.response_metadata)) >= {"zephyr-a", "zephyr-b"}

    chunks = list(langchain(url).stream(QUESTION, extra_body={"ragstream": {"filters": ONLY_B}}))
    text = "".join(chunk.content for chunk in chunks)
    assert len([c for c in chunks if c.content]) >= 2 and "90" in text and "40" not in text
    assert header_sources(chunks[0].response_metadata) == ["zephyr-b"]  # the filter held; [1] is zephyr-b


def llamaindex(url: str, **extra_body):
    from llama_index.llms.openai_like import OpenAILike

    return OpenAILike(model="ragstream", api_base=f"{url}/v1", api_key=ACME, is_chat_model=True,
                      context_window=4096, max_retries=0, timeout=120, temperature=0,
                      additional_kwargs={"extra_body": {"ragstream": extra_body}} if extra_body else {})


def test_llamaindex_openai_like_answers_with_the_extension_fields_and_reaches_the_citations(zephyr):
    from llama_index.core.llms import ChatMessage

    url, written = zephyr
    question = [ChatMessage(role="user", content=QUESTION)]
    answer = llamaindex(url, min_versions=written).chat(question)
    citations = answer.raw.model_extra["citations"]  # the openai response object, extension fields included
    assert citations and {c["doc_id"] for c in citations} <= {"zephyr-a", "zephyr-b"}
    assert answer.raw.choices[0].message.annotations[0].url_citation.url.startswith(f"{url}/v1/documents/zephyr-")
    assert "Sources:\n[" in answer.message.content

    responses = list(llamaindex(url, filters=ONLY_B).stream_chat(question))
    assert len([r for r in responses if r.delta]) >= 2 and "90" in responses[-1].message.content
    final = next(r.raw for r in reversed(responses) if r.raw.choices and r.raw.choices[0].finish_reason)
    assert [c["doc_id"] for c in final.model_extra["citations"]] == ["zephyr-b"]

    completion = llamaindex(url, filters=ONLY_B).complete(QUESTION)  # the completion-style call, as the README shows
    assert "90" in completion.text and completion.raw.model_extra["citations"][0]["doc_id"] == "zephyr-b"
