"""Writes one JSON Schema per wire model; a test fails when the committed files are stale."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from pydantic import BaseModel

from ragstream.schemas import DeadLetterHeaders, DocumentEvent, GenerationChunk, GenerationRequest, IndexEvent
from ragstream.schemas.api import DocumentAccepted, DocumentStatus, DocumentUpsert, RetrieveRequest, RetrieveResponse
from ragstream.schemas.filters import QueryFilter
from ragstream.schemas.openai import ChatCompletion, ChatCompletionChunk, ChatCompletionRequest, ErrorResponse

JSON_DIR = Path(__file__).parent / "json"
MODELS: dict[str, type[BaseModel]] = {
    "document_event": DocumentEvent,
    "index_event": IndexEvent,
    "dead_letter_headers": DeadLetterHeaders,
    "generation_request": GenerationRequest,
    "generation_chunk": GenerationChunk,
    "query_filter": QueryFilter,
    "chat_completion_request": ChatCompletionRequest,
    "chat_completion": ChatCompletion,
    "chat_completion_chunk": ChatCompletionChunk,
    "error_response": ErrorResponse,
    "retrieve_request": RetrieveRequest,
    "retrieve_response": RetrieveResponse,
    "document_upsert": DocumentUpsert,
    "document_accepted": DocumentAccepted,
    "document_status": DocumentStatus,
}


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(mode="validation"), indent=2, sort_keys=True) + "\n"


def stale() -> list[str]:
    return [name for name, model in MODELS.items()
            if not (JSON_DIR / f"{name}.schema.json").exists()
            or (JSON_DIR / f"{name}.schema.json").read_text() != render(model)]


def main() -> None:
    if "--check" in sys.argv:
        if names := stale():
            sys.exit(f"stale JSON Schemas: {', '.join(names)}; run `make schemas` and commit schemas/json")
        return
    JSON_DIR.mkdir(exist_ok=True)
    for name, model in MODELS.items():
        (JSON_DIR / f"{name}.schema.json").write_text(render(model))


if __name__ == "__main__":
    main()
