"""Writes one JSON Schema per wire model; a test fails when the committed files are stale."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from schemas import DeadLetterHeaders, DocumentEvent, IndexEvent

JSON_DIR = Path(__file__).parent / "json"
MODELS: dict[str, type[BaseModel]] = {
    "document_event": DocumentEvent,
    "index_event": IndexEvent,
    "dead_letter_headers": DeadLetterHeaders,
}


def render(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema(mode="validation"), indent=2, sort_keys=True) + "\n"


def main() -> None:
    JSON_DIR.mkdir(exist_ok=True)
    for name, model in MODELS.items():
        (JSON_DIR / f"{name}.schema.json").write_text(render(model))


if __name__ == "__main__":
    main()
