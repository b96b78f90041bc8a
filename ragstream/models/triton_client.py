"""The models on Triton, over ``tritonclient.grpc.aio``: deadlines, retries with backoff, a breaker per model."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Sequence

import grpc
import numpy as np
import tritonclient.grpc.aio as triton
from opentelemetry.trace import SpanKind, Status, StatusCode
from tritonclient.utils import InferenceServerException

from ragstream.models.client import ModelError, ModelUnavailable, Priority
from ragstream.models.resilience import CircuitBreaker, with_retries
from ragstream.settings import ModelSettings
from ragstream.telemetry.batch import shared_span
from ragstream.telemetry.tracing import tracer
from schemas.generation import GenerationChunk, GenerationRequest

# Model per caller, and the largest request each accepts (its config.pbtxt's max_batch_size).
_EMBEDDERS = {Priority.QUERY: ("embedder_query", 8), Priority.INGEST: ("embedder", 32)}
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


def _rpc(method: str, model: str) -> dict:
    return {"rpc.system": "grpc", "rpc.service": "inference.GRPCInferenceService", "rpc.method": method,
            "ragstream.model": model}


def client_span(method: str, model: str, attributes: dict):
    """A gRPC client span per model call (retries included): the Triton hop in a document's or question's trace."""
    return shared_span(f"triton {model}", SpanKind.CLIENT, {**_rpc(method, model), **attributes})


class TritonModelClient:
    def __init__(self, settings: ModelSettings, url: str) -> None:
        self._settings = settings
        self._policy = settings.triton
        self.dimension = settings.embedder.dimension
        self._client = triton.InferenceServerClient(url, channel_args=_CHANNEL_ARGS)
        self._breakers = {name: CircuitBreaker(name, self._policy.breaker_failures, self._policy.breaker_reset_s)
                          for name in ("embedder", "embedder_query", "reranker", "generator")}

    async def _infer(self, model: str, inputs: list, **attributes):
        async def once():
            try:
                return await self._client.infer(model, inputs, client_timeout=self._policy.timeout_s)
            except (InferenceServerException, grpc.aio.AioRpcError) as error:
                raise _translate(model, error) from None

        with client_span("ModelInfer", model, attributes):
            return await with_retries(once, self._breakers[model], self._policy)

    async def embed(self, texts: Sequence[str], priority: Priority = Priority.QUERY) -> list[list[float]]:
        model, largest = _EMBEDDERS[priority]
        step = min(self._settings.embedder.batch_size, largest)  # bounded requests keep every queue moving
        in_flight = asyncio.Semaphore(_EMBED_REQUESTS_IN_FLIGHT)

        async def part(start: int):
            texts_part = texts[start:start + step]
            async with in_flight:
                result = await self._infer(model, [_bytes_tensor("TEXT", texts_part, [len(texts_part), 1])],
                                           **{"ragstream.texts": len(texts_part)})
            return result.as_numpy("EMBEDDING").tolist()

        parts = await asyncio.gather(*(part(start) for start in range(0, len(texts), step)))
        return [vector for vectors in parts for vector in vectors]

    async def rerank(self, query: str, passages: Sequence[str]) -> list[float]:
        if not passages:
            return []
        result = await self._infer("reranker", [_bytes_tensor("QUERY", [query], [1]),
                                                _bytes_tensor("PASSAGES", passages, [len(passages)])],
                                   **{"ragstream.passages": len(passages)})
        return result.as_numpy("SCORES").tolist()

    async def generate(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
        """Retries (with backoff) only until the first chunk arrives: after that a retry would repeat text."""
        breaker = self._breakers["generator"]

        async def first_chunk():
            stream = self._stream(request)
            try:
                return stream, await anext(stream)
            except BaseException:
                await stream.aclose()
                raise

        # Not the current span: an async generator resumes in its consumer's context, so nothing may be attached.
        span = tracer().start_span("triton generator", kind=SpanKind.CLIENT, attributes=_rpc("ModelStreamInfer",
                                                                                              "generator"))
        chunks = 0
        try:
            stream, first = await with_retries(first_chunk, breaker, self._policy)
            chunks = 1
            try:
                yield first
                async for chunk in stream:
                    chunks += 1
                    yield chunk
            except ModelUnavailable:
                breaker.failure()
                raise
            finally:
                await stream.aclose()
        except Exception as error:
            span.set_status(Status(StatusCode.ERROR, f"{type(error).__name__}: {error}"))
            raise
        finally:
            span.set_attribute("ragstream.chunks", chunks)
            span.end()

    async def _stream(self, request: GenerationRequest) -> AsyncIterator[GenerationChunk]:
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
