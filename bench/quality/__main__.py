"""Retrieval quality per configuration through the real ``/v1/retrieve`` path, on the HaluEval QA dev set (or a
BEIR folder), with the corpus ingested through Kafka like any data.

    python -m bench.quality [--quick] [--beir FOLDER] [--json FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.quality.datasets import EvalSet, load_beir, load_halueval
from bench.quality.peer import measure_peer
from bench.quality.retrieval import Config, measure
from bench.report import console, report
from infra.process import free_port
from infra.ray_runtime import start_local_ray, stop_local_ray
from infra.stack import LocalStack
from ragstream.producer import DocumentProducer
from ragstream.settings import ApiSettings, LocalStackSettings, ServeSettings, Settings, WorkerSettings
from ragstream.topic_reader import TopicReader
from services.app import run
from tests.streams import wait_for_outcomes
from workers.actor import WorkerPool

KEY, TENANT = "quality-key", "eval"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}$")
HYBRID = {"mode": "hybrid"}


def configurations(multi_query: bool) -> list[Config]:
    no_rerank = {"rerank": False}
    configs = [
        Config("dense", request={"mode": "dense", **no_rerank}),
        Config("bm25", request={"mode": "bm25", **no_rerank}),
        Config("hybrid rrf", {"retrieval": {"fusion": "rrf"}}, {**HYBRID, **no_rerank}),
        *[Config(f"hybrid interp w={w}", {"retrieval": {"fusion": "interpolation", "dense_weight": w}},
                 {**HYBRID, **no_rerank}) for w in (0.3, 0.5, 0.6, 0.8)],
        Config("hybrid + prf", request={**HYBRID, "rerank": False, "prf": True}),
        *[Config(f"hybrid + rerank@{depth}", {"retrieval": {"rerank_depth": depth}}, {**HYBRID, "rerank": True})
          for depth in (10, 20, 40)],
        Config("hybrid + prf + rerank@20", {"retrieval": {"rerank_depth": 20}},
               {**HYBRID, "rerank": True, "prf": True}),
    ]
    if multi_query:
        configs.append(Config("hybrid + multi-query (HyDE)", {"rewrite": {"hyde": True}},
                              {**HYBRID, "rerank": False, "rewrite": True}))
    return configs


def with_overrides(settings: Settings, overrides: dict[str, dict[str, Any]]) -> Settings:
    return settings.model_copy(update={group: getattr(settings, group).model_copy(update=values)
                                       for group, values in overrides.items()})


def ingest(settings: Settings, data: EvalSet) -> dict[str, str]:
    """Every document as an upsert event through Kafka; returns index id → dataset id once all are indexed."""
    ids = {(doc if SAFE_ID.match(doc) else "id-" + hashlib.sha1(doc.encode()).hexdigest()): doc
           for doc in data.corpus}
    reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
    try:
        with DocumentProducer(settings.kafka) as producer:
            futures = [producer.upsert(TENANT, safe, 1, data.corpus[doc][1], title=data.corpus[doc][0])
                       for safe, doc in ids.items()]
            producer.flush()
            sources = [(m.partition, m.offset) for m in (f.get(60) for f in futures)]
        wait_for_outcomes(reader, sources, timeout_s=3600)
    finally:
        reader.close()
    return ids


def evaluate_stack(settings: Settings, data: EvalSet, configs: list[Config]) -> tuple[list[dict], float]:
    """On a running stack, Ray and ingest worker: the corpus through Kafka, then each configuration as the Serve
    app named in ``settings.serve`` (its API keys must map KEY to TENANT), then the peer. Returns rows, ingest s."""
    with console.status(f"ingesting {len(data.corpus)} documents through Kafka"):
        started = time.perf_counter()
        ids = ingest(settings, data)
        ingest_s = time.perf_counter() - started
    rows = []
    for config in configs:
        with console.status(f"{config.name}: {len(data.queries)} queries"):
            deployed = with_overrides(settings, config.settings)
            url = run(deployed) + deployed.serve.route_prefix.rstrip("/")
            rows.append(measure(url, KEY, data, ids, config))
        console.print(rows[-1])
    with console.status("peer: llama-index VectorStoreIndex over the same Milvus and embedder"):
        rows.append(measure_peer(settings, data))
    console.print(rows[-1])
    return rows, ingest_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 queries over 1,000 documents (a few minutes)")
    parser.add_argument("--beir", type=Path, help="a BEIR folder instead of HaluEval QA")
    parser.add_argument("--queries", type=int, help="queries to sample (default: 60 quick, 300 full)")
    parser.add_argument("--multi-query", action="store_true", help="also HyDE multi-query (a generation per query)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    full = load_beir(args.beir) if args.beir else load_halueval()
    queries = args.queries or (60 if args.quick else 300)
    data = full.subset(queries, distractors=940 if args.quick else len(full.corpus), seed=7)

    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(worker=WorkerSettings(replicas=1, batch_max_events=64),
                        api=ApiSettings(port=free_port(), api_keys={KEY: TENANT}),
                        serve=ServeSettings(access_log=False),
                        local=LocalStackSettings(data_dir=Path(tmp)))
        with LocalStack(base) as base:
            base = with_overrides(base, {"retrieval": {"candidates": 100}})
            start_local_ray()
            pool = WorkerPool(base).start()
            try:
                rows, ingest_s = evaluate_stack(base, data, configurations(args.multi_query))
            finally:
                pool.stop()
                stop_local_ray()
    for row in rows:
        row.setdefault("ingest_s", round(ingest_s, 1))
    report(f"retrieval quality, {data.name}", rows, args.json,
           {"dataset": data.name, "machine": "2 cores, 24 GiB, CPU only; MiniLM-L6 embedder, e5-small reranker"})


if __name__ == "__main__":
    main()
