"""What one ingest loop has done, and per partition whether it is flowing or held back and why: what
``ragstream status`` and the worker's metrics show an operator."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field


@dataclass
class LoopStats:
    outcomes: Counter = field(default_factory=Counter)
    batches: int = 0
    records: int = 0
    retries: int = 0
    commit_failures: int = 0
    last_error: str | None = None
    assigned: list[str] = field(default_factory=list)
    # "topic:partition" → last progress (unix s), retries since then, the failure holding it back (None = none)
    partitions: dict[str, dict] = field(default_factory=dict)

    def progressed(self, names: list[str]) -> None:
        for name in names:
            self.partitions[name] = {"last_progress_s": time.time(), "retries": 0, "failure": None}

    def failed(self, names: list[str], reason: str) -> None:
        for name in names:
            entry = self.partitions.setdefault(name, {"last_progress_s": None, "retries": 0, "failure": None})
            entry["retries"] += 1
            entry["failure"] = reason

    def snapshot(self) -> dict:
        return {"outcomes": dict(self.outcomes), "batches": self.batches, "records": self.records,
                "retries": self.retries, "commit_failures": self.commit_failures, "last_error": self.last_error,
                "assigned": list(self.assigned), "partitions": {k: dict(v) for k, v in self.partitions.items()}}
