"""Security properties over the running API: every endpoint but the operational ones needs an API key, and
neither API keys nor document text reach the logs (spans are checked in test_telemetry)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.stack

OPERATIONAL = {"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def _request(url: str, method: str, path: str, key: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    body = {"model": "ragstream", "messages": [{"role": "user", "content": "hi"}]} if method == "post" else None
    return httpx.request(method.upper(), url + path.replace("{doc_id}", "some-doc"), headers=headers, json=body,
                         timeout=60)


def test_every_endpoint_but_the_operational_ones_needs_a_valid_key(query_stack):
    _, url = query_stack
    paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    guarded = [(method, path) for path, methods in paths.items() if path not in OPERATIONAL for method in methods]
    assert len(guarded) >= 6, guarded
    for method, path in guarded:
        for key in (None, "wrong-key", ""):
            response = _request(url, method, path, key)
            assert response.status_code == 401, (method, path, key, response.text)
            assert response.json()["error"]["type"] == "authentication_error"
    assert httpx.get(f"{url}/healthz").status_code == 200
    metrics = httpx.get(f"{url}/metrics").text
    assert "acme" not in metrics and "key-" not in metrics, "operational endpoints carry no tenant data"


def test_keys_and_document_text_never_reach_the_logs(query_stack):
    import ray

    settings, url = query_stack
    canary = "zebracanary-7d1f"
    auth = {"Authorization": "Bearer key-acme"}
    accepted = httpx.post(f"{url}/v1/documents", headers=auth, timeout=30, json={
        "doc_id": "canary", "text": f"The {canary} lives in the basement archive.", "title": "Canary"})
    assert accepted.status_code == 202
    answer = httpx.post(f"{url}/v1/chat/completions", headers={**auth, "x-ragstream-min-version": "canary=1"},
                        timeout=120, json={"model": "ragstream", "messages": [
                            {"role": "user", "content": f"Where does the {canary} live?"}]})
    assert answer.status_code == 200, answer.text
    httpx.post(f"{url}/v1/chat/completions", headers={"Authorization": "Bearer leaked-looking-key"}, json={})
    time.sleep(2)  # Ray ships replica and actor logs to files asynchronously
    logs = Path(ray._private.worker._global_node.get_logs_dir_path())
    leaks = [path.name for path in logs.rglob("*") if path.is_file() and path.suffix in (".log", ".out", ".err")
             and any(secret in path.read_text(errors="ignore")
                     for secret in (canary, "key-acme", "key-globex", "leaked-looking-key"))]
    assert leaks == [], f"secrets or document text in {leaks}"
