"""Triton adapter of ragstream's llama.cpp generator, decoupled: each chunk is its own response.

Requests run one at a time per instance (llama.cpp holds one context); a cancelled request stops generating.
"""

import numpy as np
import triton_python_backend_utils as pb_utils

from ragstream.core.models.generator import build_generator
from ragstream.core.settings import Settings
from ragstream.schemas.generation import GenerationRequest


def _chunk_response(chunk):
    return pb_utils.InferenceResponse([pb_utils.Tensor("CHUNK", np.array([chunk.model_dump_json().encode()],
                                                                           dtype=np.object_))])


class TritonPythonModel:
    def initialize(self, args):
        self.engine = build_generator(Settings().models.generator)

    def execute(self, requests):
        for request in requests:
            sender = request.get_response_sender()
            final = pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL
            try:
                raw = pb_utils.get_input_tensor_by_name(request, "REQUEST").as_numpy().reshape(-1)[0]
                parsed = GenerationRequest.model_validate_json(raw)
                for chunk in self.engine.generate(parsed, cancelled=request.is_cancelled):
                    if chunk.finish_reason is None:
                        sender.send(_chunk_response(chunk))
                    else:
                        sender.send(_chunk_response(chunk), flags=final)
            except Exception as error:  # bad request or engine failure: the stream ends with the error
                sender.send(pb_utils.InferenceResponse(error=pb_utils.TritonError(f"generator: {error}")),
                            flags=final)
        return None
