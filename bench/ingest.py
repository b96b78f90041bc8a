"""Ingest benchmark: pipeline chunks/s vs the embedder's saturated ceiling on the same chunks (same run), freshness
at a steady rate of half the measured maximum, and pipeline docs/s with tracing at 100% vs off (alternating rounds).

    python bench/ingest.py [--quick] [--beir FOLDER] [--json FILE]

Documents are short synthetic paragraphs (80-160 words), or with ``--beir`` a real corpus' documents (SciFact's
abstracts: ~1,500 characters, several chunks each). The ceiling is the same Triton model embedding the same chunks
in the workers' batch size from 1, 2 and 4 concurrent callers, the best of them: one sequential caller leaves an
instance idle, so it is not the machine's limit.

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
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.datasets import load_beir  # noqa: E402
from bench.report import console, percentile, report  # noqa: E402
from bench.tracing import TracingModes  # noqa: E402
from ragstream.core.models.factory import BlockingModels  # noqa: E402
from ragstream.core.producer import DocumentProducer  # noqa: E402
from ragstream.core.settings import LocalStackSettings, Settings, WorkerSettings  # noqa: E402
from ragstream.core.topic_reader import TopicReader  # noqa: E402
from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray  # noqa: E402
from ragstream.infra.local.stack import LocalStack  # noqa: E402
from ragstream.schemas.events import DocumentEvent, utc_now  # noqa: E402
from ragstream.workers.actor import WorkerPool  # noqa: E402
from ragstream.workers.chunking import Chunker  # noqa: E402
from testkit.streams import paragraph, wait_for_outcomes  # noqa: E402


def make_docs(count: int, seed: int, prefix: str, corpus: list[tuple[str, str]] | None = None) -> list[DocumentEvent]:
    """Synthetic paragraphs, or the corpus' documents in a seeded order (``corpus``: (title, text) pairs)."""
    rng = random.Random(seed)
    if corpus:
        return [DocumentEvent(op="upsert", tenant="bench", doc_id=f"{prefix}-{n}", version=1, title=title[:200],
                              text=text) for n, (title, text) in enumerate(rng.sample(corpus, min(count, len(corpus))))]
    return [DocumentEvent(op="upsert", tenant="bench", doc_id=f"{prefix}-{n}", version=1, title=f"Document {n}",
                          text=paragraph(rng, rng.randint(80, 160))) for n in range(count)]


def embedder_ceiling(settings: Settings, contents: list[str]) -> dict[int, float]:
    """Chunks/s of the ingest embedder by number of concurrent callers, each sending the workers' batch size."""
    batch = settings.worker.batch_max_events
    batches = [contents[i:i + batch] for i in range(0, len(contents), batch)]
    rates = {}
    for callers in (1, 2, 4):
        clients = [BlockingModels(settings.models) for _ in range(callers)]  # the same Triton model the workers call
        clients[0].embed(contents[:32])  # warm-up
        start = time.perf_counter()
        with ThreadPoolExecutor(callers) as pool:
            list(pool.map(lambda n: [clients[n].embed(b) for b in batches[n::callers]], range(callers)))
        rates[callers] = len(contents) / (time.perf_counter() - start)
        for client in clients:
            client.close()
    return rates


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


def rates(outcomes: list[dict]) -> tuple[float, float]:
    """Docs/s and chunks/s from the first event's production to the last one's indexing."""
    first = min(o["event_time"] for o in outcomes)
    last = max(o["indexed_time"] for o in outcomes)
    seconds = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return len(outcomes) / seconds, sum(o["chunk_count"] for o in outcomes) / seconds


def tracing_overhead(settings: Settings, reader: TopicReader, modes: TracingModes, docs_per_round: int,
                     rounds: int) -> dict:
    """Each round a fresh worker (tracing on or off) indexes its own documents at full speed."""
    counter = iter(range(1000))

    def measure(on: bool) -> float:
        pool = WorkerPool(settings, env=modes.worker_env(on)).start()
        try:
            n = next(counter)
            run_pipeline(settings, reader, make_docs(10, seed=100 + n, prefix=f"trace-warm-{n}"), rate=None)
            docs = make_docs(docs_per_round, seed=200 + n, prefix=f"trace-{n}")
            return rates(run_pipeline(settings, reader, docs, rate=None))[0]  # docs/s
        finally:
            pool.stop()

    with console.status(f"tracing off vs on, {rounds} rounds of {docs_per_round} docs each"):
        return modes.compare(measure, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: 300 docs, 20 s of steady rate")
    parser.add_argument("--beir", type=Path, help="a BEIR folder whose documents to ingest (e.g. SciFact)")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    corpus = list(load_beir(args.beir, "train").corpus.values()) if args.beir else None
    n_docs, steady_s = (300, 20) if args.quick else (2000, 60)
    trace_docs, trace_rounds = (200, 2) if args.quick else (600, 3)
    modes = TracingModes()  # before Ray starts: its processes inherit the receiver's endpoint

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            worker=WorkerSettings(replicas=1, batch_max_events=64),
            local=LocalStackSettings(data_dir=Path(tmp)),
        )
        docs = make_docs(n_docs, seed=1, prefix="max", corpus=corpus)
        contents = [c.content for d in docs for c in Chunker(settings.chunking).split(d)]
        with LocalStack(settings) as settings:
            start_local_ray()
            pool = WorkerPool(settings, env=modes.worker_env(False)).start()
            # Side by side: the same machine state (broker, Milvus, Ray, an idle worker) for both measurements.
            with console.status("embedder ceiling"):
                ceiling = embedder_ceiling(settings, contents)
            reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
            try:
                with console.status("warm-up (group join)"):
                    run_pipeline(settings, reader, make_docs(20, seed=9, prefix="warm"), rate=None)
                with console.status(f"pipeline, {n_docs} docs at full speed"):
                    outcomes = run_pipeline(settings, reader, docs, rate=None)
                pipeline_rate, pipeline_chunks = rates(outcomes)
                rate = pipeline_rate / 2
                steady = make_docs(int(rate * steady_s), seed=2, prefix="steady", corpus=corpus)
                with console.status(f"steady rate {rate:.1f} docs/s for {steady_s}s"):
                    steady_outcomes = run_pipeline(settings, reader, steady, rate=rate)
                pool.stop()
                traced = tracing_overhead(settings, reader, modes, trace_docs, trace_rounds)
            finally:
                reader.close()
                pool.stop()
                stop_local_ray()
                modes.stop()

    freshness = [o["freshness_ms"] for o in steady_outcomes if o["outcome"] == "indexed"]
    figures = {
        "corpus": args.beir.name if args.beir else "synthetic paragraphs (80-160 words)",
        "docs": len(docs),
        "chunks": len(contents),
        "docs_per_s": round(pipeline_rate, 2),
        "chunks_per_s": round(pipeline_chunks, 2),
        **{f"embedder_chunks_per_s ({n} callers)": round(r, 2) for n, r in ceiling.items()},
        "ratio (pipeline chunks/s / best embedder chunks/s)": round(pipeline_chunks / max(ceiling.values()), 3),
        "steady_rate_docs_per_s": round(rate, 2),
        "steady_docs": len(freshness),
        "freshness_p50_ms": round(percentile(freshness, 50), 1),
        "freshness_p95_ms": round(percentile(freshness, 95), 1),
        "freshness_p99_ms": round(percentile(freshness, 99), 1),
        "traced_docs_per_s (100% sampling)": traced["on"],
        "untraced_docs_per_s": traced["off"],
        "tracing_throughput_loss_pct": traced["loss_pct"],
        "tracing_spans_received": traced["spans_received"],
        "tracing_rounds": f"{traced['rounds']} x {trace_docs} docs per mode, alternating",
        "machine": "2 cores, 24 GiB; 1 worker actor, Triton embedder (2 instances x 1 thread), batch 64",
    }
    report("ragstream ingest", [{"figure": k, "value": v} for k, v in figures.items()], args.json, figures)


if __name__ == "__main__":
    main()
