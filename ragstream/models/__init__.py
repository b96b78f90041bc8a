"""Model clients behind small interfaces, so the workers and services never know where a model runs."""

from ragstream.models.embedder import Embedder, build_embedder

__all__ = ["Embedder", "build_embedder"]
