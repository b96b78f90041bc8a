"""The evaluation's client: N concurrent connections drain a queue of request bodies, as a busy frontend would."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

RETRIES = 5


async def _post_all(url: str, key: str, path: str, bodies: dict[str, dict], concurrency: int
                    ) -> dict[str, tuple[dict[str, Any], float]]:
    replies: dict[str, tuple[dict[str, Any], float]] = {}
    queue = list(bodies.items())

    async def client(http: httpx.AsyncClient) -> None:
        while queue:
            qid, body = queue.pop()
            started = time.perf_counter()
            response = await http.post(path, json=body)
            for _ in range(RETRIES):  # backpressure or a model busy past its deadline: retry as told, like a client
                if response.status_code != 503:
                    break
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
                response = await http.post(path, json=body)
            response.raise_for_status()
            replies[qid] = response.json(), (time.perf_counter() - started) * 1000

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600,
                                 limits=httpx.Limits(max_connections=concurrency)) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return replies


def post_all(url: str, key: str, path: str, bodies: dict[str, dict], concurrency: int = 2
             ) -> dict[str, tuple[dict[str, Any], float]]:
    """query id → (response JSON, client-side latency in ms); any non-2xx fails the run."""
    return asyncio.run(_post_all(url, key, path, bodies, concurrency))
