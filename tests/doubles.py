"""In-process doubles for unit tests: deterministic and fast, same interface as the real parts."""

from __future__ import annotations

import hashlib

import numpy as np


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
