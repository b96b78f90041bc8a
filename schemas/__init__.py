"""Wire formats (pydantic v2). ``python -m schemas.export`` regenerates the JSON Schemas in ``schemas/json``."""

from schemas.dead_letter import DeadLetterHeaders, FailureStage
from schemas.events import DocumentEvent
from schemas.generation import ChatMessage, GenerationChunk, GenerationRequest
from schemas.outcomes import IndexEvent, Outcome

__all__ = [
    "ChatMessage", "DeadLetterHeaders", "DocumentEvent", "FailureStage", "GenerationChunk", "GenerationRequest",
    "IndexEvent", "Outcome",
]
