"""A short soak over the tests' stack: chat and retrieve clients while documents stream in. The long run and its
figures (p99 per window, memory growth) are `bench/soak.py`; here the contract: no error but explicit 503."""

from __future__ import annotations

import pytest

from bench.ingest import make_docs
from bench.query import questions
from bench.soak import soak

pytestmark = pytest.mark.stack


def test_a_minute_of_mixed_load_while_ingesting_answers_everything(query_stack):
    settings, url = query_stack
    result = soak(settings, url, questions(make_docs(50, seed=3, prefix="q"), 50, seed=4), seconds=60,
                  key="key-fuzz", tenant="fuzz")
    assert result["errors"] == 0, result["statuses"]
    assert result["requests"] >= 20 and result["events_sent"] >= 200
    assert {"triton", "milvus", "broker", "ray::IngestWorker"} <= set(result["rss"])
    assert all(values["end_mb"] > 0 for values in result["rss"].values())
