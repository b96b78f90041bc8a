"""Ranking metrics with binary or graded relevance, as BEIR and TREC define them (log2 discount, ideal DCG from
the judgements), averaged over queries."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from statistics import mean


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    dcg = sum(relevant.get(doc, 0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sum(grade / math.log2(rank + 2)
                for rank, grade in enumerate(sorted(relevant.values(), reverse=True)[:k]))
    return dcg / ideal if ideal else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int) -> float:
    return next((1 / (rank + 1) for rank, doc in enumerate(ranked[:k]) if doc in relevant), 0.0)


def evaluate(runs: Mapping[str, Sequence[str]], qrels: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """``runs``: query id → document ids best first (documents, not chunks). Queries with no run score 0."""
    judged = [q for q in qrels if qrels[q]]
    return {
        "ndcg@10": mean(ndcg_at(runs.get(q, []), qrels[q], 10) for q in judged),
        "recall@10": mean(recall_at(runs.get(q, []), qrels[q], 10) for q in judged),
        "recall@100": mean(recall_at(runs.get(q, []), qrels[q], 100) for q in judged),
        "mrr@10": mean(mrr_at(runs.get(q, []), qrels[q], 10) for q in judged),
        "queries": len(judged),
    }


def documents(chunk_doc_ids: Sequence[str]) -> list[str]:
    """Chunk hits → document ranking: a document ranks where its best chunk does."""
    return list(dict.fromkeys(chunk_doc_ids))
