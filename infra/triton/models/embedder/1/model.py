"""Triton adapter of ragstream's embedder engine: one engine call per dynamic batch, errors per request."""

import os

import numpy as np
import triton_python_backend_utils as pb_utils

from ragstream.core.models.embedder import build_embedder
from ragstream.core.settings import Settings


def _lower_priority(nice: int) -> None:
    """Every thread of this instance's stub process (threads started later inherit it)."""
    for tid in os.listdir("/proc/self/task"):
        os.setpriority(os.PRIO_PROCESS, int(tid), nice)


class TritonPythonModel:
    def initialize(self, args):
        settings = Settings().models.embedder
        # Triton runs each Python-backend instance in its own process: the ingest instances (not `embedder_query`,
        # which shares this file) yield the CPU to the query path's models whenever both are busy.
        if args["model_name"] == "embedder" and settings.ingest_nice:
            _lower_priority(settings.ingest_nice)
        self.engine = build_embedder(settings)

    def execute(self, requests):
        texts, spans, errors = [], [], {}
        for i, request in enumerate(requests):
            raw = pb_utils.get_input_tensor_by_name(request, "TEXT").as_numpy().reshape(-1)
            try:
                decoded = [t.decode("utf-8") for t in raw]
            except UnicodeDecodeError as error:
                errors[i] = f"TEXT is not UTF-8: {error}"
                decoded = []
            spans.append((len(texts), len(texts) + len(decoded)))
            texts += decoded
        try:
            vectors = np.asarray(self.engine.embed(texts), dtype=np.float32)
        except Exception as error:  # an engine failure fails the batch, never the instance
            return [pb_utils.InferenceResponse(error=pb_utils.TritonError(f"embedder: {error}")) for _ in requests]
        return [
            pb_utils.InferenceResponse(error=pb_utils.TritonError(errors[i])) if i in errors
            else pb_utils.InferenceResponse([pb_utils.Tensor("EMBEDDING", vectors[start:end])])
            for i, (start, end) in enumerate(spans)
        ]
