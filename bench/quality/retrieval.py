"""Retrieval quality of one configuration, measured through the real ``/v1/retrieve`` path.

A configuration is settings (what needs a redeploy: fusion, weights, rerank depth, HyDE) plus request options
(mode, rerank, PRF, rewrite). Metrics at 10 and latency come from the configuration's own ranking at ``top_k=10``
(what a chat turn asks for); Recall@100 from the same retrieval without the reranker at ``top_k=100`` — the
reranker only reorders the top ``rerank_depth`` (≤ 100) candidates, so it cannot change which documents are in the
top 100.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bench.quality.datasets import EvalSet
from bench.quality.http import post_all
from bench.quality.metrics import documents, evaluate
from bench.report import percentile


@dataclass(frozen=True)
class Config:
    name: str
    settings: dict[str, dict[str, Any]] = field(default_factory=dict)  # Settings groups to override
    request: dict[str, Any] = field(default_factory=dict)


def measure(url: str, key: str, data: EvalSet, ids: dict[str, str], config: Config,
            concurrency: int = 2) -> dict[str, Any]:
    """``ids``: the index's doc id → the dataset's (ids were made safe for the event schema)."""
    def bodies(top_k: int, **override) -> dict[str, dict]:
        return {qid: {"query": text, "top_k": top_k, **config.request, **override}
                for qid, text in data.queries.items()}

    def ranked(replies: dict[str, tuple[dict, float]]) -> dict[str, list[str]]:
        return {qid: documents([ids[p["doc_id"]] for p in reply["passages"]]) for qid, (reply, _) in replies.items()}

    replies = post_all(url, key, "/v1/retrieve", bodies(10), concurrency)
    latencies = [ms for _, ms in replies.values()]
    scores = evaluate(ranked(replies), data.qrels)
    wide = post_all(url, key, "/v1/retrieve", bodies(100, rerank=False), concurrency)
    scores["recall@100"] = evaluate(ranked(wide), data.qrels)["recall@100"]
    return {"config": config.name, **{k: round(v, 4) if isinstance(v, float) else v for k, v in scores.items()},
            "p50_ms": round(percentile(latencies, 50), 1), "p99_ms": round(percentile(latencies, 99), 1)}
