"""One chat answer shaped as OpenAI's SSE stream and as a completion, over local stages and the fake models:
abstention, inline citations, the ``Sources:`` block, usage, and an error mid-stream. No Ray, Triton or Milvus."""

from __future__ import annotations

import asyncio
import json

from ragstream.core.generation.prompt import NO_ANSWER, number_sources
from ragstream.core.models.client import ModelUnavailable
from ragstream.core.models.fake import FakeModelClient
from ragstream.core.settings import ContextSettings, Settings
from ragstream.core.stages.passage import Passage
from ragstream.schemas.generation import ChatMessage
from ragstream.services.api.chat import SOURCES_HEADER, SOURCES_HEADER_BYTES, ChatRun
from ragstream.services.api.metrics import QueryMetrics
from ragstream.services.api.pipeline import QueryPipeline
from testkit.handles import ListRetrieval, local_stages

CORPUS = {"acme": [Passage(id="acme/leave/3/0", doc_id="leave", version=3, chunk_no=0, title="Leave policy", score=0,
                           text="Employees receive twenty-five vacation days per year. Unused days expire.")]}
GATE_OFF = ContextSettings(min_coverage=None)


class FailingMidStream(FakeModelClient):
    async def generate(self, request):
        async for chunk in super().generate(request):
            yield chunk
            raise ModelUnavailable("generator: connection reset")


def run_chat(question: str, client: FakeModelClient | None = None, context: ContextSettings = GATE_OFF,
             stream: bool = True) -> tuple[ChatRun, list]:
    settings = Settings(context=context)
    client = client or FakeModelClient(settings.models.embedder.dimension)

    async def chat():
        query = QueryPipeline(await local_stages(settings, ListRetrieval(CORPUS, client), client), settings)
        grounding = await query.ground("acme", [ChatMessage(role="user", content=question)], query_filter=None,
                                       top_k=None, rewrite=None, max_tokens=None, temperature=0.0, top_p=1.0,
                                       stop=[], seed=None)
        run = ChatRun(query, grounding, "ragstream", QueryMetrics(), retry_after_s=2)
        await run.start()
        if not stream:
            return run, [await run.completion()]
        return run, [event async for event in run.events(include_usage=True)]

    return asyncio.run(chat())


def data(events: list[str]) -> list:
    assert all(e.startswith("data: ") and e.endswith("\n\n") for e in events)
    return [e[6:-2] if e[6:-2] == "[DONE]" else json.loads(e[6:-2]) for e in events]


def test_a_grounded_stream_has_role_pieces_sources_citations_usage_and_done():
    _, events = run_chat("How many vacation days do employees get?")
    chunks = data(events)
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks[1:-1] if c.get("choices"))
    assert text.startswith("Employees receive twenty-five vacation days per year. [1]")
    assert text.endswith("\n\nSources:\n[1] Leave policy (leave, version 3)")
    final = [c for c in chunks[1:-1] if c.get("choices") and c["choices"][0].get("finish_reason")]
    assert [f["choices"][0]["finish_reason"] for f in final] == ["stop"]
    assert final[0]["citations"] == [{"number": 1, "doc_id": "leave", "version": 3, "chunk_no": 0,
                                      "title": "Leave policy", "score": final[0]["citations"][0]["score"]}]
    assert chunks[-2]["choices"] == [] and chunks[-2]["usage"]["completion_tokens"] > 0
    assert chunks[-1] == "[DONE]"
    [block] = [c for c in chunks[1:-1] if c.get("choices") and "annotations" in c["choices"][0]["delta"]]
    [annotation] = block["choices"][0]["delta"]["annotations"]
    assert annotation["type"] == "url_citation"
    cited = annotation["url_citation"]
    assert text[cited["start_index"]:cited["end_index"]] == "[1] Leave policy (leave, version 3)"
    assert cited["url"] == "/v1/documents/leave?version=3" and cited["title"] == "Leave policy"


def test_nothing_relevant_abstains_without_asking_the_generator():
    client = FakeModelClient()
    run, events = run_chat("Who won the 1998 world cup?", client, ContextSettings())
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in data(events)[:-1] if c.get("choices"))
    assert text == NO_ANSWER and ("generate", 1) not in client.calls
    assert run.citations() == ([], "", [])


def test_an_error_after_the_first_token_is_reported_in_band_and_the_stream_still_ends():
    _, events = run_chat("How many vacation days?", FailingMidStream())
    chunks = data(events)
    assert chunks[-1] == "[DONE]"
    assert chunks[-2]["error"]["type"] == "server_error" and "connection reset" in chunks[-2]["error"]["message"]


def test_a_completion_carries_the_answer_the_sources_block_and_citations():
    run, [completion] = run_chat("How many vacation days do employees get?", stream=False)
    message = completion.choices[0].message.content
    assert "[1]" in message and message.endswith("Sources:\n[1] Leave policy (leave, version 3)")
    assert [c.doc_id for c in completion.citations] == ["leave"]
    [annotation] = completion.choices[0].message.annotations
    span = annotation.url_citation
    assert message[span.start_index:span.end_index].startswith("[1] Leave policy") and span.url.endswith("=3")
    assert set(completion.timings_ms) >= {"embedding", "retrieval", "compression", "generation"}


def test_the_sources_header_lists_each_numbered_source_and_stays_within_its_byte_cap():
    run, _ = run_chat("How many vacation days do employees get?")
    assert run.sources_header() == {SOURCES_HEADER: "leave=3"}
    long_id = "d" * 256  # the longest doc_id the schema accepts, fifty times over
    run.grounding.sources = number_sources([CORPUS["acme"][0].model_copy(update={"doc_id": f"{long_id[:-2]}{n:02d}"})
                                            for n in range(50)])
    entries = run.sources_header()[SOURCES_HEADER].split(",")
    assert len(",".join(entries)) <= SOURCES_HEADER_BYTES and 1 < len(entries) < 50
    assert [e.rsplit("=", 1)[0][-2:] for e in entries] == [f"{n:02d}" for n in range(len(entries))]  # in [n] order
