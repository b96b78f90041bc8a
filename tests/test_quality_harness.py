"""The quality harness itself, in its smallest form over the real stack: a HaluEval subset ingested through
Kafka, a few configurations through the real /v1/retrieve (as their own Serve app beside the tests' one), and the
llama-index peer over the same Milvus and embedder."""

from __future__ import annotations

import pytest

from bench.quality.__main__ import KEY, TENANT, Config, evaluate_stack, with_overrides
from bench.quality.datasets import load_halueval
from tests.conftest import isolate
from workers.actor import WorkerPool

pytestmark = pytest.mark.stack


def test_the_quality_harness_measures_configurations_and_the_peer(query_stack):
    from ray import serve

    settings, _ = query_stack
    evaluated = isolate(settings, "quality")
    evaluated = with_overrides(evaluated, {
        "api": {"api_keys": {KEY: TENANT}},
        "serve": {"app_name": "quality", "route_prefix": "/quality"},
        "retrieval": {"candidates": 100}})
    data = load_halueval().subset(queries=8, distractors=60, seed=3)
    configs = [Config("dense", request={"mode": "dense", "rerank": False}),
               Config("bm25", request={"mode": "bm25", "rerank": False}),
               Config("hybrid + rerank@10", {"retrieval": {"rerank_depth": 10}}, {"mode": "hybrid", "rerank": True})]
    pool = WorkerPool(evaluated).start()
    try:
        rows, ingest_s = evaluate_stack(evaluated, data, configs)
    finally:
        serve.delete("quality")
        pool.stop()
    assert [r["config"] for r in rows][:3] == ["dense", "bm25", "hybrid + rerank@10"]
    assert rows[-1]["config"].startswith("peer") and rows[-1]["ingest_s"] > 0 and ingest_s > 0
    for row in rows:
        assert row["queries"] == 8 and 0 <= row["ndcg@10"] <= 1 and row["p50_ms"] > 0
        assert row["recall@100"] >= row["recall@10"]
    # A small, easy set: every configuration finds most relevant passages; a broken run would score ~0.
    assert all(row["recall@10"] >= 0.75 for row in rows)
