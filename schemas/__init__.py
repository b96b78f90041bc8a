"""Wire formats (pydantic v2). ``python -m ragstream.schemas.export`` regenerates the JSON Schemas in
``schemas/json``."""

from ragstream.schemas.dead_letter import DeadLetterHeaders, FailureStage
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.generation import ChatMessage, GenerationChunk, GenerationRequest
from ragstream.schemas.outcomes import IndexEvent, Outcome

__all__ = [
    "ChatMessage", "DeadLetterHeaders", "DocumentEvent", "FailureStage", "GenerationChunk", "GenerationRequest",
    "IndexEvent", "Outcome",
]
