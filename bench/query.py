"""Query benchmark over the whole local stack: end-to-end and per-stage latency at several concurrencies, time to
first token, serving overhead, query p99 while a bulk ingest runs vs idle, and retrieve throughput with tracing
at 100% vs off (Serve restarted per round, rounds alternating), all in one run.

    python bench/query.py [--quick] [--json FILE]

Stage times are measured inside each deployment (compute only); serving overhead is the client's end-to-end p50
minus the sum of the stages' p50s: the proxy, the ingress and every hop between deployments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from ray import serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import make_docs, run_pipeline  # noqa: E402
from bench.report import console, percentile, report  # noqa: E402
from bench.tracing import TracingModes  # noqa: E402
from ragstream.core.settings import ApiSettings, LocalStackSettings, ServeSettings, Settings, WorkerSettings  # noqa: E402
from ragstream.core.topic_reader import TopicReader  # noqa: E402
from ragstream.infra.local.process import free_port  # noqa: E402
from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray  # noqa: E402
from ragstream.infra.local.stack import LocalStack  # noqa: E402
from ragstream.services.app import run  # noqa: E402
from ragstream.workers.actor import WorkerPool  # noqa: E402

KEY = "bench-key"
STAGES = ("embedding", "retrieval", "reranking", "compression", "generation_first_token", "generation")


def questions(docs, count: int, seed: int) -> list[str]:
    """Questions made of a few consecutive words of a random document, as users half-remember them."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = rng.choice(docs).text.split()
        start = rng.randrange(max(len(words) - 8, 1))
        out.append(" ".join(words[start:start + 8]))
    return out


async def _load(url: str, path: str, bodies: list[dict], concurrency: int, stream: bool,
                until: threading.Event | None = None) -> list[dict]:
    """``concurrency`` clients send the bodies in turn (cycling while ``until`` is unset); one sample per request."""
    samples: list[dict] = []
    queue = list(reversed(bodies))

    async def one(http: httpx.AsyncClient, body: dict) -> dict:
        start = time.perf_counter()
        first = None
        if not stream:
            response = await http.post(path, json=body)
            response.raise_for_status()
            return {"ms": (time.perf_counter() - start) * 1000, **response.json()["timings_ms"]}
        timings = {}
        async with http.stream("POST", path, json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                if first is None and '"content":"' in line and '"content":""' not in line:
                    first = (time.perf_counter() - start) * 1000
                if '"timings_ms"' in line:
                    timings = json.loads(line.removeprefix("data: "))["timings_ms"]
        return {"ms": (time.perf_counter() - start) * 1000, "ttft_ms": first, **timings}

    async def client(http: httpx.AsyncClient, offset: int) -> None:
        n = offset
        while (until is not None and not until.is_set()) or (until is None and queue):
            body = queue.pop() if until is None else bodies[n % len(bodies)]
            n += concurrency
            samples.append(await one(http, body))

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=300,
                                 limits=limits) as http:
        await asyncio.gather(*(client(http, i) for i in range(concurrency)))
    return samples


def summarise(name: str, concurrency: int, samples: list[dict]) -> dict:
    ms = [s["ms"] for s in samples]
    row = {"endpoint": name, "concurrency": concurrency, "requests": len(samples),
           "p50_ms": round(percentile(ms, 50), 1), "p99_ms": round(percentile(ms, 99), 1)}
    stage_p50 = {}
    for stage in STAGES:
        values = [s[stage] for s in samples if s.get(stage) is not None]
        if values:
            stage_p50[stage] = percentile(values, 50)
            row[f"{stage}_p50"] = round(stage_p50[stage], 1)
            row[f"{stage}_p99"] = round(percentile(values, 99), 1)
    ttft = [s["ttft_ms"] for s in samples if s.get("ttft_ms") is not None]
    if ttft:
        row["ttft_p50_ms"], row["ttft_p99_ms"] = round(percentile(ttft, 50), 1), round(percentile(ttft, 99), 1)
    compute = sum(v for k, v in stage_p50.items() if k != "generation_first_token")
    row["overhead_p50_ms"] = round(row["p50_ms"] - compute, 1) if name.startswith("retrieve") else None
    return row


def tracing_overhead(settings: Settings, modes: TracingModes, bodies: list[dict], rounds: int) -> dict:
    """Serve's tracing config is global: each round restarts Serve with tracing on or off, then measures."""
    def measure(on: bool) -> float:
        serve.shutdown()
        if on:
            os.environ.pop("OTEL_TRACES_EXPORTER", None)
        else:
            os.environ["OTEL_TRACES_EXPORTER"] = "none"
        url = run(settings)
        asyncio.run(_load(url, "/v1/retrieve", bodies[:10], 2, stream=False))  # warm-up
        started = time.perf_counter()
        samples = asyncio.run(_load(url, "/v1/retrieve", bodies, 4, stream=False))
        return len(samples) / (time.perf_counter() - started)

    with console.status(f"tracing off vs on: {rounds} rounds of {len(bodies)} requests at concurrency 4"):
        result = modes.compare(measure, rounds)
    os.environ.pop("OTEL_TRACES_EXPORTER", None)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few minutes: fewer requests, 1,000-doc bulk ingest")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    per_level, chat_levels, bulk_docs = (20, (1, 4), 1000) if args.quick else (60, (1, 4, 16), 5000)
    trace_requests, trace_rounds = (200, 2) if args.quick else (400, 3)
    modes = TracingModes()  # before Ray starts: its processes inherit the receiver's endpoint

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(worker=WorkerSettings(replicas=1, batch_max_events=64),
                            api=ApiSettings(port=free_port(), api_keys={KEY: "bench"}),
                            serve=ServeSettings(access_log=False),
                            local=LocalStackSettings(data_dir=Path(tmp)))
        corpus = make_docs(300, seed=3, prefix="corpus")
        rows, bulk = [], {}
        with LocalStack(settings) as settings:
            start_local_ray()
            reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
            try:
                pool = WorkerPool(settings, env=modes.worker_env(False)).start()
                os.environ["OTEL_TRACES_EXPORTER"] = "none"  # the latency figures: untraced
                with console.status("starting the Serve application"):
                    url = run(settings)
                with console.status(f"indexing {len(corpus)} documents"):
                    run_pipeline(settings, reader, corpus, rate=None)
                asked = questions(corpus, 400, seed=4)
                variants = {"retrieve": [{"query": q, "rerank": True} for q in asked],
                            "retrieve (no rerank)": [{"query": q, "rerank": False} for q in asked]}
                chat = [{"model": "ragstream", "stream": True, "max_tokens": 32,
                         "messages": [{"role": "user", "content": q}]} for q in questions(corpus, 100, seed=5)]
                asyncio.run(_load(url, "/v1/retrieve", variants["retrieve"][:10], 2, stream=False))  # warm-up
                idle_p99 = {}
                for name, bodies in variants.items():
                    for concurrency in (1, 4, 16):
                        with console.status(f"{name} at concurrency {concurrency}"):
                            requests = bodies[:per_level * max(1, concurrency // 4)]
                            samples = asyncio.run(_load(url, "/v1/retrieve", requests, concurrency, stream=False))
                        rows.append(summarise(name, concurrency, samples))
                        if concurrency == 4:
                            idle_p99[name] = rows[-1]["p99_ms"]
                for concurrency in chat_levels:
                    with console.status(f"chat (streaming) at concurrency {concurrency}"):
                        samples = asyncio.run(_load(url, "/v1/chat/completions", chat[:max(8, 2 * concurrency)],
                                                    concurrency, stream=True))
                    rows.append(summarise("chat", concurrency, samples))
                with console.status(f"retrieve at concurrency 4 during a bulk ingest of {bulk_docs} documents"):
                    done = threading.Event()
                    started = time.perf_counter()

                    def ingest() -> None:
                        try:
                            run_pipeline(settings, reader, make_docs(bulk_docs, seed=6, prefix="bulk"), rate=None)
                        finally:
                            done.set()

                    # Both variants at once, two clients each, for the whole ingest.
                    async def during() -> list[list[dict]]:
                        return await asyncio.gather(*(_load(url, "/v1/retrieve", bodies, 2, stream=False, until=done)
                                                      for bodies in variants.values()))

                    thread = threading.Thread(target=ingest)
                    thread.start()
                    busy = asyncio.run(during())
                    thread.join()
                    ingest_s = time.perf_counter() - started
                bulk = {"bulk_docs": bulk_docs, "bulk_ingest_s": round(ingest_s, 1),
                        "bulk_docs_per_s": round(bulk_docs / ingest_s, 1)}
                for name, samples in zip(variants, busy, strict=True):
                    rows.append(summarise(f"{name} during ingest", 4, samples))
                    bulk[f"{name}: p99 during ingest / idle p99"] = round(rows[-1]["p99_ms"] / idle_p99[name], 2)
                pool.stop()
                # Without the reranker (~1.4 s of model time) the hops dominate: tracing's cost shows most there.
                traced = tracing_overhead(settings, modes, variants["retrieve (no rerank)"][:trace_requests],
                                          trace_rounds)
                bulk |= {"retrieve (no rerank) req/s, tracing off (concurrency 4)": traced["off"],
                         "retrieve (no rerank) req/s, tracing 100%": traced["on"],
                         "tracing throughput loss %": traced["loss_pct"],
                         "spans received (tracing rounds)": traced["spans_received"]}
            finally:
                reader.close()
                stop_local_ray()
                modes.stop()

    overhead = {f"{r['endpoint']}: serving overhead p50 ms (concurrency 1)": r["overhead_p50_ms"]
                for r in rows if r["concurrency"] == 1 and r["overhead_p50_ms"] is not None}
    extra = {**overhead, **bulk,
             "machine": "2 cores, 24 GiB, CPU only; Triton (query embedder 1 instance, e5 reranker 2 threads, "
                        "Qwen2.5-0.5B Q4_K_M 2 threads), 1 ingest worker, Milvus Lite"}
    columns = ("endpoint", "concurrency", "requests", "p50_ms", "p99_ms", "ttft_p50_ms", "ttft_p99_ms",
               "embedding_p50", "retrieval_p50", "reranking_p50", "compression_p50", "generation_p50",
               "overhead_p50_ms")
    report("ragstream query path", [{c: r.get(c) for c in columns} for r in rows], args.json,
           {**extra, "detail": rows})
    report("ragstream query path: headline", [{"figure": k, "value": v} for k, v in extra.items()], None)


if __name__ == "__main__":
    main()
