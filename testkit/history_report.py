"""What a history run found: its operation counts, faults, violations of monotonic reads and the end state."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class Report:
    writes: int = 0
    api_writes: int = 0  # of the writes, those the API accepted
    reads: int = 0
    failed_reads: int = 0  # reads that raised (a component restarting): not observations
    api_reads: dict[int | str, int] = field(default_factory=dict)  # HTTP status (or error) → answers to the reader
    faults: Counter = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    lost: int = 0
    stale: int = 0
    wrong_text: int = 0
    duplicated: int = 0
    raw_stale: int = 0  # chunks older than the registry in the raw collection: what reads must not show
    mismatched: list[str] = field(default_factory=list)  # a few chunk ids lost or stale at the end, to look into
    # documents whose newest chunk version in the raw collection went back across a Milvus restart, while an older
    # one is still there (no delete does that: it removes every version up to its own)
    rolled_back: list[str] = field(default_factory=list)
    registry_behind: int = 0  # documents whose final registry version differs from the log applied in order

    def row(self) -> dict:
        return {"writes": self.writes, "api_writes": self.api_writes, "reads": self.reads,
                "failed_reads": self.failed_reads, "api_reads": dict(self.api_reads), "faults": dict(self.faults),
                "violations": len(self.violations), "lost": self.lost, "stale": self.stale,
                "wrong_text": self.wrong_text, "duplicated": self.duplicated, "raw_stale": self.raw_stale,
                "rolled_back": len(self.rolled_back), "registry_behind": self.registry_behind}
