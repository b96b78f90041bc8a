"""Can a gate that reads more than coverage transfer? A logistic model over the signals ``bench.quality.gate``
records per question (coverage, the top dense cosine and its margin over the query's own list, the BM25 margin,
dense/BM25 agreement), fitted on the dev halves of HaluEval and SciFact-dev pooled, its threshold chosen there by
the gate's objective, then reported per corpus and split (the demo is never fitted on).

    python -m bench.quality.gate_model [--gate bench/results/gate.json]

Each question gives two examples: its retrieval with the evidence (label 1, when it has judged evidence) and with
the judged documents dropped (label 0). Abstaining = the model's probability under the threshold.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.quality.datasets import halves
from bench.quality.gate import wilson
from bench.report import report

SETS = {"coverage": ("coverage",), "coverage + dense": ("coverage", "dense_top", "dense_margin"),
        "all signals": ("coverage", "dense_top", "dense_margin", "bm25_margin", "agree")}
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.05), 2)
FITTED_ON = ("halueval", "scifact-dev")


def examples(rows: list[dict], names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    x, y = [], []
    for row in rows:
        for condition, label in (("present", 1), ("removed", 0)):
            if condition == "present" and not row["answerable"]:
                continue
            x.append([row["signals"][condition][n] for n in names])
            y.append(label)
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float)


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(mean, scale, weights with the bias last) of an L2-regularised logistic regression, by gradient descent on
    standardised features."""
    mean, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        w -= 0.5 * (z.T @ (p - y) / len(y) + l2 * np.append(w[:-1], 0))
    return mean, scale, w


def probability(model, x: np.ndarray) -> np.ndarray:
    mean, scale, w = model
    return 1 / (1 + np.exp(-(np.hstack([(x - mean) / scale, np.ones((len(x), 1))]) @ w)))


def rates(model, rows: list[dict], names: tuple[str, ...], threshold: float) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    present = probability(model, np.asarray([[r["signals"]["present"][n] for n in names] for r in answerable]))
    removed = probability(model, np.asarray([[r["signals"]["removed"][n] for n in names] for r in rows]))
    kept_out, gone = int((present < threshold).sum()), int((removed < threshold).sum())
    return {"answerable_abstained": round(kept_out / len(answerable), 3), "answerable_ci": str(wilson(kept_out,
            len(answerable))), "removed_abstained": round(gone / len(rows), 3),
            "removed_ci": str(wilson(gone, len(rows))), "n": len(rows)}


def miss(answerable: float, removed: float) -> float:
    """The gate's objective (``bench.quality.gate.choose``): refusing a good answer weighs three times."""
    return 3 * max(answerable - 0.05, 0) + max(0.9 - removed, 0)


def choose(model, names: tuple[str, ...], dev_halves: list[list[dict]]) -> float:
    """The threshold whose worst dev half is closest to the targets."""
    def worst(threshold: float) -> float:
        return max(miss(r["answerable_abstained"], r["removed_abstained"])
                   for r in (rates(model, rows, names, threshold) for rows in dev_halves))
    return float(min(THRESHOLDS, key=worst))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gate", type=Path, default=Path("bench/results/gate.json"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/gate-model.json"))
    args = parser.parse_args()
    signals = json.loads(args.gate.read_text())["signals"]
    splits = {name: halves(rows) for name, rows in signals.items()}
    fitted = [name for name in FITTED_ON if name in splits]
    table, models = [], {}
    for label, names in SETS.items():
        x, y = map(np.concatenate, zip(*(examples(splits[c]["dev"], names) for c in fitted), strict=True))
        model = fit(x, y)
        threshold = choose(model, names, [splits[c]["dev"] for c in fitted])
        models[label] = {"features": names, "mean": model[0].tolist(), "scale": model[1].tolist(),
                         "weights": model[2].tolist(), "threshold": float(threshold)}
        for corpus, parts in splits.items():
            for part, rows in parts.items():
                if corpus == "demo" and part == "held-out":
                    continue
                table.append({"signals": label, "threshold": float(threshold), "corpus": corpus,
                              "split": "all (never fitted)" if corpus == "demo" else part,
                              **rates(model, rows if corpus != "demo" else signals[corpus], names, threshold)})
    report("relevance gate: logistic over signals, fitted and thresholded on the dev halves", table, None)
    args.out.write_text(json.dumps({"fitted_on": fitted, "models": models, "rows": table}, indent=1) + "\n")


if __name__ == "__main__":
    main()
