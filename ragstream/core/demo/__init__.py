"""The bundled demo corpus (the Markdown files here, which `ragstream up --demo` ingests) and the questions
written for it: answerable ones with the document that answers them and words a right answer contains, and
questions the corpus cannot answer. The demo test and the quality benchmark ask them."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

FOLDER = Path(__file__).parent


class DemoQuestion(BaseModel):
    question: str
    answerable: bool
    doc_ids: list[str]  # any of them answers it
    expect_any: list[str]  # a right answer contains one of these (case-insensitive)


def questions() -> list[DemoQuestion]:
    return [DemoQuestion.model_validate(q) for q in json.loads((FOLDER / "questions.json").read_text())]
