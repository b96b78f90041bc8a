"""The passage that flows between query stages: one chunk of one document version, with the score each stage gave
it. The API's passage, the prompt's numbered sources and the citations are views of it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field

from ragstream.schemas.api import Passage as ApiPassage

ROW_FIELDS = ("doc_id", "version", "chunk_no", "title", "text", "metadata")  # what retrieval reads from the index


class Passage(BaseModel):
    id: str  # the chunk's primary key: what fusion joins rankings on
    doc_id: str
    version: int
    chunk_no: int
    title: str = ""
    text: str
    metadata: dict[str, Any] = Field(default_factory=dict)
    score: float  # the current ranking's score, best first
    scores: dict[str, float] = Field(default_factory=dict)  # stage → its score ("retrieval", "rerank", ...)
    spans: list[tuple[int, int]] | None = None  # compression: the kept [start, end) spans of the chunk's text

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Passage:
        """A search hit from the index (its ``id``, ``score`` and ``ROW_FIELDS``)."""
        return cls(id=str(row["id"]), doc_id=row["doc_id"], version=row["version"], chunk_no=row["chunk_no"],
                   title=row.get("title") or "", text=row["text"], metadata=row.get("metadata") or {},
                   score=float(row["score"]))

    def rescored(self, score: float, **scores: float) -> Passage:
        """The same passage ranked by ``score``; ``scores`` are recorded by stage name."""
        return self.model_copy(update={"score": float(score), "scores": {**self.scores, **scores}})

    def api(self) -> ApiPassage:
        return ApiPassage(doc_id=self.doc_id, version=self.version, chunk_no=self.chunk_no, title=self.title,
                          text=self.text, score=self.score, retrieval_score=self.scores.get("retrieval"),
                          rerank_score=self.scores.get("rerank"), scores=self.scores,
                          metadata=self.metadata)
