"""Retries, backoff and the circuit breaker of the model client layer, with a fake clock and failing calls."""

from __future__ import annotations

import asyncio

import grpc
import pytest
from tritonclient.utils import InferenceServerException

from ragstream.models.client import ModelError, ModelUnavailable
from ragstream.models.resilience import CircuitBreaker, CircuitOpen, with_retries
from ragstream.models.triton_client import _translate
from ragstream.settings import TritonSettings

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
