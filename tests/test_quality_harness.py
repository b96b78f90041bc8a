"""The quality harness itself, in its smallest form over the real stack: a HaluEval subset ingested through
Kafka, a few configurations through the real /v1/retrieve (as their own Serve app beside the tests' one), the
llama-index peer over the same Milvus and models, answers through the real chat endpoint before and after the
evidence is deleted, and the written results (JSON and plots)."""

from __future__ import annotations

import json

import pytest

from bench.quality.__main__ import (
    KEY,
    PEER_FLUSHED,
    TENANT,
    Config,
    evaluate_stack,
    with_overrides,
    write_results,
)
from bench.quality.datasets import load_halueval
from bench.quality.peer import Peer
from ragstream.workers.actor import WorkerPool
from testkit.settings import isolate

pytestmark = pytest.mark.stack


def test_the_quality_harness_measures_configurations_answers_and_the_peer(query_stack, tmp_path):
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
        results = evaluate_stack(evaluated, data, configs, answer_questions=2)
    finally:
        serve.delete("quality")
        pool.stop()
    rows = results.retrieval
    assert [r["config"] for r in rows][:3] == ["dense", "bm25", "hybrid + rerank@10"]
    assert [r["config"] for r in rows][3:] == [Peer.name, PEER_FLUSHED]
    assert rows[-1]["ingest_s"] > 0 and results.ingest_s > 0
    for row in rows:
        assert row["queries"] == 8 and 0 <= row["ndcg@10"] <= 1 and row["p50_ms"] > 0
        assert row["recall@100"] >= row["recall@10"]
    # A small, easy set: every configuration finds most relevant passages; a broken run would score ~0.
    assert all(row["recall@10"] >= 0.75 for row in rows)

    stack, peer = results.answers
    assert stack["system"].startswith("ragstream") and peer["system"].startswith("peer")
    for row in results.answers:
        assert row["answer_questions"] == row["removed_questions"] == 2
        assert all(0 <= row[k] <= 1 for k in ("answer_contains_gold", "answer_hallucinated",
                                              "answer_citation_correct", "removed_abstained"))
    write_results(results, tmp_path, {"dataset": data.name, "machine": "test"})
    written = json.loads((tmp_path / "quality.json").read_text())
    assert written["retrieval"] == rows and written["frontier"]
    assert (tmp_path / "frontier.png").stat().st_size > 10_000 and (tmp_path / "answers.png").stat().st_size > 10_000
