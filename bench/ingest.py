"""Ingest benchmark: pipeline docs/s vs the bare embedder on the same docs (same run), and freshness at a steady
rate of half the measured maximum.

    python bench/ingest.py [--quick] [--json FILE]

Freshness is event_time (set by the producer just before sending) → indexed_time (taken by the worker after
Milvus acknowledged the chunk upsert, the stale-chunk delete and the version record; Milvus Lite makes writes
visible to the next search without a flush).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import console, percentile, report  # noqa: E402
from infra.ray_runtime import start_local_ray, stop_local_ray  # noqa: E402
from infra.stack import LocalStack  # noqa: E402
from ragstream.models.factory import BlockingEmbedder  # noqa: E402
from ragstream.producer import DocumentProducer  # noqa: E402
from ragstream.settings import LocalStackSettings, Settings, WorkerSettings  # noqa: E402
from ragstream.topic_reader import TopicReader  # noqa: E402
from schemas.events import DocumentEvent, utc_now  # noqa: E402
from tests.streams import paragraph, wait_for_outcomes  # noqa: E402
from workers.actor import WorkerPool  # noqa: E402
from workers.chunking import Chunker  # noqa: E402


def make_docs(count: int, seed: int, prefix: str) -> list[DocumentEvent]:
    rng = random.Random(seed)
    return [DocumentEvent(op="upsert", tenant="bench", doc_id=f"{prefix}-{n}", version=1, title=f"Document {n}",
                          text=paragraph(rng, rng.randint(80, 160))) for n in range(count)]


def bare_embedder_docs_per_s(settings: Settings, docs: list[DocumentEvent]) -> float:
    embedder = BlockingEmbedder(settings.models)  # the same Triton model the workers call
    chunker = Chunker(settings.chunking)
    contents = [c.content for d in docs for c in chunker.split(d)]
    embedder.embed(contents[:32])  # warm-up
    start = time.perf_counter()
    for i in range(0, len(contents), settings.worker.batch_max_events):
        embedder.embed(contents[i:i + settings.worker.batch_max_events])
    elapsed = time.perf_counter() - start
    embedder.close()
    return len(docs) / elapsed


def run_pipeline(settings: Settings, reader: TopicReader, docs: list[DocumentEvent], rate: float | None) -> list[dict]:
    """Produces docs (all at once, or at ``rate`` per second) and returns their outcomes."""
    sources = []
    with DocumentProducer(settings.kafka) as producer:
        start = time.perf_counter()
        for n, doc in enumerate(docs):
            if rate:
                time.sleep(max(0.0, start + n / rate - time.perf_counter()))
            # Stamped at send: freshness and throughput spans start when the event is produced.
            future = producer.send(doc.model_copy(update={"event_time": utc_now()}))
            if rate:
                producer.flush()
            sources.append(future)
        producer.flush()
        sources = [(m.partition, m.offset) for m in (f.get(30) for f in sources)]
    wanted = set(sources)
    outcomes = wait_for_outcomes(reader, sources, timeout_s=1800)
    return [o for o in outcomes if (o["source_partition"], o["source_offset"]) in wanted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: 300 docs, 20 s of steady rate")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    n_docs, steady_s = (300, 20) if args.quick else (2000, 60)

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            worker=WorkerSettings(replicas=1, batch_max_events=64),
            local=LocalStackSettings(data_dir=Path(tmp)),
        )
        docs = make_docs(n_docs, seed=1, prefix="max")
        with LocalStack(settings) as settings:
            start_local_ray()
            pool = WorkerPool(settings).start()
            # Side by side: the same machine state (broker, Milvus, Ray, an idle worker) for both measurements.
            with console.status("bare embedder"):
                embed_rate = bare_embedder_docs_per_s(settings, docs)
            reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
            try:
                with console.status("warm-up (group join)"):
                    run_pipeline(settings, reader, make_docs(20, seed=9, prefix="warm"), rate=None)
                with console.status(f"pipeline, {n_docs} docs at full speed"):
                    outcomes = run_pipeline(settings, reader, docs, rate=None)
                first = min(o["event_time"] for o in outcomes)
                last = max(o["indexed_time"] for o in outcomes)
                span = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
                pipeline_rate = len(docs) / span
                rate = pipeline_rate / 2
                steady = make_docs(int(rate * steady_s), seed=2, prefix="steady")
                with console.status(f"steady rate {rate:.1f} docs/s for {steady_s}s"):
                    steady_outcomes = run_pipeline(settings, reader, steady, rate=rate)
            finally:
                reader.close()
                pool.stop()
                stop_local_ray()

    freshness = [o["freshness_ms"] for o in steady_outcomes if o["outcome"] == "indexed"]
    figures = {
        "docs": n_docs,
        "docs_per_s": round(pipeline_rate, 2),
        "embed_docs_per_s": round(embed_rate, 2),
        "ratio": round(pipeline_rate / embed_rate, 3),
        "steady_rate_docs_per_s": round(rate, 2),
        "steady_docs": len(freshness),
        "freshness_p50_ms": round(percentile(freshness, 50), 1),
        "freshness_p95_ms": round(percentile(freshness, 95), 1),
        "freshness_p99_ms": round(percentile(freshness, 99), 1),
        "machine": "2 cores, 24 GiB; 1 worker actor, Triton embedder (2 instances x 1 thread), batch 64",
    }
    report("ragstream ingest", [{"figure": k, "value": v} for k, v in figures.items()], args.json, figures)


if __name__ == "__main__":
    main()
