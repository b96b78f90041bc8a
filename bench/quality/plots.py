"""PNG figures of a quality run: the quality/latency frontier and the answer metrics side by side."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only: no display on servers and CI
import matplotlib.pyplot as plt  # noqa: E402


def frontier(points: list[tuple[str, float, float]]) -> list[str]:
    """Names of the (name, latency, quality) points no other point beats on both (faster and at least as good)."""
    return [name for name, ms, q in points
            if not any(o_ms <= ms and o_q >= q and (o_ms, o_q) != (ms, q) for _, o_ms, o_q in points)]


def plot_frontier(rows: list[dict], path: Path) -> None:
    points = [(r["config"], r["p50_ms"], r["ndcg@10"]) for r in rows]
    best = set(frontier(points))
    fig, ax = plt.subplots(figsize=(9, 5.5))
    for name, ms, quality in points:
        on, peer = name in best, name.startswith("peer")
        ax.scatter(ms, quality, s=60 if on else 30, color="tab:red" if peer else "tab:blue" if on else "tab:gray",
                   zorder=3)
        if on or peer or name == "shipped defaults":  # the rest are in the table; labels would pile up
            ax.annotate(name, (ms, quality), textcoords="offset points", xytext=(5, 4), fontsize=7)
    line = sorted((ms, q) for name, ms, q in points if name in best)
    ax.plot([p[0] for p in line], [p[1] for p in line], color="tab:blue", lw=1, zorder=2)
    ax.set_xscale("log")
    ax.set(xlabel="p50 latency per /v1/retrieve request, ms (log)", ylabel="nDCG@10",
           title="Retrieval quality vs latency (blue: frontier, red: llama-index peer)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_answers(rows: list[dict], path: Path) -> None:
    metrics = [("answer_contains_gold", "contains gold"), ("answer_hallucinated", "hallucinated answer"),
               ("answer_citation_correct", "cites the right doc"), ("removed_abstained", "abstains, evidence removed")]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(rows)
    for n, row in enumerate(rows):
        ax.bar([i + n * width for i in range(len(metrics))], [row[key] for key, _ in metrics], width,
               label=row["system"])
    ax.set_xticks([i + width * (len(rows) - 1) / 2 for i in range(len(metrics))], [label for _, label in metrics])
    ax.set(ylim=(0, 1), ylabel="share of questions", title="Answers through the chat endpoint")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
