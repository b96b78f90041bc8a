"""The relevance gate on three corpora: how often it abstains on answerable questions, and how often once their
evidence is gone, per split (even positions of the sorted query ids: dev, where the threshold is chosen; odd:
held-out), with Wilson 95 % intervals; plus the retrieval figures of the shipped hybrid on each corpus.

    python -m bench.quality.gate [--quick] [--beir FOLDER]

Corpora: HaluEval QA (400 questions over 2,000 passages), SciFact-dev (BEIR train split, all 5,183 abstracts,
when its folder exists) and the demo corpus with its question list. Everything goes through Kafka and
``/v1/retrieve`` of the running stack. "Evidence gone" drops the judged documents from the question's own
candidate list (the gate then sees what retrieval would return without them); ``python -m bench.quality``
measures the same end to end, with delete events and the generator.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

from bench.quality.__main__ import index_ids, ingest, running_stack
from bench.quality.datasets import EvalSet, halves, load_beir, load_halueval
from bench.quality.http import post_all
from bench.quality.metrics import documents, evaluate
from bench.report import percentile, report
from ragstream.core import demo
from ragstream.core.settings import ContextSettings
from ragstream.core.stages.gate import content_terms, coverage
from ragstream.core.stages.passage import Passage
from ragstream.services.app import run

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7)


def demo_set() -> EvalSet:
    docs = {p.stem: (p.read_text().splitlines()[0].lstrip("# "), p.read_text()) for p in demo.FOLDER.glob("*.md")}
    asked = demo.questions()
    return EvalSet("demo", docs, {f"d{i:02d}": q.question for i, q in enumerate(asked)},
                   {f"d{i:02d}": dict.fromkeys(q.doc_ids, 1) for i, q in enumerate(asked) if q.doc_ids})


def wilson(hits: int, n: int) -> tuple[float, float]:
    if not n:
        return (math.nan, math.nan)
    p, z = hits / n, 1.96
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, round(centre - half / (1 + z * z / n), 3)), min(1.0, round(centre + half / (1 + z * z / n), 3))


def best_coverage(question: str, passages: list[dict], passages_given: int) -> float:
    terms = content_terms(question)
    return max((coverage(terms, Passage(id="", doc_id=p["doc_id"], version=1, chunk_no=0, title=p["title"],
                                        text=p["text"], score=0.0)) for p in passages[:passages_given]), default=0.0)


def signals(question: str, passages: list[dict], passages_given: int) -> dict[str, float]:
    """What a gate could read from one retrieval, each comparable across corpora: the best coverage among the
    passages given; the top dense cosine and its margin over the median of the list (the query's own score
    distribution); the same margin for BM25, relative to its top score; whether dense and BM25 put the same
    document first."""
    ranked = {name: sorted((p for p in passages if name in p.get("scores", {})), key=lambda p: -p["scores"][name])
              for name in ("dense", "bm25")}

    def margin(name: str, relative: bool) -> float:
        scores = [p["scores"][name] for p in ranked[name]]
        if not scores:
            return 0.0
        gap = scores[0] - scores[len(scores) // 2]
        return gap / scores[0] if relative and scores[0] else gap

    dense, bm25 = ranked["dense"], ranked["bm25"]
    return {"coverage": best_coverage(question, passages, passages_given),
            "dense_top": dense[0]["scores"]["dense"] if dense else 0.0,
            "dense_margin": margin("dense", False), "bm25_margin": margin("bm25", True),
            "agree": float(bool(dense and bm25) and dense[0]["doc_id"] == bm25[0]["doc_id"])}


def features(replies: dict[str, tuple[dict, float]], data: EvalSet, ids: dict[str, str], given: int) -> list[dict]:
    rows = []
    for qid, (reply, ms) in sorted(replies.items()):
        found = [{**p, "doc_id": ids[p["doc_id"]]} for p in reply["passages"]]
        gold = set(data.qrels.get(qid, {}))
        present = signals(data.queries[qid], found, given)
        removed = signals(data.queries[qid], [p for p in found if p["doc_id"] not in gold], given)
        rows.append({"qid": qid, "answerable": bool(gold), "ms": ms,
                     "ranked": documents([p["doc_id"] for p in found]),
                     "present": present["coverage"], "removed": removed["coverage"],
                     "signals": {"present": present, "removed": removed}})
    return rows


def abstention(rows: list[dict], threshold: float) -> dict[str, Any]:
    answerable = [r for r in rows if r["answerable"]]
    kept_out = sum(r["present"] < threshold for r in answerable)
    removed = sum(r["removed"] < threshold for r in rows)
    return {"answerable_n": len(answerable), "answerable_abstained": round(kept_out / max(len(answerable), 1), 3),
            "answerable_ci": wilson(kept_out, len(answerable)), "removed_n": len(rows),
            "removed_abstained": round(removed / max(len(rows), 1), 3), "removed_ci": wilson(removed, len(rows))}


def choose(per_corpus: dict[str, list[dict]]) -> float:
    """On the dev halves of the judged corpora: the threshold whose worst corpus is closest to both targets
    (answerable abstained ≤ 0.05, weighted 3×: refusing a good answer is what users notice first; removed ≥ 0.9)."""
    def miss(t: float) -> float:
        return max(3 * max(a["answerable_abstained"] - 0.05, 0) + max(0.9 - a["removed_abstained"], 0)
                   for name, rows in per_corpus.items() if name != "demo"
                   for a in [abstention(halves(rows)["dev"], t)])
    return min(THRESHOLDS, key=miss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="80 HaluEval questions, 100 SciFact claims")
    parser.add_argument("--beir", type=Path, help="SciFact-dev: a BEIR folder (train split); skipped when absent")
    parser.add_argument("--out", type=Path, default=Path("bench/results/gate.json"))
    args = parser.parse_args()
    sets = {"halueval": load_halueval().subset(80 if args.quick else 400, 320 if args.quick else 1600, seed=7)}
    if args.beir and (args.beir / "corpus.jsonl").exists():
        scifact = load_beir(args.beir, split="train")
        sets["scifact-dev"] = scifact.subset(100, 900, seed=7) if args.quick else scifact
    else:
        print("SciFact-dev skipped: " + (f"no {args.beir}/corpus.jsonl" if args.beir else "no --beir folder"))
    sets["demo"] = demo_set()
    given = ContextSettings().passages
    per_corpus, retrieval = {}, []
    with running_stack({f"key-{name}": name for name in sets}) as settings:
        ingest_s = {name: ingest(settings, data, index_ids(data), name) for name, data in sets.items()}
        url = run(settings) + settings.serve.route_prefix.rstrip("/")
        for name, data in sets.items():
            ids = index_ids(data)
            bodies = {q: {"query": text, "top_k": 30, "rerank": False} for q, text in data.queries.items()}
            rows = features(post_all(url, f"key-{name}", "/v1/retrieve", bodies), data, ids, given)
            per_corpus[name] = rows
            judged = {r["qid"]: r["ranked"][:10] for r in rows if r["answerable"]}
            scores = evaluate(judged, {q: data.qrels[q] for q in judged})
            retrieval.append({"corpus": name, "queries": len(judged), "ndcg@10": round(scores["ndcg@10"], 4),
                              "mrr@10": round(scores["mrr@10"], 4), "recall@10": round(scores["recall@10"], 4),
                              "p50_ms": round(percentile([r["ms"] for r in rows], 50), 1),
                              "ingest_s": round(ingest_s[name], 1)})
    chosen = choose(per_corpus)
    shipped = ContextSettings().min_coverage
    gate = [{"corpus": name, "split": split, "min_coverage": t, **abstention(part, t)}
            for name, rows in per_corpus.items() for t in sorted({chosen, shipped, *THRESHOLDS})
            for split, part in halves(rows).items()]
    report("retrieval, shipped hybrid (top 30 at concurrency 2)", retrieval, None)
    report(f"relevance gate (chosen on dev: {chosen}; shipped: {shipped})",
           [{k: str(v) if isinstance(v, tuple) else v for k, v in row.items()} for row in gate
            if row["min_coverage"] in (chosen, shipped)], None)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "chosen_on_dev": chosen, "shipped": shipped,
                                    "retrieval": retrieval, "gate": gate,
                                    "signals": {name: [{k: r[k] for k in ("qid", "answerable", "signals")}
                                                       for r in rows] for name, rows in per_corpus.items()}},
                                   indent=1))


if __name__ == "__main__":
    main()
