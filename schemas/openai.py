"""The OpenAI-compatible chat API's wire format, plus ragstream's extensions (filters, read-your-writes, citations).

Plain OpenAI clients send only the standard fields and read only the standard ones; the extensions ride in a
``ragstream`` request field (``extra_body`` in the ``openai`` client) and a ``citations`` response field.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from ragstream.schemas.events import DocId
from ragstream.schemas.filters import QueryFilter
from ragstream.schemas.generation import MAX_MESSAGE_CHARS, MAX_MESSAGES, MAX_STOP_SEQUENCES, ChatMessage


class TextPart(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["text"]
    text: str = Field(max_length=MAX_MESSAGE_CHARS)


class RequestMessage(BaseModel):
    """``developer`` is OpenAI's newer name for ``system``; content may be a string or text parts."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "developer", "user", "assistant"]
    content: Annotated[str, StringConstraints(max_length=MAX_MESSAGE_CHARS)] | list[TextPart]
    name: str | None = Field(None, max_length=64)

    @field_validator("content")
    @classmethod
    def _joined_fits(cls, content: str | list[TextPart]) -> str | list[TextPart]:
        if isinstance(content, list) and sum(len(p.text) for p in content) > MAX_MESSAGE_CHARS:
            raise ValueError(f"the text parts of one message take at most {MAX_MESSAGE_CHARS} characters together")
        return content

    def to_chat(self) -> ChatMessage:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return ChatMessage(role="system" if self.role == "developer" else self.role, content=text)


class MinVersion(BaseModel):
    """A write to wait for: by its version, or (a server-ordered write, which has none yet) by its log offset."""

    model_config = ConfigDict(extra="forbid")

    doc_id: DocId
    version: int | None = Field(None, ge=0, le=2**63 - 1)
    offset: int | None = Field(None, ge=0, le=2**63 - 1, description="DocumentAccepted.offset of the write")

    @model_validator(mode="after")
    def _one(self) -> MinVersion:
        if (self.version is None) == (self.offset is None):
            raise ValueError("give exactly one of version and offset")
        return self

    def __str__(self) -> str:
        return f"{self.doc_id}={self.version}" if self.version is not None else f"{self.doc_id}@{self.offset}"


class RagOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: QueryFilter | None = None
    min_versions: list[MinVersion] = Field(default_factory=list, max_length=32,
                                           description="wait (bounded) until these are indexed")
    top_k: int | None = Field(None, ge=1, le=50)
    rewrite: bool | None = Field(None, description="rewrite the last turn into standalone queries")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    include_usage: bool = False


class FunctionSpec(BaseModel):
    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")
    description: str | None = Field(None, max_length=4096)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(BaseModel):
    """A tool a client offers (Open WebUI and agent frameworks send some with every chat). ragstream answers from
    its documents and never calls one, as a model that chooses not to would."""

    type: Literal["function"]
    function: FunctionSpec


class NamedFunction(BaseModel):
    name: str = Field(max_length=64)


class NamedToolChoice(BaseModel):
    type: Literal["function"]
    function: NamedFunction


class ResponseFormat(BaseModel):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None


NO_TOOLS = "ragstream answers from its documents and calls no tools: use tool_choice 'auto' or 'none'"


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(max_length=128)
    messages: list[RequestMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=0, le=2**31 - 1)
    n: int | None = Field(None, ge=1, le=128)
    user: str | None = Field(None, max_length=256)
    # accepted from real clients and honoured by answering as a model that calls no tools
    tools: list[Tool] | None = Field(None, max_length=128)
    tool_choice: Literal["auto", "none", "required"] | NamedToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    metadata: dict[Annotated[str, StringConstraints(max_length=64)],
                   Annotated[str, StringConstraints(max_length=512)]] | None = Field(None, max_length=16)
    store: bool | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    frequency_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    presence_penalty: float | None = Field(None, ge=-2.0, le=2.0)
    ragstream: RagOptions = Field(default_factory=RagOptions)

    # What cannot be honoured is refused by name, so the client learns which field to drop.
    @field_validator("n")
    @classmethod
    def _one_choice(cls, n: int | None) -> int | None:
        if n is not None and n > 1:
            raise ValueError("ragstream returns one choice per request (n = 1)")
        return n

    @field_validator("tool_choice")
    @classmethod
    def _no_forced_tool(cls, choice):
        if choice == "required" or isinstance(choice, NamedToolChoice):
            raise ValueError(NO_TOOLS)
        return choice

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, response_format: ResponseFormat | None) -> ResponseFormat | None:
        if response_format is not None and response_format.type != "text":
            raise ValueError("ragstream answers in text with citations: response_format must be 'text'")
        return response_format

    @field_validator("logprobs", "top_logprobs")
    @classmethod
    def _no_logprobs(cls, value):
        if value:
            raise ValueError("ragstream does not return log probabilities")
        return value

    @field_validator("frequency_penalty", "presence_penalty")
    @classmethod
    def _no_penalty(cls, value: float | None) -> float | None:
        if value:
            raise ValueError("ragstream's generator applies no frequency or presence penalty: send 0 or omit it")
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> list[str]:
        stops = [value] if isinstance(value, str) else list(value or [])
        if len(stops) > MAX_STOP_SEQUENCES or any(not s or len(s) > 64 for s in stops):
            raise ValueError(f"stop takes at most {MAX_STOP_SEQUENCES} non-empty sequences of ≤ 64 characters")
        return stops

    @field_validator("messages")
    @classmethod
    def _ends_with_user(cls, messages: list[RequestMessage]) -> list[RequestMessage]:
        if messages[-1].role != "user":
            raise ValueError("the last message must be the user's question")
        return messages

    @property
    def token_limit(self) -> int | None:
        return self.max_completion_tokens or self.max_tokens


class Citation(BaseModel):
    number: int
    doc_id: str
    version: int
    chunk_no: int
    title: str
    score: float


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class UrlCitation(BaseModel):
    start_index: int = Field(description="where the citation's marker (or its Sources: line) starts in the content")
    end_index: int
    title: str
    url: str = Field(description="the cited document version, under /v1/documents/")


class Annotation(BaseModel):
    """OpenAI's standard citation annotation, which chat UIs render natively; ``citations`` carries the rest."""

    type: Literal["url_citation"] = "url_citation"
    url_citation: UrlCitation


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    annotations: list[Annotation] = Field(default_factory=list)


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop", "length"] | None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    citations: list[Citation] = Field(default_factory=list)
    timings_ms: dict[str, float] = Field(default_factory=dict, description="compute time of each stage")


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    annotations: list[Annotation] | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop", "length"] | None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    citations: list[Citation] | None = None
    timings_ms: dict[str, float] | None = None


class ErrorBody(BaseModel):
    message: str
    type: Literal["invalid_request_error", "authentication_error", "not_found_error", "rate_limit_error",
                  "timeout_error", "server_error"]
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """OpenAI's error shape, so clients raise their usual exceptions with our message."""

    error: ErrorBody
