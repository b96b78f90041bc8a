"""The API's error mapping and body limits without Ray: every failure a stage can raise becomes an honest status
in OpenAI's error shape, and the body limits answer 413/408 before anything is parsed."""

from __future__ import annotations

import asyncio
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from kafka.errors import KafkaTimeoutError
from pydantic import BaseModel, ConfigDict
from pymilvus.exceptions import MilvusException
from ray.serve.exceptions import BackPressureError

from ragstream.core.auth import Unauthorized
from ragstream.core.models.client import ModelError, ModelUnavailable
from ragstream.core.models.resilience import CircuitOpen
from ragstream.services.api import errors
from ragstream.services.api.limits import BodyLimit


@pytest.mark.parametrize(("error", "status", "code"), [
    (BackPressureError(num_queued_requests=9, max_queued_requests=8), 503, "overloaded"),
    (ModelUnavailable("generator: Deadline Exceeded"), 503, "overloaded"),
    (CircuitOpen("reranker: circuit open after 5 failures"), 503, "overloaded"),
    (ModelError("generator: prompt longer than the context window"), 400, "model_error"),
    (KafkaTimeoutError("Failed to update metadata after 10.0 secs."), 503, "overloaded"),
    (MilvusException(2, "Fail connecting to server on 127.0.0.1:19530"), 503, "overloaded"),
    (errors.ApiError(409, "stale"), 409, None),
    (ZeroDivisionError("a bug of ours"), 500, "internal_error"),
])
def test_what_a_stage_raises_maps_to_an_honest_status(error, status, code):
    mapped = errors.from_exception(error, retry_after_s=3)
    assert (mapped.status, mapped.code) == (status, code)
    if status == 503:
        assert mapped.headers == {"Retry-After": "3"}
    body = mapped.body().model_dump()["error"]
    assert body["type"] == {400: "invalid_request_error", 409: "invalid_request_error", 500: "server_error",
                            503: "server_error"}[status]
    assert "Traceback" not in body["message"]


def test_a_wrapped_error_reports_only_its_last_line():
    class Wrapped(ModelUnavailable):
        cause = "Traceback (most recent call last):\n  File x\nModelUnavailable: embedder: overloaded"

    message = errors.from_exception(Wrapped("ignored"), 1).message
    assert message == "a model is unavailable: ModelUnavailable: embedder: overloaded" and "File" not in message


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


def app(max_bytes: int = 64, timeout_s: float = 0.2) -> FastAPI:
    api = FastAPI()
    errors.install(api, retry_after_s=2)
    api.add_middleware(BodyLimit, limits=lambda scope: (max_bytes, timeout_s))

    @api.post("/echo")
    async def echo(body: Body) -> dict:
        return {"text": body.text}

    @api.get("/secret")
    async def secret() -> dict:
        raise Unauthorized("missing API key")

    @api.get("/boom")
    async def boom() -> dict:
        raise ModelUnavailable("generator: stub process is not healthy")

    return api


def test_bodies_over_the_limit_get_413_and_bad_ones_400_in_openai_shape():
    with TestClient(app(), raise_server_exceptions=False) as client:
        assert client.post("/echo", json={"text": "hi"}).json() == {"text": "hi"}
        too_big = client.post("/echo", json={"text": "x" * 100})
        assert too_big.status_code == 413 and too_big.json()["error"]["code"] == "body_too_large"
        streamed = client.post("/echo", content=iter([b'{"text": "', b"x" * 100, b'"}']))  # no Content-Length
        assert streamed.status_code == 413
        for bad in (b'{"text": ', b"[1]", b'{"text": "hi", "extra": 1}'):
            response = client.post("/echo", content=bad, headers={"Content-Type": "application/json"})
            assert response.status_code == 400 and response.json()["error"]["type"] == "invalid_request_error"
        assert client.get("/secret").status_code == 401
        down = client.get("/boom")
        assert down.status_code == 503 and down.headers["Retry-After"] == "2"


def test_a_client_that_sends_its_body_too_slowly_gets_408():
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(1)  # past the 0.2 s the limit allows
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/echo", "headers": [], "query_string": b"",
             "app": None}
    asyncio.run(BodyLimit(app(), limits=lambda scope: (64, 0.2))(scope, receive, send))
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["error"]["code"] == "body_timeout"
