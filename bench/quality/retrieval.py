"""Retrieval quality of one configuration, measured through the real ``/v1/retrieve`` path.

A configuration is settings (what needs a redeploy: fusion, weights, rerank depth, HyDE) plus request options
(mode, rerank, PRF, rewrite). Metrics at 10 come from the configuration's own ranking; Recall@100 from the same
retrieval without the reranker at ``top_k=100`` — the reranker only reorders the top ``rerank_depth`` (≤ 100)
candidates, so it cannot change which documents are in the top 100.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.quality.datasets import EvalSet
from bench.quality.metrics import documents, evaluate
from bench.report import percentile


@dataclass(frozen=True)
class Config:
    name: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # Settings groups to override
    request: dict[str, Any] = field(default_factory=dict)

    @property
    def reranks(self) -> bool:
        return bool(self.request.get("rerank"))


async def _ask(url: str, key: str, bodies: dict[str, dict], concurrency: int) -> tuple[dict[str, list], list]:
    """query id → doc ids of the passages, best first; and the client-side latency of each request."""
    ranked: dict[str, list[str]] = {}
    latencies: list[float] = []
    queue = list(bodies.items())
    limits = httpx.Limits(max_connections=concurrency)

    async def client(http: httpx.AsyncClient) -> None:
        while queue:
            qid, body = queue.pop()
            started = time.perf_counter()
            response = await http.post("/v1/retrieve", json=body)
            response.raise_for_status()
            latencies.append((time.perf_counter() - started) * 1000)
            ranked[qid] = [passage["doc_id"] for passage in response.json()["passages"]]

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=600,
                                 limits=limits) as http:
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
    return ranked, latencies


def measure(url: str, key: str, data: EvalSet, ids: dict[str, str], config: Config,
            concurrency: int = 2) -> dict[str, Any]:
    """``ids``: the index's doc id → the dataset's (ids were made safe for the event schema)."""
    def bodies(top_k: int, **override) -> dict[str, dict]:
        return {qid: {"query": text, "top_k": top_k, **config.request, **override}
                for qid, text in data.queries.items()}

    ranked, latencies = asyncio.run(_ask(url, key, bodies(10 if config.reranks else 100), concurrency))
    runs = {qid: documents([ids[d] for d in found]) for qid, found in ranked.items()}
    scores = evaluate(runs, data.qrels)
    if config.reranks:
        wide, _ = asyncio.run(_ask(url, key, bodies(100, rerank=False), concurrency))
        scores["recall@100"] = evaluate({q: documents([ids[d] for d in f]) for q, f in wide.items()},
                                        data.qrels)["recall@100"]
    return {"config": config.name, **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1)}
