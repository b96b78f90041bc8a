"""Retries, backoff and the circuit breaker of the model client layer, with a fake clock and failing calls."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from tritonclient.utils import InferenceServerException

from ragstream.core.generation.prompt import NO_ANSWER
from ragstream.core.models.client import ModelError, ModelUnavailable, Priority
from ragstream.core.models.fake import FakeModelClient
from ragstream.core.models.resilience import CircuitBreaker, CircuitOpen, Resilient, with_retries
from ragstream.core.models.traced import Traced
from ragstream.core.models.triton_client import _translate
from ragstream.core.settings import TritonSettings
from ragstream.schemas.generation import ChatMessage, GenerationRequest

POLICY = TritonSettings(retries=3, retry_initial_s=0.001, retry_max_s=0.002, breaker_failures=10)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def flaky(failures: int, error: Exception):
    calls = []

    async def call():
        calls.append(1)
        if len(calls) <= failures:
            raise error
        return "ok"

    return call, calls


def test_transient_failures_are_retried_until_success():
    call, calls = flaky(2, ModelUnavailable("down"))
    assert asyncio.run(with_retries(call, CircuitBreaker("m", 10, 5), POLICY)) == "ok"
    assert len(calls) == 3


def test_retries_stop_after_the_policy_and_raise_the_last_error():
    call, calls = flaky(99, ModelUnavailable("down"))
    with pytest.raises(ModelUnavailable, match="down"):
        asyncio.run(with_retries(call, CircuitBreaker("m", 10, 5), POLICY))
    assert len(calls) == POLICY.retries + 1


def test_model_errors_are_not_retried():
    call, calls = flaky(99, ModelError("bad input"))
    with pytest.raises(ModelError, match="bad input"):
        asyncio.run(with_retries(call, CircuitBreaker("m", 10, 5), POLICY))
    assert len(calls) == 1


def test_breaker_opens_fails_fast_and_lets_one_probe_through_after_the_reset():
    clock = Clock()
    breaker = CircuitBreaker("embedder", failures=2, reset_s=5, clock=clock)
    breaker.failure()
    breaker.check()
    breaker.failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen, match="embedder: circuit open"):
        breaker.check()
    clock.now = 5.0
    assert breaker.state == "half-open"
    breaker.check()
    breaker.failure()  # the probe failed: open for another full period
    clock.now = 9.0
    assert breaker.state == "open"
    clock.now = 10.0
    breaker.success()
    assert breaker.state == "closed"


@pytest.mark.parametrize(("error", "transient"), [
    (InferenceServerException("unavailable", status="StatusCode.UNAVAILABLE"), True),
    (InferenceServerException("Deadline Exceeded", status="StatusCode.DEADLINE_EXCEEDED"), True),
    (InferenceServerException("Stub process 'embedder_0_1' is not healthy.", status="StatusCode.INTERNAL"), True),
    (InferenceServerException("embedder: TEXT is not UTF-8", status="StatusCode.INTERNAL"), False),
    (InferenceServerException("unknown model", status="StatusCode.NOT_FOUND"), False),
    (InferenceServerException("generator: prompt too long"), False),
])
def test_triton_errors_are_classified(error, transient):
    translated = _translate("embedder", error)
    assert isinstance(translated, ModelUnavailable) is transient
    assert str(translated).startswith("embedder: ")


def test_grpc_transport_errors_are_transient():
    error = grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "reset")
    assert isinstance(_translate("generator", error), ModelUnavailable)


class Sick(FakeModelClient):
    """Fails the first ``failures`` calls of each kind transiently; its stream can also break after a chunk."""

    def __init__(self, failures: int, break_stream: bool = False) -> None:
        super().__init__(dimension=8)
        self.failures, self.break_stream, self.attempts = failures, break_stream, {"embed": 0, "generate": 0}

    def _fail(self, kind: str) -> None:
        self.attempts[kind] += 1
        if self.attempts[kind] <= self.failures:
            raise ModelUnavailable(f"{kind}: overloaded")

    async def embed(self, texts, priority=Priority.QUERY):
        self._fail("embed")
        return await super().embed(texts, priority)

    async def generate(self, request):
        self._fail("generate")
        async for chunk in super().generate(request):
            yield chunk
            if self.break_stream:
                raise ModelUnavailable("generator: connection reset")


REQUEST = GenerationRequest(messages=[ChatMessage(role="user", content="hi")])


async def _text(stream) -> str:
    return "".join([chunk.text async for chunk in stream])


def test_any_adapter_gets_retries_and_a_breaker_from_the_wrapper():
    sick = Sick(failures=2)
    assert len(asyncio.run(Resilient(sick, POLICY).embed(["a", "b"]))) == 2 and sick.attempts["embed"] == 3
    dead = Resilient(Sick(failures=100), POLICY.model_copy(update={"retries": 1, "breaker_failures": 2}))
    with pytest.raises(ModelUnavailable, match="overloaded"):
        asyncio.run(dead.embed(["a"]))
    with pytest.raises(CircuitOpen, match="embedder_query: circuit open"):
        asyncio.run(dead.embed(["a"]))
    with pytest.raises(ModelUnavailable, match="overloaded"):  # the ingest embedder has a breaker of its own
        asyncio.run(dead.embed(["a"], Priority.INGEST))


def test_a_stream_is_retried_until_its_first_chunk_and_never_after():
    sick = Sick(failures=2)
    assert asyncio.run(_text(Resilient(sick, POLICY).generate(REQUEST))) and sick.attempts["generate"] == 3
    broken = Sick(failures=0, break_stream=True)
    with pytest.raises(ModelUnavailable, match="connection reset"):
        asyncio.run(_text(Resilient(broken, POLICY).generate(REQUEST)))
    assert broken.attempts["generate"] == 1, "a retry after the first chunk would repeat text"


def test_the_stack_of_wrappers_keeps_the_adapters_dimension_and_answers():
    client = Traced(Resilient(FakeModelClient(dimension=16), POLICY), "fake")
    assert client.dimension == 16 and len(asyncio.run(client.embed(["x"]))[0]) == 16
    assert asyncio.run(_text(client.generate(REQUEST))) == NO_ANSWER
