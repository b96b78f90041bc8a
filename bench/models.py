"""Model benchmark: each model through Triton vs the same engine in-process (same run, same machine), the
embedder's batch-size sweep, generator tokens/s and time to first token, and query latency under an ingest flood.

    python bench/models.py [--quick] [--json FILE]

Calls are sequential (one request in flight) unless stated, so latency ratios compare like with like: the
in-process engine runs one torch thread, as each Triton embedder instance does.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import console, percentile, report  # noqa: E402
from ragstream.core.models.client import ModelClient, Priority  # noqa: E402
from ragstream.core.models.embedder import build_embedder  # noqa: E402
from ragstream.core.models.in_process import InProcessModelClient  # noqa: E402
from ragstream.core.models.triton_client import TritonModelClient  # noqa: E402
from ragstream.core.settings import ModelSettings, Settings  # noqa: E402
from ragstream.infra.local.triton_server import TritonServer  # noqa: E402
from ragstream.schemas.generation import GenerationRequest  # noqa: E402
from testkit.streams import paragraph  # noqa: E402

QUESTIONS = ["What does the passage say about rivers?", "Summarise the main point in two sentences.",
             "Which tenant owns the document?", "Explain the difference between the two versions."]


async def timed(calls: int, call) -> list[float]:
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        await call()
        latencies.append((time.perf_counter() - start) * 1000)
    return latencies


def row(model: str, case: str, backend: str, items_per_call: int, latencies: list[float], unit: str,
        ttft: list[float] | None = None) -> dict:
    return {"model": model, "case": case, "backend": backend,
            "p50_ms": round(percentile(latencies, 50), 2), "p99_ms": round(percentile(latencies, 99), 2),
            "throughput": f"{items_per_call * 1000 * len(latencies) / sum(latencies):.1f} {unit}/s",
            "ttft_p50_ms": round(percentile(ttft, 50), 1) if ttft else "-"}


async def bench_embedder(clients: dict[str, ModelClient], texts: list[str], calls: int) -> list[dict]:
    """Batch-size sweep on the ingest model (the query model takes at most 8 texts per request)."""
    rows = []
    for batch in (1, 8, 32, 64):
        for backend, client in clients.items():
            await client.embed(texts[:batch])  # warm-up
            latencies = await timed(calls, lambda c=client, b=batch: c.embed(texts[:b], Priority.INGEST))
            rows.append(row("embedder", f"batch {batch}", backend, batch, latencies, "texts"))
    return rows


async def bench_engines(settings: ModelSettings, texts: list[str], calls: int) -> list[dict]:
    """The embedder engine choice: ONNX Runtime (default) vs torch sentence-transformers, in-process, one thread."""
    rows = []
    for engine in ("onnxruntime", "torch"):
        embedder = build_embedder(settings.embedder.model_copy(update={"engine": engine}))
        for batch in (1, 32):
            embedder.embed(texts[:batch])

            async def once(e=embedder, b=batch):
                e.embed(texts[:b])

            rows.append(row("embedder engine", f"batch {batch}", engine, batch, await timed(calls, once), "texts"))
    return rows


async def bench_reranker(clients: dict[str, ModelClient], texts: list[str], calls: int) -> list[dict]:
    rows = []
    for backend, client in clients.items():
        await client.rerank(QUESTIONS[0], texts[:20])
        latencies = await timed(calls, lambda c=client: c.rerank(QUESTIONS[0], texts[:20]))
        rows.append(row("reranker", "20 passages", backend, 20, latencies, "pairs"))
    return rows


async def bench_generator(clients: dict[str, ModelClient], texts: list[str], prompts: int, max_tokens: int):
    rows = []
    for backend, client in clients.items():
        ttft, totals, tokens = [], [], 0
        for n in range(prompts):
            request = GenerationRequest(max_tokens=max_tokens, messages=[
                {"role": "system", "content": "Answer from the passage only."},
                {"role": "user", "content": f"Passage: {texts[n]}\n\nQuestion: {QUESTIONS[n % len(QUESTIONS)]}"}])
            start = time.perf_counter()
            first = None
            async for chunk in client.generate(request):
                first = first or time.perf_counter()
                final = chunk
            totals.append((time.perf_counter() - start) * 1000)
            ttft.append((first - start) * 1000)
            tokens += final.completion_tokens
        rows.append(row("generator", f"{max_tokens} tokens max", backend, tokens / prompts, totals, "tokens", ttft))
    return rows


async def bench_priority(client: ModelClient, texts: list[str], calls: int) -> list[dict]:
    """Single-text query embeddings, idle and while ingest callers keep 32-text batches queued: through the
    query model (the default), and through the ingest model (what one shared queue would give)."""
    rows = [row("embedder", "query, idle", "triton", 1, await timed(calls, lambda: client.embed(texts[:1])), "texts")]
    for ingest_callers in (1, 4):
        for route, priority in (("query model", Priority.QUERY), ("shared ingest queue", Priority.INGEST)):
            stop = asyncio.Event()

            async def flood():
                while not stop.is_set():
                    await client.embed(texts[:32], Priority.INGEST)

            flooders = [asyncio.create_task(flood()) for _ in range(ingest_callers)]
            await asyncio.sleep(1.0)
            latencies = await timed(calls, lambda p=priority: client.embed(texts[:1], p))
            stop.set()
            await asyncio.gather(*flooders)
            rows.append(row("embedder", f"query via {route}, {ingest_callers} ingest caller(s)", "triton", 1,
                            latencies, "texts"))
    return rows


async def run(args, server: TritonServer, models: ModelSettings) -> list[dict]:
    rng = random.Random(4)
    texts = [paragraph(rng, rng.randint(50, 90)) for _ in range(64)]
    triton = TritonModelClient(models, server.url)
    local = InProcessModelClient(models)
    clients = {"triton": triton, "in-process": local}
    calls = 10 if args.quick else 40
    rows = []
    with console.status("embedder"):
        rows += await bench_embedder(clients, texts, calls)
    with console.status("embedder engines"):
        rows += await bench_engines(models, texts, calls)
    with console.status("reranker"):
        rows += await bench_reranker(clients, texts, calls)
    with console.status("generator"):
        rows += await bench_generator(clients, texts, prompts=3 if args.quick else 8, max_tokens=64)
    with console.status("query priority under ingest load"):
        rows += await bench_priority(triton, texts, calls)
    await triton.close()
    return rows


def overheads(rows: list[dict]) -> dict:
    """Triton p50 ÷ in-process p50 for each (model, case) measured both ways."""
    pairs = {}
    for r in rows:
        pairs.setdefault((r["model"], r["case"]), {})[r["backend"]] = r["p50_ms"]
    both = {key: p for key, p in pairs.items() if {"triton", "in-process"} <= p.keys()}
    return {f"{m} {c}": round(p["triton"] / p["in-process"], 3) for (m, c), p in both.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and the 135M generator: about 2 minutes")
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    settings = Settings()
    models = settings.models
    if args.quick:
        models = models.model_copy(update={"generator": models.generator.model_copy(
            update={"model": "smollm2-135m-instruct"})})
    with tempfile.TemporaryDirectory() as tmp:
        with console.status("starting Triton"):
            server = TritonServer(models, settings.local.triton_env, Path(tmp), Path(tmp)).start()
        try:
            rows = asyncio.run(run(args, server, models))
        finally:
            server.stop()
    ratios = overheads(rows)
    engines = {r["case"]: r["p50_ms"] for r in rows if r["model"] == "embedder engine" and r["backend"] == "torch"}
    speedups = {case: round(torch_ms / r["p50_ms"], 2) for case, torch_ms in engines.items() for r in rows
                if r["model"] == "embedder engine" and r["backend"] == "onnxruntime" and r["case"] == case}
    report("ragstream models: Triton vs in-process", rows, args.json,
           {"triton_over_in_process_p50": ratios, "onnxruntime_speedup_over_torch": speedups,
            "generator": models.generator.model,
            "machine": "2 cores, 24 GiB; embedder 2 instances x 1 torch thread; generator 2 llama.cpp threads"})
    report("ratios", [{"figure": f"Triton p50 / in-process p50, {k}", "ratio": v} for k, v in ratios.items()]
           + [{"figure": f"torch p50 / onnxruntime p50, embedder {k}", "ratio": v} for k, v in speedups.items()], None)


if __name__ == "__main__":
    main()
