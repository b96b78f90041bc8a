"""Refuses, before any retrieval runs, a conversation the generator could not read: OpenAI's
``context_length_exceeded`` (400), instead of searching, reranking and then failing in the model."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from llama_index.core.utils import get_tokenizer

from ragstream.schemas.generation import ChatMessage
from ragstream.services.api.errors import ApiError

PER_MESSAGE_TOKENS = 4  # the chat template's role markers


@cache
def _tokenizer():
    return get_tokenizer()


def generator_view(messages: Sequence[ChatMessage], history: int) -> list[ChatMessage]:
    """What the generator is shown of a conversation: the question and the last ``history`` turns before it."""
    return [m for m in messages[:-1] if m.role != "system"][-history:] + [messages[-1]]


def check_fits(messages: Sequence[ChatMessage], context_tokens: int, answer_tokens: int) -> None:
    """Counts with llama-index's default tokenizer: an estimate of the generator's own, close for English text."""
    used = sum(len(_tokenizer()(m.content)) + PER_MESSAGE_TOKENS for m in messages)
    if used + answer_tokens > context_tokens:
        raise ApiError(400, f"This model's maximum context length is {context_tokens} tokens; the messages it reads "
                       f"take about {used} and the answer needs {answer_tokens}: shorten the question or the "
                       "conversation, or ask for fewer max_tokens", "context_length_exceeded", "messages")
