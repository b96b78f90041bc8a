"""Index-size curve of the embedded index: retrieval latency, memory, disk and restart time at growing chunk counts,
with ragstream's search paths and Milvus Lite's own side by side on the same data, in one run.

    python bench/scale.py [--sizes 10000,100000] [--tenants 1,100] [--stock-up-to N] [--beir FOLDER] [--quick]
                          [--json FILE]

Rows are written as the workers write them (``IndexStore``: chunks, registry states, a flush per batch), with the
project's chunk schema, into a Milvus Lite server started here. Text is real: chunks of the corpus' documents
(SciFact with ``--beir``, else HaluEval's passages), then variants of them (a third of a chunk's sentences swapped
for another chunk's, the order shuffled), so BM25 sees real term statistics at every size. Vectors are real
embeddings of the base chunks (the shipped embedder, in process) and, for a variant, the normalised mix of its two
parents' plus noise. Queries are the corpus' own queries, embedded. Latency is that of ``HybridRetriever`` (what
the retrieval deployment runs, registry check included), without the HTTP and Serve hops (``bench/query.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import re
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.quality.datasets import EvalSet, load_beir, load_halueval  # noqa: E402
from bench.report import console, percentile, report  # noqa: E402
from ragstream.core.index.records import Chunk, DocState  # noqa: E402
from ragstream.core.index.store import IndexStore  # noqa: E402
from ragstream.core.models.client import Priority  # noqa: E402
from ragstream.core.models.in_process import InProcessModelClient  # noqa: E402
from ragstream.core.retrieval.hybrid import HybridRetriever  # noqa: E402
from ragstream.core.settings import Settings  # noqa: E402
from ragstream.infra.local.milvus_server import MilvusLiteServer  # noqa: E402
from ragstream.schemas import DocumentEvent  # noqa: E402
from ragstream.workers.chunking import Chunker  # noqa: E402

CHUNKS_PER_DOC = 4
BATCH = 1000
MODES = ("dense", "bm25", "hybrid")
SENTENCE = re.compile(r"(?<=[.!?])\s+")


class Corpus:
    """Base chunks with their embeddings, and the queries with theirs."""

    def __init__(self, data: EvalSet, settings: Settings, base: int, queries: int) -> None:
        chunker = Chunker(settings.chunking)
        self.chunks: list[Chunk] = []
        for number, (title, text) in enumerate(data.corpus.values()):
            if len(self.chunks) >= base:
                break
            self.chunks += chunker.split(DocumentEvent(op="upsert", tenant="t", doc_id=f"b{number}", version=1,
                                                       title=title[:200], text=text))
        self.chunks = self.chunks[:base]
        self.queries = list(data.queries.values())[:queries]
        models = InProcessModelClient(settings.models)
        self.vectors = self._embed(models, [c.content for c in self.chunks], Priority.INGEST)
        self.query_vectors = self._embed(models, self.queries, Priority.QUERY)

    @staticmethod
    def _embed(models: InProcessModelClient, texts: list[str], priority: Priority) -> np.ndarray:
        async def run() -> list[list[float]]:
            return [v for start in range(0, len(texts), 64) for v in await models.embed(texts[start:start + 64],
                                                                                       priority)]
        return np.asarray(asyncio.run(run()), dtype=np.float32)

    def row(self, number: int, tenants: int) -> tuple[Chunk, np.ndarray]:
        """Row ``number``: a base chunk as it is, or past them a variant (deterministic per number)."""
        rng = random.Random(number)
        j = number % len(self.chunks)
        base = self.chunks[j]
        text, vector = base.text, self.vectors[j]
        if number >= len(self.chunks):
            k = rng.randrange(len(self.chunks))
            own, other = SENTENCE.split(base.text), SENTENCE.split(self.chunks[k].text)
            swapped = [rng.choice(other) if rng.random() < 1 / 3 else s for s in own]
            rng.shuffle(swapped)
            text = " ".join(swapped)[:4000]
            mixed = 0.7 * vector + 0.3 * self.vectors[k] + np.random.default_rng(number).normal(0, 0.02, len(vector))
            vector = (mixed / np.linalg.norm(mixed)).astype(np.float32)
        doc = number // CHUNKS_PER_DOC
        chunk = Chunk(tenant=f"t{doc % tenants}", doc_id=f"d{doc}", version=1, chunk_no=number % CHUNKS_PER_DOC,
                      title=base.title, text=text, content=f"{base.title}\n{text}" if base.title else text,
                      metadata={"source": "scale"}, event_time_ms=0)
        return chunk, vector


def load(store: IndexStore, corpus: Corpus, start: int, stop: int, tenants: int) -> float:
    """Rows ``start``..``stop`` as a worker writes them; seconds taken."""
    began = time.perf_counter()
    for first in range(start, stop, BATCH):
        rows = [corpus.row(n, tenants) for n in range(first, min(stop, first + BATCH))]
        store.upsert_chunks([c for c, _ in rows], [v for _, v in rows])
        states = {(c.tenant, c.doc_id): DocState(tenant=c.tenant, doc_id=c.doc_id, version=1, state="indexed",
                                                 content_hash="", chunk_count=CHUNKS_PER_DOC, event_time_ms=0,
                                                 indexed_time_ms=0) for c, _ in rows}
        store.record_states(list(states.values()))
        store.seal()
    store.seal(idle=True)
    return time.perf_counter() - began


def settle(pid: int, quiet_s: float = 3.0, limit_s: float = 900.0) -> float:
    """Waits until the server's background work (compaction, index builds) is done; seconds waited."""
    process, began = psutil.Process(pid), time.perf_counter()
    while time.perf_counter() - began < limit_s:
        if process.cpu_percent(interval=quiet_s) < 5:
            break
    return time.perf_counter() - began


def latencies(store: IndexStore, corpus: Corpus, settings: Settings, mode: str, concurrency: int, samples: int,
              tenants: int, seed: int) -> list[float]:
    retriever = HybridRetriever(store, settings.retrieval)
    rng = random.Random(seed)
    picks = [(rng.randrange(len(corpus.queries)), f"t{rng.randrange(tenants)}") for _ in range(samples)]
    out: list[float] = []

    async def client(mine: list[tuple[int, str]]) -> None:
        for q, tenant in mine:
            began = time.perf_counter()
            await retriever.search(corpus.queries[q], corpus.query_vectors[q].tolist(), tenant, mode=mode, prf=False)
            out.append(1000 * (time.perf_counter() - began))

    async def run() -> None:
        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(max_workers=4 * concurrency))
        await asyncio.gather(*(client(picks[i::concurrency]) for i in range(concurrency)))

    asyncio.run(run())
    return out


def cpu_s(*processes: psutil.Process) -> float:
    return sum(t.user + t.system for t in (p.cpu_times() for p in processes))


def measure(store, corpus, settings, server_pid, size, tenants, paths, samples, seed) -> list[dict]:
    """Latency per mode and concurrency, and what it costs: CPU seconds of the server and of this client (the
    retrieval code) per 1,000 searches."""
    processes, rows = (psutil.Process(server_pid), psutil.Process()), []
    for mode in MODES:
        for concurrency in (1, 8):
            for _ in range(2 if mode == MODES[0] and concurrency == 1 else 1):  # the first round warms up
                spent = cpu_s(*processes)
                ms = latencies(store, corpus, settings, mode, concurrency, samples, tenants, seed)
            rows.append({"chunks": size, "tenants": tenants, "search": paths, "mode": mode,
                         "concurrency": concurrency, "samples": len(ms), "p50_ms": round(percentile(ms, 50), 1),
                         "p99_ms": round(percentile(ms, 99), 1), "mean_ms": round(statistics.fmean(ms), 1),
                         "searches_per_s": round(1000 * concurrency / statistics.fmean(ms), 1),
                         "core_s_per_1k": round(1000 * (cpu_s(*processes) - spent) / len(ms), 1)})
            console.print(rows[-1])
    return rows


def restart(server: MilvusLiteServer, store: IndexStore, corpus: Corpus, settings: Settings, tenants: int) -> float:
    """Seconds from a stopped server to its first answer in every mode (collections loaded, scorers built)."""
    server.stop()
    began = time.perf_counter()
    server.start()
    store.reload()
    for mode in MODES:
        latencies(store, corpus, settings, mode, 1, 1, tenants, 0)
    return time.perf_counter() - began


def disk_mb(folder: Path) -> float:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--tenants", default="1,100")
    parser.add_argument("--samples", type=int, default=1000, help="searches per cell, ragstream's paths")
    parser.add_argument("--stock-samples", type=int, default=100, help="searches per cell, Milvus Lite's own paths")
    parser.add_argument("--stock-up-to", type=int, help="the largest size Milvus Lite's own paths are measured at "
                        "(default: every size; at 1M chunks one of their searches takes seconds)")
    parser.add_argument("--base", type=int, default=3000, help="real chunks embedded; variants make up the rest")
    parser.add_argument("--beir", type=Path, help="a BEIR folder (e.g. SciFact); default HaluEval's passages")
    parser.add_argument("--quick", action="store_true", help="2,000 chunks, one tenant count, 100 samples")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    sizes = [2000] if args.quick else [int(s) for s in args.sizes.split(",")]
    tenant_counts = [1] if args.quick else [int(t) for t in args.tenants.split(",")]
    samples, stock_samples = (100, 20) if args.quick else (args.samples, args.stock_samples)
    settings = Settings()
    data = load_beir(args.beir, "train") if args.beir else load_halueval()
    corpus = Corpus(data, settings, 500 if args.quick else args.base, 1000)
    console.print(f"{len(corpus.chunks)} base chunks of {data.name}, {len(corpus.queries)} queries")
    rows, resources = [], []
    for tenants in tenant_counts:
        with tempfile.TemporaryDirectory(prefix="ragstream-scale-") as tmp:
            folder, loaded = Path(tmp), 0
            for previous, size in zip([0, *sizes], sizes):
                stock = args.stock_up_to is None or size <= args.stock_up_to
                for paths in ("ragstream", "milvus-lite") if stock else ("ragstream",):
                    # a failed cell (a search past its deadline) must not leave the server running
                    with contextlib.ExitStack() as cleanup:
                        server = MilvusLiteServer(folder / "milvus", folder, search=paths).start()
                        cleanup.callback(server.stop)
                        milvus = settings.milvus.model_copy(update={"uri": server.uri})
                        store = IndexStore(milvus, settings.models.embedder.dimension)
                        cleanup.callback(store.close)
                        store.ensure_collections()
                        took = load(store, corpus, loaded, size, tenants) if loaded < size else 0.0
                        loaded, waited = size, settle(server.pid)
                        rows += measure(store, corpus, settings, server.pid, size, tenants, paths,
                                        samples if paths == "ragstream" else stock_samples, seed=size)
                        rss = psutil.Process(server.pid).memory_info().rss / 1e6
                        if paths == "ragstream":
                            resources.append({"chunks": size, "tenants": tenants, "load_s": round(took, 1),
                                              "rows_per_s": round((size - previous) / took) if took else 0,
                                              "settle_s": round(waited, 1),
                                              "server_rss_mb": round(rss), "disk_mb": round(disk_mb(folder / "milvus")),
                                              "restart_s": round(restart(server, store, corpus, settings, tenants), 1)})
                            console.print(resources[-1])
    report("Retrieval latency by index size (HybridRetriever over the embedded Milvus Lite server)", rows, None)
    report("Memory, disk, load and restart", resources, args.json,
           {"latency": rows, "corpus": data.name, "base_chunks": len(corpus.chunks), "chunks_per_doc": CHUNKS_PER_DOC,
            "machine": {"cpus": psutil.cpu_count(), "memory_gb": round(psutil.virtual_memory().total / 1e9)}})


if __name__ == "__main__":
    main()
