"""Retrieval and answer quality per configuration through the real ``/v1/retrieve`` and chat paths, on the
HaluEval QA dev set (or a BEIR folder), with the corpus ingested through Kafka like any data, side by side with a
plain llama-index pipeline over the same Milvus and models.

    python -m bench.quality [--quick] [--beir FOLDER] [--answers N] [--out FOLDER]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.quality import answers
from bench.quality.datasets import EvalSet, load_beir, load_halueval
from bench.quality.peer import Peer
from bench.quality.plots import frontier, plot_answers, plot_frontier
from bench.quality.retrieval import Config, measure
from bench.report import console, report
from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import ApiSettings, LocalStackSettings, ServeSettings, Settings, WorkerSettings
from ragstream.core.topic_reader import TopicReader
from ragstream.infra.local.process import free_port
from ragstream.infra.local.ray_runtime import start_local_ray, stop_local_ray
from ragstream.infra.local.stack import LocalStack
from ragstream.services.app import run
from ragstream.workers.actor import WorkerPool
from testkit.streams import wait_for_outcomes

KEY, TENANT = "quality-key", "eval"
SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,255}$")
HYBRID = {"mode": "hybrid"}
STACK = "ragstream (shipped defaults)"
PEER_FLUSHED = "peer, segments flushed (force_flush)"
MACHINE = "2 cores, 24 GiB, CPU only; all-MiniLM-L6-v2 embedder, multilingual-e5-small reranker, Qwen2.5-0.5B generator"


def configurations(multi_query: bool, sweeps: bool = True) -> list[Config]:
    """The shipped defaults first, then each technique on its own and in combination; without ``sweeps`` (quick
    mode) one point per technique instead of the weight and depth sweeps."""
    no_rerank = {"rerank": False}
    weights, reranks = ((0.3, 0.5, 0.7), ((10, 1.0), (10, 0.5), (20, 0.5))) if sweeps else ((0.5,), ((10, 0.5),))
    configs = [
        Config("shipped defaults"),
        Config("dense", request={"mode": "dense", **no_rerank}),
        Config("bm25", request={"mode": "bm25", **no_rerank}),
        Config("hybrid rrf", {"retrieval": {"fusion": "rrf"}}, {**HYBRID, **no_rerank}),
        *[Config(f"hybrid interp w={w}", {"retrieval": {"fusion": "interpolation", "dense_weight": w}},
                 {**HYBRID, **no_rerank}) for w in weights],
        Config("hybrid + prf", request={**HYBRID, "rerank": False, "prf": True}),
        *[Config(f"hybrid + rerank@{depth} blend={w}", {"retrieval": {"rerank_depth": depth, "rerank_weight": w}},
                 {**HYBRID, "rerank": True}) for depth, w in reranks],
    ]
    if multi_query:
        configs.append(Config("hybrid + multi-query (HyDE)", {"rewrite": {"hyde": True}},
                              {**HYBRID, "rerank": False, "rewrite": True}))
    return configs


@dataclass
class Results:
    retrieval: list[dict[str, Any]]
    answers: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    ingest_s: float = 0.0


def with_overrides(settings: Settings, overrides: dict[str, dict[str, Any]]) -> Settings:
    return settings.model_copy(update={group: getattr(settings, group).model_copy(update=values)
                                       for group, values in overrides.items()})


def index_ids(data: EvalSet) -> dict[str, str]:
    """Index doc id → dataset doc id: ids the event schema refuses are replaced by a hash."""
    return {(doc if SAFE_ID.match(doc) else "id-" + hashlib.sha1(doc.encode()).hexdigest()): doc
            for doc in data.corpus}


def through_kafka(settings: Settings, send: Callable[[DocumentProducer], list]) -> None:
    """Events produced by ``send`` (it returns their futures), then waits until the workers have indexed each."""
    reader = TopicReader(settings.kafka, settings.kafka.index_events_topic)
    try:
        with DocumentProducer(settings.kafka) as producer:
            futures = send(producer)
            producer.flush()
            sources = [(m.partition, m.offset) for m in (f.get(60) for f in futures)]
        wait_for_outcomes(reader, sources, timeout_s=3600)
    finally:
        reader.close()


def ingest(settings: Settings, data: EvalSet, ids: dict[str, str], tenant: str) -> float:
    """The corpus as version-1 upserts through Kafka; seconds until all of it was indexed."""
    started = time.perf_counter()
    through_kafka(settings, lambda producer: [
        producer.upsert(tenant, safe, 1, data.corpus[doc][1], title=data.corpus[doc][0]) for safe, doc in ids.items()])
    return time.perf_counter() - started


def evaluate_stack(settings: Settings, data: EvalSet, configs: list[Config], answer_questions: int = 0) -> Results:
    """On a running stack, Ray and ingest worker: the corpus through Kafka, each configuration as the Serve app
    named in ``settings.serve`` (its API keys must map KEY to TENANT), the peer, then answers with the evidence in
    the index and after deleting it (through Kafka too), for the stack's defaults and the peer."""
    ids = index_ids(data)
    with console.status(f"ingesting {len(data.corpus)} documents through Kafka"):
        results = Results([], ingest_s=ingest(settings, data, ids, TENANT))
    for config in configs:
        with console.status(f"{config.name}: {len(data.queries)} queries"):
            deployed = with_overrides(settings, config.settings)
            url = run(deployed) + deployed.serve.route_prefix.rstrip("/")
            results.retrieval.append({**measure(url, KEY, data, ids, config), "ingest_s": round(results.ingest_s, 1)})
        console.print(results.retrieval[-1])
    with console.status("peer: llama-index VectorStoreIndex over the same Milvus and models"), Peer(settings,
                                                                                                   data) as peer:
        results.retrieval.append(peer.retrieval())
        peer.flush()
        results.retrieval.append(peer.retrieval(PEER_FLUSHED))
        console.print(results.retrieval[-2:])
        if answer_questions and data.answers:
            results.answers, results.transcript = compare_answers(settings, data, ids, peer, answer_questions)
    return results


def compare_answers(settings: Settings, data: EvalSet, ids: dict[str, str], peer: Peer, questions: int
                    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Figures per system, and the transcript of every answer."""
    qids = sorted(random.Random(11).sample(sorted(data.answers), min(questions, len(data.answers))))
    url = run(settings) + settings.serve.route_prefix.rstrip("/")
    model = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {KEY}"}).json()["data"][0]["id"]
    figures: dict[str, dict[str, Any]] = {STACK: {}, Peer.name: {}}
    transcript: list[dict[str, Any]] = []

    def phase(name: str) -> None:
        for system, replies in ((STACK, answers.ask(url, KEY, model, data, qids, ids)), (Peer.name, peer.ask(qids))):
            figures[system] |= answers.score(replies, data, name)
            transcript.extend(answers.transcript(system, name, replies, data))

    with console.status(f"answers: {len(qids)} questions, evidence in the index"):
        phase("answer")
    evidence = {doc for q in qids for doc in data.qrels[q]}
    with console.status(f"answers: the same questions after deleting their {len(evidence)} passages"):
        through_kafka(settings, lambda producer: [producer.delete(TENANT, safe, 2)
                                                  for safe, doc in ids.items() if doc in evidence])
        peer.remove(evidence)
        phase("removed")
    return [{"system": system, **values} for system, values in figures.items()], transcript


def markdown(rows: list[dict[str, Any]]) -> str:
    """A pipe table of rows that share their keys, for docs/benchmarks.md."""
    keys = list(rows[0])
    lines = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    lines += ["| " + " | ".join(f"{row[k]:.3f}" if isinstance(row[k], float) and row[k] <= 1 else str(row[k])
                                 for k in keys) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(results: Results, out: Path, meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    report(f"retrieval quality, {meta['dataset']}", results.retrieval, None)
    points = [(r["config"], r["p50_ms"], r["ndcg@10"]) for r in results.retrieval]
    plot_frontier(results.retrieval, out / "frontier.png")
    if results.answers:
        report("answers through the chat endpoint", results.answers, None)
        plot_answers(results.answers, out / "answers.png")
    document = {**meta, "ingest_s": round(results.ingest_s, 1), "frontier": frontier(points),
                "retrieval": results.retrieval, "answers": results.answers}
    (out / "quality.json").write_text(json.dumps(document, indent=2))
    tables = [markdown(results.retrieval)] + ([markdown(results.answers)] if results.answers else [])
    (out / "quality.md").write_text("\n".join(tables))
    with (out / "answers.jsonl").open("w") as lines:
        lines.writelines(json.dumps(line) + "\n" for line in results.transcript)
    console.print(f"frontier: {', '.join(document['frontier'])}\nwritten: {out}/quality.json, quality.md, "
                  "answers.jsonl, frontier.png" + (", answers.png" if results.answers else ""))


@contextmanager
def running_stack(api_keys: dict[str, str], overrides: dict[str, dict[str, Any]] | None = None
                  ) -> Iterator[Settings]:
    """The embedded stack, Ray and one ingest worker for an evaluation, stopped afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        base = Settings(worker=WorkerSettings(replicas=1, batch_max_events=64),
                        api=ApiSettings(port=free_port(), api_keys=api_keys), serve=ServeSettings(access_log=False),
                        local=LocalStackSettings(data_dir=Path(tmp)))
        with LocalStack(base) as base:
            base = with_overrides(base, overrides or {})
            start_local_ray()
            pool = WorkerPool(base).start()
            try:
                yield base
            finally:
                pool.stop()
                stop_local_ray()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="40 queries over 500 documents, 10 answers, no sweeps (~4 min)")
    parser.add_argument("--beir", type=Path, help="a BEIR folder instead of HaluEval QA (retrieval only)")
    parser.add_argument("--queries", type=int, help="retrieval queries to sample (default: 40 quick, 200 full)")
    parser.add_argument("--corpus", type=int, help="documents: the queries' passages plus distractors (default: "
                        "500 quick, 2,000 full; Milvus Lite searches cost ~linear time in the corpus on 2 cores)")
    parser.add_argument("--answers", type=int, help="questions answered through chat (default: 10 quick, 80 full)")
    parser.add_argument("--multi-query", action="store_true", help="also HyDE multi-query (a generation per query)")
    parser.add_argument("--no-configurations", action="store_true", help="only the peer and the answers")
    parser.add_argument("--out", type=Path, default=Path("bench/results/quality"), help="JSON and plots go here")
    args = parser.parse_args()
    full = load_beir(args.beir) if args.beir else load_halueval()
    queries = args.queries or (40 if args.quick else 200)
    corpus = args.corpus or (500 if args.quick else 2000)
    data = full.subset(queries, distractors=max(corpus - queries, 0), seed=7)
    answer_questions = args.answers if args.answers is not None else (10 if args.quick else 80)

    with running_stack({KEY: TENANT}, {"retrieval": {"candidates": 100}}) as base:
        configs = [] if args.no_configurations else configurations(args.multi_query, sweeps=not args.quick)
        results = evaluate_stack(base, data, configs, answer_questions)
    write_results(results, args.out, {"dataset": data.name, "machine": MACHINE, "concurrency": 2,
                                      "date": time.strftime("%Y-%m-%d")})


if __name__ == "__main__":
    main()
