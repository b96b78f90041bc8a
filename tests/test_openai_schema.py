"""The OpenAI-compatible wire format: what standard clients send parses, what they must not send is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from ragstream.schemas.openai import ChatCompletionChunk, ChatCompletionRequest, Citation, ErrorResponse

OPENAI_CLIENT_BODY = {  # what `openai.chat.completions.create(..., stream=True, extra_body=...)` sends
    "model": "ragstream",
    "messages": [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": [{"type": "text", "text": "How many "}, {"type": "text", "text": "days?"}]},
    ],
    "stream": True,
    "stream_options": {"include_usage": True},
    "max_completion_tokens": 128,
    "stop": "\n\n",
    "ragstream": {"filters": {"all": [{"field": "metadata.team", "value": "hr"}]},
                  "min_versions": [{"doc_id": "handbook", "version": 4}]},
}


def test_a_standard_client_request_parses_with_extensions():
    request = ChatCompletionRequest.model_validate(OPENAI_CLIENT_BODY)
    chat = [m.to_chat() for m in request.messages]
    assert [m.role for m in chat] == ["system", "user", "assistant", "user"]
    assert chat[-1].content == "How many days?"
    assert request.stop == ["\n\n"] and request.token_limit == 128
    assert request.ragstream.filters.all[0].field == "metadata.team"
    assert request.ragstream.min_versions[0].version == 4


@pytest.mark.parametrize("change", [
    {"n": 2},
    {"messages": []},
    {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]},
    {"messages": [{"role": "tool", "content": "x"}]},
    {"temperature": 3},
    {"stop": ["a"] * 9},
    {"tools": [{"type": "function"}]},
    {"tool_choice": "required", "tools": [{"type": "function", "function": {"name": "search"}}]},
    {"tool_choice": {"type": "function", "function": {"name": "search"}}},
    {"response_format": {"type": "json_object"}},
    {"logprobs": True},
    {"top_logprobs": 3},
    {"presence_penalty": 0.5},
    {"metadata": {f"k{n}": "v" for n in range(17)}},
    {"ragstream": {"filters": {"all": [{"field": "tenant", "value": "globex"}]}}},
    {"ragstream": {"min_versions": [{"doc_id": "../etc", "version": 1}]}},
    {"ragstream": {"tenant": "globex"}},
])
def test_invalid_requests_are_refused(change):
    with pytest.raises(ValidationError):
        ChatCompletionRequest.model_validate({**OPENAI_CLIENT_BODY, **change})


OPEN_WEBUI_EXTRAS = {  # what Open WebUI, LangChain and the openai SDK add to a plain chat
    "tools": [{"type": "function", "function": {"name": "search_web", "description": "Search the web",
                                                "parameters": {"type": "object", "properties": {}}}}],
    "tool_choice": "auto", "parallel_tool_calls": True, "response_format": {"type": "text"}, "user": "u-1",
    "metadata": {"chat_id": "c-9"}, "seed": 7, "n": 1, "logprobs": False, "frequency_penalty": 0,
    "presence_penalty": 0.0, "store": False,
}


def test_what_real_clients_add_is_accepted_and_answered_without_tools():
    request = ChatCompletionRequest.model_validate({**OPENAI_CLIENT_BODY, **OPEN_WEBUI_EXTRAS})
    assert request.tools[0].function.name == "search_web" and request.tool_choice == "auto"
    assert ChatCompletionRequest.model_validate({**OPENAI_CLIENT_BODY, "tool_choice": "none"}).tool_choice == "none"


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"n": 2}, "n", "one choice"),
    ({"tool_choice": "required"}, "tool_choice", "calls no tools"),
    ({"response_format": {"type": "json_schema", "json_schema": {}}}, "response_format", "must be 'text'"),
    ({"logprobs": True}, "logprobs", "log probabilities"),
])
def test_what_cannot_be_honoured_is_refused_by_name(change, field, says):
    with pytest.raises(ValidationError) as refused:
        ChatCompletionRequest.model_validate({**OPENAI_CLIENT_BODY, **change})
    error = refused.value.errors()[0]
    assert error["loc"][0] == field and says in error["msg"]


def test_responses_have_the_openai_shape():
    chunk = ChatCompletionChunk(id="c1", created=1, model="ragstream", choices=[{"delta": {"content": "25"}}],
                                citations=[Citation(number=1, doc_id="h", version=4, chunk_no=0, title="", score=1)])
    body = chunk.model_dump(exclude_none=True)
    assert body["object"] == "chat.completion.chunk" and body["choices"][0] == {"index": 0, "delta": {"content": "25"}}
    error = ErrorResponse.model_validate({"error": {"message": "bad key", "type": "authentication_error"}})
    assert error.model_dump(exclude_none=True) == {"error": {"message": "bad key", "type": "authentication_error"}}
