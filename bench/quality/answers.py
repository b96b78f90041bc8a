"""Answer quality through the real chat endpoint: does the answer contain the gold answer, does it contain the
dataset's hallucinated answer instead, is the cited document the relevant one, and does it abstain when the
evidence has been deleted from the index (evidence-only answering)."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import mean
from typing import Any

from bench.quality.datasets import EvalSet
from bench.quality.http import post_all
from bench.report import percentile
from ragstream.core.generation.prompt import NO_ANSWER

ANSWER_TOKENS = 64  # HaluEval answers are short spans; a cap keeps a rambling model from dominating the run time
ABSTENTIONS = (NO_ANSWER, "i don't know", "i do not know", "cannot answer", "not mentioned", "no information")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@dataclass(frozen=True)
class Reply:
    text: str
    cited: str | None  # dataset doc id of the first cited source
    ms: float


def normalise(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation or articles, single spaces."""
    text = "".join(c for c in text.lower() if c not in string.punctuation)
    return " ".join(_ARTICLES.sub(" ", text).split())


def contains(answer: str, gold: str) -> bool:
    return bool(normalise(gold)) and f" {normalise(gold)} " in f" {normalise(answer)} "


def abstained(answer: str) -> bool:
    return any(normalise(phrase) in normalise(answer) for phrase in ABSTENTIONS)


def score(replies: Mapping[str, Reply], data: EvalSet, prefix: str) -> dict[str, Any]:
    """With evidence (``prefix`` "answer"): gold / hallucinated / citation / false-abstention rates. Without
    (``prefix`` "removed"): the abstention rate, and how often the gold answer came out anyway."""
    qids = sorted(replies)
    gold = [contains(replies[q].text, data.answers[q].right) for q in qids]
    figures = {f"{prefix}_questions": len(qids), f"{prefix}_contains_gold": mean(gold),
               f"{prefix}_abstained": mean(abstained(replies[q].text) for q in qids),
               f"{prefix}_p50_ms": round(percentile([r.ms for r in replies.values()], 50), 1)}
    if prefix == "answer":
        figures["answer_hallucinated"] = mean(contains(replies[q].text, data.answers[q].hallucinated) and not ok
                                              for q, ok in zip(qids, gold, strict=True))
        cited = [q for q in qids if replies[q].cited]
        figures["answer_citation_correct"] = (mean(replies[q].cited in data.qrels[q] for q in cited) if cited
                                              else 0.0)
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in figures.items()}


def transcript(system: str, phase: str, replies: Mapping[str, Reply], data: EvalSet) -> list[dict[str, Any]]:
    """One line per answer, to read what the figures count."""
    return [{"system": system, "phase": phase, "question": data.queries[q], "gold": data.answers[q].right,
             "hallucinated": data.answers[q].hallucinated, "reply": r.text, "cited": r.cited,
             "relevant": sorted(data.qrels[q])} for q, r in sorted(replies.items())]


def ask(url: str, key: str, model: str, data: EvalSet, qids: list[str], ids: Mapping[str, str]
        ) -> dict[str, Reply]:
    """Each question as a one-turn chat (non-streamed, greedy); ``ids``: index doc id → dataset doc id."""
    bodies = {q: {"model": model, "messages": [{"role": "user", "content": data.queries[q]}],
                  "max_tokens": ANSWER_TOKENS, "temperature": 0} for q in qids}
    replies = post_all(url, key, "/v1/chat/completions", bodies)
    return {q: Reply(body["choices"][0]["message"]["content"].split("\n\nSources:\n")[0],
                     ids.get(body["citations"][0]["doc_id"]) if body.get("citations") else None, ms)
            for q, (body, ms) in replies.items()}
