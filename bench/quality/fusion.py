"""Fusion chosen on a dev split: each query's dense, PRF-dense and BM25 lists fetched once through ``/v1/retrieve``,
then every fusion method, weight and candidate depth applied to them with the retrieval stage's own functions.

    python -m bench.quality.fusion --beir FOLDER [--queries N]

Split as in ``bench.quality.gate``: even positions of the sorted query ids are dev (the configuration is chosen
there, by nDCG@10), odd are held-out (reported, never used to choose). The lists are fetched at depth 100; a
configuration with fewer candidates takes the head of each (an HNSW search asked for fewer hits can differ in its
last few), and a document ranks where its best chunk does. The winner is then deployed and measured end to end
(quality and latency at ``top_k=10``) beside the shipped defaults and the shipped defaults without the cap of one
passage per document (``retrieval.per_document``: without it a long abstract's second chunk takes another
document's place), in the same run.
Writes ``bench/results/fusion.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path
from typing import Any

from bench.quality.__main__ import KEY, TENANT, index_ids, ingest, running_stack, with_overrides
from bench.quality.datasets import EvalSet, halves, load_beir
from bench.quality.http import post_all
from bench.quality.metrics import documents, evaluate
from bench.quality.retrieval import Config, measure
from bench.report import report
from ragstream.core.retrieval.fusion import interpolate, reciprocal_rank
from ragstream.core.settings import RetrievalSettings
from ragstream.core.stages.passage import Passage
from ragstream.services.app import run

DEPTH = 100  # the most /v1/retrieve returns
LISTS = {"dense": {"mode": "dense", "prf": False}, "prf": {"mode": "dense", "prf": True},
         "bm25": {"mode": "bm25"}}
WEIGHTS = [round(0.1 * n, 1) for n in range(11)]
RRF_K = (5, 10, 20, 40, 60, 100)
CANDIDATES = (10, 20, 30, 50, 100)


def fetch(url: str, data: EvalSet) -> dict[str, dict[str, list[Passage]]]:
    """Retriever → query id → its ranked passages (joined across lists on document, version and chunk)."""
    lists = {}
    for name, request in LISTS.items():
        bodies = {qid: {"query": text, "top_k": DEPTH, **request} for qid, text in data.queries.items()}
        replies = post_all(url, KEY, "/v1/retrieve", bodies)
        lists[name] = {qid: [Passage(id=f"{p['doc_id']}/{p['version']}/{p['chunk_no']}", doc_id=p["doc_id"],
                                     version=p["version"], chunk_no=p["chunk_no"], text="", score=p["score"])
                             for p in reply["passages"]] for qid, (reply, _) in replies.items()}
    return lists


def fused(lists: dict[str, dict[str, list[Passage]]], qid: str, dense: str, method: str, value: float,
          candidates: int) -> list[Passage]:
    first, second = lists[dense][qid][:candidates], lists["bm25"][qid][:candidates]
    if method == "rrf":
        return reciprocal_rank([first, second], k=int(value), limit=100)
    return interpolate(first, second, value, limit=100)


def sweep(lists, data: EvalSet, ids: dict[str, str], splits: dict[str, list[str]]) -> list[dict[str, Any]]:
    grid = [("interpolation", w) for w in WEIGHTS] + [("rrf", k) for k in RRF_K]
    rows = []
    for dense, (method, value), candidates in itertools.product(("dense", "prf"), grid, CANDIDATES):
        row: dict[str, Any] = {"dense": dense, "fusion": method, "value": value, "candidates": candidates}
        for name, qids in splits.items():
            runs = {q: documents([ids[p.doc_id] for p in fused(lists, q, dense, method, value, candidates)])
                    for q in qids}
            scores = evaluate(runs, {q: data.qrels[q] for q in qids})
            row |= {f"{name} {metric}": round(scores[metric], 4) for metric in ("ndcg@10", "recall@100")}
        rows.append(row)
    # ties: the higher recall, then the fewer candidates (cheaper)
    return sorted(rows, key=lambda r: (-r["dev ndcg@10"], -r["dev recall@100"], r["candidates"]))


def settings_of(row: dict[str, Any]) -> dict[str, Any]:
    weight = {"dense_weight": row["value"]} if row["fusion"] == "interpolation" else {"rrf_k": int(row["value"])}
    return {"fusion": row["fusion"], "candidates": row["candidates"], "prf": row["dense"] == "prf", **weight}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--beir", type=Path, required=True, help="a BEIR folder (e.g. SciFact's train split)")
    parser.add_argument("--split", default="train", help="its qrels file")
    parser.add_argument("--queries", type=int, help="sample this many queries (default: all)")
    parser.add_argument("--corpus", type=int, help="keep only the queries' judged documents and this many others "
                        "(a smoke run; default: the whole corpus)")
    parser.add_argument("--out", type=Path, default=Path("bench/results/fusion.json"))
    args = parser.parse_args()
    data = load_beir(args.beir, args.split)
    if args.queries or args.corpus is not None:
        data = data.subset(args.queries or len(data.queries),
                           len(data.corpus) if args.corpus is None else args.corpus, seed=7)
    ids, splits = index_ids(data), halves(sorted(data.queries))
    with running_stack({KEY: TENANT}) as settings:
        ingest_s = ingest(settings, data, ids, TENANT)
        wide = with_overrides(settings, {"retrieval": {"candidates": DEPTH, "per_document": None},
                                         "serve": {"app_name": "fusion", "route_prefix": "/fusion"}})
        lists = fetch(run(wide) + "/fusion", data)
        rows = sweep(lists, data, ids, splits)
        shipped = RetrievalSettings()
        chosen = settings_of(rows[0])
        end_to_end = []
        uncapped = {"retrieval": {"per_document": None}}
        for name, overrides in (("shipped", {}), ("shipped, no per-document cap", uncapped),
                                ("chosen on dev", {"retrieval": chosen})):
            deployed = with_overrides(settings, {**overrides, "serve": {"app_name": "e2e", "route_prefix": "/e2e"}})
            url = run(deployed) + "/e2e"
            for part, qids in splits.items():
                subset = EvalSet(data.name, data.corpus, {q: data.queries[q] for q in qids},
                                 {q: data.qrels[q] for q in qids})
                end_to_end.append({"split": part,
                                   **measure(url, KEY, subset, ids, Config(name, request={"mode": "hybrid"}))})
    result = {"corpus": data.name, "documents": len(data.corpus), "queries": {k: len(v) for k, v in splits.items()},
              "ingest_s": round(ingest_s, 1), "shipped": shipped.model_dump(include=set(settings_of(rows[0]))),
              "chosen": chosen, "sweep": rows, "end_to_end": end_to_end}
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    report("fusion sweep (top 15 by dev nDCG@10)", rows[:15], None)
    report("end to end through /v1/retrieve, top_k=10", end_to_end, None)


if __name__ == "__main__":
    main()
