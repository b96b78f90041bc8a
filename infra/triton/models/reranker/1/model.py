"""Triton adapter of ragstream's reranker engine: scores for one query's candidate passages, in input order."""

import numpy as np
import triton_python_backend_utils as pb_utils

from ragstream.core.models.reranker import build_reranker
from ragstream.core.settings import Settings


class TritonPythonModel:
    def initialize(self, args):
        self.engine = build_reranker(Settings().models.reranker)

    def execute(self, requests):
        return [self._score(request) for request in requests]

    def _score(self, request):
        try:
            query = pb_utils.get_input_tensor_by_name(request, "QUERY").as_numpy().reshape(-1)[0].decode("utf-8")
            passages = [p.decode("utf-8") for p in
                        pb_utils.get_input_tensor_by_name(request, "PASSAGES").as_numpy().reshape(-1)]
            scores = np.asarray(self.engine.score(query, passages), dtype=np.float32)
        except Exception as error:  # bad input or engine failure: this request fails, the instance lives on
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(f"reranker: {error}"))
        return pb_utils.InferenceResponse([pb_utils.Tensor("SCORES", scores)])
