"""One chat answer over its grounding, shaped as OpenAI's SSE stream or as one completion.

The answer text carries inline ``[n]`` markers and ends with a sources block, so any OpenAI client shows where it
came from; the structured ``citations`` ride in the completion and in the final stream chunk.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

from ragstream.core.generation.citations import SOURCES_HEADING, citations_for, source_line, sources_block
from ragstream.core.generation.prompt import NO_ANSWER
from ragstream.schemas.generation import GenerationChunk
from ragstream.schemas.openai import (
    Annotation,
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    Choice,
    ChunkChoice,
    Citation,
    Delta,
    UrlCitation,
    Usage,
)
from ragstream.services.api.errors import from_exception
from ragstream.services.api.metrics import QueryMetrics
from ragstream.services.api.pipeline import Grounding, QueryPipeline

SOURCES_HEADER = "x-ragstream-sources"
SOURCES_HEADER_BYTES = 4096


@dataclass
class _Answer:
    text: str = ""
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    completion_tokens: int = 0


async def _one(chunk: GenerationChunk) -> AsyncIterator[GenerationChunk]:
    yield chunk


async def _chain(first: GenerationChunk, rest: AsyncIterator[GenerationChunk]) -> AsyncIterator[GenerationChunk]:
    yield first
    async for chunk in rest:
        yield chunk


class ChatRun:
    def __init__(self, pipeline: QueryPipeline, grounding: Grounding, model: str, metrics: QueryMetrics,
                 retry_after_s: int, documents_url: str = "/v1/documents") -> None:
        """``documents_url``: where this API serves documents, for the URLs of the cited versions."""
        self.pipeline, self.grounding, self.model, self.metrics = pipeline, grounding, model, metrics
        self.retry_after_s, self.documents_url = retry_after_s, documents_url.rstrip("/")
        self.id = f"chatcmpl-{uuid.uuid4().hex}"
        self.created = int(time.time())
        self.answer = _Answer()
        self.timings = grounding.retrieval.timings_ms
        self._chunks: AsyncIterator[GenerationChunk] | None = None
        self._started = 0.0

    async def start(self) -> None:
        """Waits for the first token before anything is sent, so a generator that is down is a clean 503."""
        self._started = time.perf_counter()
        if not self.grounding.sources and not self.grounding.task:  # nothing retrieved: abstain, no model call
            self._chunks = _one(GenerationChunk(text=NO_ANSWER, finish_reason="stop", prompt_tokens=0,
                                                completion_tokens=0))
        else:
            stream = self.pipeline.generate(self.grounding.request)
            self._chunks = _chain(await stream.__anext__(), stream)
        self.timings["generation_first_token"] = (time.perf_counter() - self._started) * 1000

    async def pieces(self) -> AsyncIterator[str]:
        assert self._chunks is not None, "start() first"
        async for chunk in self._chunks:
            if chunk.text:
                self.answer.text += chunk.text
                yield chunk.text
            if chunk.finish_reason:
                self.answer.finish_reason = "length" if chunk.finish_reason == "length" else "stop"
                self.answer.prompt_tokens = chunk.prompt_tokens or 0
                self.answer.completion_tokens = chunk.completion_tokens or 0
        self.timings["generation"] = (time.perf_counter() - self._started) * 1000
        self.metrics.tokens.inc(self.answer.completion_tokens)
        self.metrics.observe_stages(self.timings)

    def citations(self) -> tuple[list[Citation], str, list[Annotation]]:
        """The cited sources, the ``Sources:`` block to append, and an OpenAI ``url_citation`` per source that
        spans its line of the block in the whole content."""
        cited = citations_for(self.answer.text, self.grounding.sources)
        annotations, offset = [], len(self.answer.text) + len(SOURCES_HEADING)
        for source in cited:
            p, line = source.passage, source_line(source)
            annotations.append(Annotation(url_citation=UrlCitation(
                start_index=offset, end_index=offset + len(line), title=p.title or p.doc_id,
                url=f"{self.documents_url}/{quote(p.doc_id, safe='')}?version={p.version}")))
            offset += len(line) + 1  # and its newline
        return [s.citation() for s in cited], sources_block(cited), annotations

    def sources_header(self) -> dict[str, str]:
        """The sources the answer is grounded on, ``doc_id=version`` in the order of their ``[n]`` numbers: for
        clients that drop the response's extension fields and its annotations (LangChain's ``ChatOpenAI`` reads
        them with ``include_response_headers=True``). Known before the first token, so the stream carries it too;
        cut to whole entries within ``SOURCES_HEADER_BYTES``, far below what HTTP clients accept in a header."""
        value = ""
        for source in self.grounding.sources:
            entry = f"{',' if value else ''}{source.passage.doc_id}={source.passage.version}"
            if len(value) + len(entry) > SOURCES_HEADER_BYTES:
                break
            value += entry
        return {SOURCES_HEADER: value}

    def usage(self) -> Usage:
        a = self.answer
        return Usage(prompt_tokens=a.prompt_tokens, completion_tokens=a.completion_tokens,
                     total_tokens=a.prompt_tokens + a.completion_tokens)

    async def completion(self) -> ChatCompletion:
        async for _ in self.pieces():
            pass
        citations, block, annotations = self.citations()
        return ChatCompletion(id=self.id, created=self.created, model=self.model, usage=self.usage(),
                              choices=[Choice(message=AssistantMessage(content=self.answer.text + block,
                                                                       annotations=annotations),
                                              finish_reason=self.answer.finish_reason)],
                              citations=citations, timings_ms=self.timings)

    def _chunk(self, delta: Delta, finish_reason: str | None = None, **extra) -> str:
        chunk = ChatCompletionChunk(id=self.id, created=self.created, model=self.model,
                                    choices=[ChunkChoice(delta=delta, finish_reason=finish_reason)], **extra)
        return f"data: {chunk.model_dump_json(exclude_none=True)}\n\n"

    async def events(self, include_usage: bool) -> AsyncIterator[str]:
        """SSE: role, content pieces, the sources block, a final chunk with citations, [DONE]."""
        yield self._chunk(Delta(role="assistant", content=""))
        try:
            async for piece in self.pieces():
                yield self._chunk(Delta(content=piece))
            citations, block, annotations = self.citations()
            if block:
                yield self._chunk(Delta(content=block, annotations=annotations))
            yield self._chunk(Delta(), self.answer.finish_reason, citations=citations, timings_ms=self.timings)
            if include_usage:
                usage = ChatCompletionChunk(id=self.id, created=self.created, model=self.model, choices=[],
                                            usage=self.usage())
                yield f"data: {usage.model_dump_json(exclude_none=True)}\n\n"
        except Exception as error:  # headers are sent: report in-band, as OpenAI does
            yield f"data: {from_exception(error, self.retry_after_s).body().model_dump_json()}\n\n"
        yield "data: [DONE]\n\n"
