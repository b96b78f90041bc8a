"""Soak: chat and retrieve clients hammer the API while documents stream in (new docs, new versions, deletes), for
a bounded time. Reports errors by status (only explicit 503 backpressure is allowed), p99 per time window (is it
stable?), and the resident memory of every process at the start and the end (does it grow?).

    python bench/soak.py [--minutes 5] [--json FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.ingest import make_docs, paragraph  # noqa: E402
from bench.query import questions  # noqa: E402
from bench.report import console, percentile, report  # noqa: E402
from ragstream.core.producer import DocumentProducer  # noqa: E402
from ragstream.core.settings import ApiSettings, LocalStackSettings, ServeSettings, Settings, WorkerSettings  # noqa: E402
from ragstream.core.topic_reader import TopicReader  # noqa: E402
from ragstream.infra.local.process import free_port  # noqa: E402
from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray  # noqa: E402
from ragstream.infra.local.stack import LocalStack  # noqa: E402
from ragstream.services.app import run  # noqa: E402
from ragstream.workers.actor import WorkerPool  # noqa: E402

KEY, TENANT = "soak-key", "bench"
WINDOWS = 5


def process_name(process: psutil.Process) -> str | None:
    """A stable name per long-lived process of the stack (None for short-lived helpers)."""
    try:
        cmdline = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    for marker in ("ray::IngestWorker", "ray::ServeReplica", "ray::ServeController", "ray::ProxyActor"):
        if marker in cmdline:
            # A replica's title names its deployment, then the method it is running: keep the deployment.
            return cmdline.split()[0].split(".")[0] if marker == "ray::ServeReplica" else marker
    for marker, name in (("tansu", "broker"), ("ragstream.infra.local.milvus_server", "milvus"),
                         ("tritonserver", "triton"),
                         ("triton_python_backend_stub", "triton model"), ("raylet", "raylet"),
                         ("gcs_server", "gcs_server")):
        if marker in cmdline:
            if name == "triton model":
                return f"triton model {Path(cmdline.split()[1]).parts[-3]}"
            return name
    return None


def rss_mb() -> dict[str, float]:
    """Resident memory of every stack process under this one, by name (same-named processes summed)."""
    sizes: Counter = Counter()
    for child in psutil.Process().children(recursive=True):
        if name := process_name(child):
            try:
                sizes[name] += child.memory_info().rss / 2**20
            except psutil.NoSuchProcess:
                continue
    return {name: round(mb, 1) for name, mb in sorted(sizes.items())}


def stream_documents(settings: Settings, tenant: str, stop: threading.Event, rate: float, seed: int = 9) -> int:
    """New documents, new versions and deletes at ``rate`` events/s until ``stop``; returns how many were sent."""
    rng, versions, sent = random.Random(seed), {}, 0
    with DocumentProducer(settings.kafka) as producer:
        while not stop.wait(1 / rate):
            doc = f"soak-{rng.randrange(400)}"
            version = versions.get(doc, 0) + 1
            versions[doc] = version
            if version > 1 and rng.random() < 0.2:
                producer.delete(tenant, doc, version)
            else:
                producer.upsert(tenant, doc, version, paragraph(rng, rng.randint(40, 120)), title=doc)
            sent += 1
    return sent


async def _clients(url: str, key: str, asked: list[str], stop: threading.Event, retrieve: int, chat: int
                   ) -> list[dict]:
    samples: list[dict] = []
    started = time.perf_counter()

    async def client(http: httpx.AsyncClient, kind: str, n: int) -> None:
        while not stop.is_set():
            question = asked[n % len(asked)]
            n += 1
            if kind == "chat":
                path, body = "/v1/chat/completions", {"model": "ragstream", "max_tokens": 32,
                                                      "messages": [{"role": "user", "content": question}]}
            else:
                path, body = "/v1/retrieve", {"query": question, "rerank": n % 2 == 0}
            sent = time.perf_counter()
            try:
                status = (await http.post(path, json=body)).status_code
            except httpx.HTTPError as error:
                status = type(error).__name__
            samples.append({"kind": kind, "at_s": sent - started, "status": status,
                            "ms": (time.perf_counter() - sent) * 1000})

    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
        await asyncio.gather(*(client(http, "retrieve", i * 7) for i in range(retrieve)),
                             *(client(http, "chat", i * 11) for i in range(chat)))
    return samples


def soak(settings: Settings, url: str, asked: list[str], seconds: float, key: str = KEY, tenant: str = TENANT,
         rate: float = 5.0, retrieve: int = 2, chat: int = 1) -> dict:
    """Runs the load against a running stack (``key`` must name ``tenant``); the figures as one dict."""
    stop = threading.Event()
    sent = []
    producer = threading.Thread(target=lambda: sent.append(stream_documents(settings, tenant, stop, rate)))
    memory = [rss_mb()]
    sampler = threading.Thread(target=lambda: [memory.append(rss_mb()) for _ in iter(lambda: stop.wait(10), True)])
    producer.start()
    sampler.start()
    timer = threading.Timer(seconds, stop.set)
    timer.start()
    samples = asyncio.run(_clients(url, key, asked, stop, retrieve, chat))
    producer.join()
    sampler.join()
    memory.append(rss_mb())
    statuses = Counter(str(s["status"]) for s in samples)
    window = seconds / WINDOWS
    p99 = {kind: [round(percentile(ms, 99), 1) if (ms := [s["ms"] for s in samples if s["kind"] == kind
                                                       and s["status"] == 200
                                                       and n * window <= s["at_s"] < (n + 1) * window]) else None
                  for n in range(WINDOWS)] for kind in ("retrieve", "chat")}
    baseline = memory[min(1, len(memory) - 1)]  # after the first samples: warm-up allocations are not growth
    growth = {name: {"start_mb": baseline.get(name, 0.0), "end_mb": mb,
                     "growth_pct": round(100 * (mb / baseline[name] - 1), 1) if baseline.get(name) else None}
              for name, mb in memory[-1].items()}
    return {"seconds": seconds, "requests": len(samples), "events_sent": sent[0] if sent else 0,
            "statuses": dict(statuses),
            "errors": sum(n for status, n in statuses.items() if status not in ("200", "503")),
            "backpressure_503": statuses.get("503", 0), "p99_ms_by_window": p99, "rss": growth}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(worker=WorkerSettings(replicas=1), serve=ServeSettings(access_log=False),
                            api=ApiSettings(port=free_port(), api_keys={KEY: TENANT}),
                            local=LocalStackSettings(data_dir=Path(tmp)))
        with LocalStack(settings) as settings:
            start_local_ray()
            pool = WorkerPool(settings).start()
            try:
                corpus = make_docs(200, seed=3, prefix="corpus")
                with DocumentProducer(settings.kafka) as producer:
                    for doc in corpus:
                        producer.send(doc)
                url = run(settings)
                with TopicReader(settings.kafka, settings.kafka.index_events_topic) as reader:
                    while len(reader.records) < len(corpus):
                        reader.poll()
                with console.status(f"soaking for {args.minutes:g} minutes"):
                    result = soak(settings, url, questions(corpus, 200, seed=4), args.minutes * 60)
            finally:
                pool.stop()
                stop_local_ray()
    rows = [{"process": name, **values} for name, values in result["rss"].items()]
    report(f"soak: {result['requests']} requests, {result['events_sent']} events, statuses {result['statuses']}, "
           f"p99 by window {result['p99_ms_by_window']}", rows, args.json, result)


if __name__ == "__main__":
    main()
