"""In-process doubles for unit tests: deterministic and fast, same interface as the real parts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch


class HashingEmbedder:
    """Bag-of-words hashed into a unit vector: similar texts get similar vectors, no model needed."""

    def __init__(self, dimension: int = 384) -> None:
        self.dimension = dimension
        self.calls = 0

    def embed(self, texts):
        self.calls += 1
        out = []
        for text in texts:
            vector = np.zeros(self.dimension, dtype=np.float32)
            for word in text.lower().split():
                vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimension] += 1.0
            vector /= max(float(np.linalg.norm(vector)), 1e-9)
            out.append(vector.tolist())
        return out


class FailingEmbedder(HashingEmbedder):
    """Fails the first ``failures`` calls, as an unreachable model server would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def embed(self, texts):
        if self.failures > 0:
            self.failures -= 1
            raise ConnectionError("model server unreachable")
        return super().embed(texts)


def tiny_cross_encoder(folder: Path) -> Path:
    """A random-weight BERT cross-encoder in the standard sentence-transformers folder layout, built offline."""
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    words = "hamlet shakespeare tragedy paris tower plants energy market tuesday the a is of in by".split()
    vocab = folder / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]) + "\n")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(words) + 5, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128, num_labels=1)
    model_dir = folder / "cross-encoder"
    BertForSequenceClassification(config).save_pretrained(model_dir)
    BertTokenizer(str(vocab)).save_pretrained(model_dir)
    return model_dir
