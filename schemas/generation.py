"""What travels to and from the ``generator`` model on Triton: JSON in BYTES tensors, one chunk per response.

The same models are the in-process generator's interface, so both paths are checked by one set of types.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_MESSAGES = 64
MAX_MESSAGE_CHARS = 64_000
MAX_STOP_SEQUENCES = 8


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_MESSAGE_CHARS)


class GenerationRequest(BaseModel):
    """Sampling parameters follow the OpenAI names; ``max_tokens`` unset means the server's configured cap."""

    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_MESSAGES)
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list, max_length=MAX_STOP_SEQUENCES)
    seed: int | None = Field(None, ge=0, le=2**31 - 1)


class GenerationChunk(BaseModel):
    """A piece of text; the last chunk of a stream has ``finish_reason`` and the token counts."""

    model_config = ConfigDict(extra="forbid")

    text: str = ""
    finish_reason: Literal["stop", "length", "cancelled"] | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
