"""The served API under generated and hostile requests: schemathesis over the OpenAPI schema it serves (valid and
invalid requests for every operation) finds no server error; oversize and slowly sent bodies are refused."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

pytestmark = pytest.mark.stack

FUZZ = {"Authorization": "Bearer key-fuzz"}  # its own tenant: generated documents land nowhere else
EXAMPLES = {"POST /v1/chat/completions": 6}  # each valid one runs the generator; the rest are cheap
# Statuses that are part of the API's contract, not failures: backpressure and the read-your-writes deadline.
EXPLICIT = {503: "overloaded", 504: "read_your_writes_timeout", 409: "stale_version"}
# With read-your-writes on, each valid wait may cost the whole deadline: few examples, only where it applies.
WAITING = {"POST /v1/chat/completions": 3, "POST /v1/retrieve": 4}


def without_waits(value):
    """Valid versions to wait for never arrive in a fuzzed tenant: each would cost the whole read-your-writes
    deadline (its 504 is tested in test_api). Invalid ones stay in the negative run."""
    if isinstance(value, dict):
        return {k: without_waits(v) for k, v in value.items() if k != "min_versions"}
    return value


@pytest.fixture(scope="module")
def schema(query_stack):
    _, url = query_stack
    return schemathesis.openapi.from_url(f"{url}/openapi.json"), url


@pytest.mark.parametrize(("mode", "waits"), [(GenerationMode.POSITIVE, False), (GenerationMode.NEGATIVE, True),
                                           (GenerationMode.POSITIVE, True)])
def test_generated_requests_to_every_operation_never_get_a_server_error(schema, mode, waits):
    api, url = schema
    operations = [result.ok() for result in api.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/chat/completions", "POST /v1/retrieve", "POST /v1/documents", "GET /v1/documents/{doc_id}",
        "DELETE /v1/documents/{doc_id}", "GET /v1/models", "GET /healthz"}
    failures: list[str] = []
    exercised = 0
    for operation in operations:
        name = f"{operation.method.upper()} {operation.path}"
        if mode == GenerationMode.POSITIVE and waits and name not in WAITING:
            continue
        examples = WAITING[name] if mode == GenerationMode.POSITIVE and waits else EXAMPLES.get(name, 25)

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def call(case) -> None:
            if mode == GenerationMode.POSITIVE and not waits:
                case.body = without_waits(case.body)
                case.headers = {k: v for k, v in (case.headers or {}).items()
                                if k.lower() != "x-ragstream-min-version"}
            response = case.call(base_url=url, headers=FUZZ, timeout=120)
            explicit = EXPLICIT.get(response.status_code)
            if explicit and response.json()["error"]["code"] == explicit:
                return
            if response.status_code >= 500:
                failures.append(f"{name} → {response.status_code}: {response.text[:200]} for {case.body!r:.200}")
            elif response.status_code >= 400:
                assert response.json()["error"]["message"], f"{name}: a 4xx without an error body"

        try:
            call()
            exercised += 1
        except Unsatisfiable:  # negative mode: an operation with no input cannot be called wrongly
            assert mode == GenerationMode.NEGATIVE, name
    assert failures == [], "\n".join(failures)
    assert exercised >= (2 if waits and mode == GenerationMode.POSITIVE else 5)
    assert httpx.get(f"{url}/healthz").json() == {"status": "ok"}


def test_a_body_sent_too_slowly_gets_408_and_the_replica_serves_others(query_stack):
    settings, url = query_stack
    host, port = urlsplit(url).hostname, urlsplit(url).port
    started = time.monotonic()
    with socket.create_connection((host, port), timeout=60) as slow:
        slow.sendall(b"POST /v1/retrieve HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer key-fuzz\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"query\": ")
        # Meanwhile the API answers everyone else.
        assert httpx.get(f"{url}/v1/models", headers=FUZZ, timeout=10).status_code == 200
        reply = b""
        while b"\r\n\r\n" not in reply:
            slow.sendall(b" ")  # a byte now and then, never the whole body
            time.sleep(1)
            reply += slow.recv(4096) if _readable(slow) else b""
            assert time.monotonic() - started < settings.api.body_timeout_s + 20, "slow sender never cut off"
    assert reply.startswith(b"HTTP/1.1 408"), reply[:200]
    assert time.monotonic() - started >= settings.api.body_timeout_s - 1


def _readable(sock: socket.socket) -> bool:
    import select

    return bool(select.select([sock], [], [], 0)[0])


def test_an_oversize_body_without_content_length_is_refused_while_streaming(query_stack):
    settings, url = query_stack

    def chunks():
        yield b'{"query": "'
        for _ in range(settings.api.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    response = httpx.post(f"{url}/v1/retrieve", headers=FUZZ, content=chunks(), timeout=60)
    assert response.status_code == 413 and response.json()["error"]["code"] == "body_too_large"
