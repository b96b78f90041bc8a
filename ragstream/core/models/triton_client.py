"""The models on Triton, over ``tritonclient.grpc.aio``: an adapter that only adapts (tensors, deadlines, error
classes). Retries and spans are the ``Resilient`` and ``Traced`` wrappers around it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import grpc
import numpy as np
import tritonclient.grpc.aio as triton
from tritonclient.utils import InferenceServerException

from ragstream.core.models.client import ModelError, ModelUnavailable, Priority, model_name
from ragstream.core.settings import ModelSettings
from ragstream.schemas.generation import GenerationChunk, GenerationRequest

# The largest request each embedder accepts (its config.pbtxt's max_batch_size).
_LARGEST = {Priority.QUERY: 8, Priority.INGEST: 32}
# A large call runs as parallel requests, one per embedder instance (the ingest model has two).
_EMBED_REQUESTS_IN_FLIGHT = 2
_TRANSIENT = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "ABORTED", "CANCELLED")
# Keep the connection alive across idle minutes without tripping the server's ping policy.
_CHANNEL_ARGS = [("grpc.keepalive_time_ms", 60_000), ("grpc.keepalive_permit_without_calls", 0),
                 ("grpc.max_receive_message_length", 64 << 20), ("grpc.max_send_message_length", 64 << 20)]


def _bytes_tensor(name: str, texts: Sequence[str], shape: list[int]) -> triton.InferInput:
    tensor = triton.InferInput(name, shape, "BYTES")
    tensor.set_data_from_numpy(np.array([t.encode("utf-8") for t in texts], dtype=np.object_).reshape(shape))
    return tensor


def _translate(model: str, error: Exception) -> ModelError:
    """Server-down, overload and deadline errors are transient; anything the model said is not."""
    if isinstance(error, grpc.aio.AioRpcError):
        status, message = error.code().name, error.details()
    elif isinstance(error, InferenceServerException):
        status, message = str(error.status() or ""), error.message()
    else:
        return ModelUnavailable(f"{model}: {type(error).__name__}: {error}")
    transient = any(code in status for code in _TRANSIENT) or "Stub process" in (message or "")
    return (ModelUnavailable if transient else ModelError)(f"{model}: {message or status}")


def span_attributes(operation: str, model: str) -> dict:
    """What ``Traced`` puts on a Triton call's span: the gRPC method it is."""
    return {"rpc.system": "grpc", "rpc.service": "inference.GRPCInferenceService",
            "rpc.method": "ModelStreamInfer" if operation == "generate" else "ModelInfer"}


class TritonModelClient:
    def __init__(self, settings: ModelSettings, url: str) -> None:
        self._settings = settings
        self._policy = settings.triton
        self.dimension = settings.embedder.dimension
        self._client = triton.InferenceServerClient(url, channel_args=_CHANNEL_ARGS)

    async def _infer(self, model: str, inputs: list):
        try:
            return await self._client.infer(model, inputs, client_timeout=self._policy.timeout_s)
        except (InferenceServerException, grpc.aio.AioRpcError) as error:
            raise _translate(model, error) from None

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]:
        model = model_name("embed", priority)
        step = min(self._settings.embedder.batch_size, _LARGEST[priority])  # bounded requests keep queues moving
        in_flight = asyncio.Semaphore(_EMBED_REQUESTS_IN_FLIGHT)

        async def part(start: int):
            texts_part = texts[start:start + step]
            async with in_flight:
                result = await self._infer(model, [_bytes_tensor("TEXT", texts_part, [len(texts_part), 1])])
            return result.as_numpy("EMBEDDING").tolist()

        parts = await asyncio.gather(*(part(start) for start in range(0, len(texts), step)))
        return [vector for vectors in parts for vector in vectors]

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        result = await self._infer("reranker", [_bytes_tensor("QUERY", [query], [1]),
                                                _bytes_tensor("PASSAGES", passages, [len(passages)])])
        return result.as_numpy("SCORES").tolist()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        async def one_request():
            yield {"model_name": "generator", "request_id": uuid.uuid4().hex,
                   "inputs": [_bytes_tensor("REQUEST", [request.model_dump_json()], [1])]}

        responses = self._client.stream_infer(one_request())
        try:
            while True:
                try:
                    result, error = await asyncio.wait_for(anext(responses), self._policy.token_timeout_s)
                except TimeoutError:
                    raise ModelUnavailable(f"generator: no token for {self._policy.token_timeout_s:.0f}s") from None
                except StopAsyncIteration:
                    raise ModelUnavailable("generator: stream ended before its final chunk") from None
                except (InferenceServerException, grpc.aio.AioRpcError) as failure:
                    raise _translate("generator", failure) from None
                if error is not None:
                    raise _translate("generator", error)
                chunk = GenerationChunk.model_validate_json(result.as_numpy("CHUNK").reshape(-1)[0])
                yield chunk
                if chunk.finish_reason is not None:
                    return
        finally:
            responses.cancel()  # a caller that stops reading (client went away) stops the generation too

    async def close(self) -> None:
        await self._client.close()
