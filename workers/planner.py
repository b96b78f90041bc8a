"""Decides, per document, which event of a batch changes the index and what every other event's outcome is.

Pure: it sees the decoded events (in log order), where each record sits in the log, and the registry's current
states, and touches nothing. Events of one document are folded in log order, which is the order the broker accepted
them in:

- an explicit version older than the current one is ignored as stale; an equal version with the same content is a
  duplicate, with other content it is applied (the later write wins);
- an event without a version is *server-ordered*: it is applied at one more than the current version, so it comes
  after everything accepted before it, whatever the producers' clocks;
- a record at or before the log position the registry already holds for the document is a replay and changes
  nothing (that is what keeps server-ordered versions exact when a batch or the whole topic is replayed). A
  position counts only with a timestamp no newer than the newest the registry saw, so a topic deleted and created
  again, whose offsets start over, is not mistaken for a replay.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from ragstream.core.index.records import DocState, LogMark
from ragstream.schemas.events import DocumentEvent
from ragstream.schemas.outcomes import Outcome
from ragstream.workers.chunking import content_hash


@dataclass(frozen=True)
class Action:
    position: int  # index of the event in the batch
    event: DocumentEvent  # its version resolved
    kind: Literal["upsert", "delete"]
    content_hash: str


@dataclass
class BatchPlan:
    actions: list[Action] = field(default_factory=list)
    # position → (outcome, reason) for events that change nothing
    settled: dict[int, tuple[Outcome, str]] = field(default_factory=dict)
    # document key → where its log now stands, for the registry (also for documents no event of which applied)
    marks: dict[str, LogMark] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)  # position → resolved version


@dataclass
class _Current:
    version: int
    state: Literal["indexed", "deleted"]
    content_hash: str


def _replayed(source: LogMark | None, state: DocState | None) -> bool:
    return (source is not None and state is not None and state.source_partition == source.partition
            and source.offset <= state.source_offset and source.timestamp_ms <= state.source_max_ts)


def plan_batch(events: list[tuple[int, DocumentEvent]], states: dict[str, DocState],
               sources: dict[int, LogMark] | None = None) -> BatchPlan:
    sources = sources or {}
    by_doc: dict[str, list[tuple[int, DocumentEvent]]] = defaultdict(list)
    for position, event in events:
        by_doc[event.key].append((position, event))

    plan = BatchPlan()
    for key, doc_events in by_doc.items():
        state = states.get(key)
        current = _Current(state.version, state.state, state.content_hash) if state else None
        mark = state.mark() if state else None
        winner: Action | None = None
        for position, event in doc_events:
            source = sources.get(position)
            if _replayed(source, state):
                plan.settled[position] = (Outcome.DUPLICATE, f"offset {source.offset} was applied before (the "
                                          f"registry is at offset {state.source_offset})")
                continue
            mark = source.after(mark) if source else mark
            version = event.version if event.version is not None else (current.version + 1 if current else 1)
            plan.versions[position] = version
            if current and version < current.version:
                plan.settled[position] = (Outcome.IGNORED_STALE,
                                          f"version {version} is older than indexed version {current.version}")
                mark = mark.ignoring(version, source) if mark and source else mark
                continue
            resolved = event if event.version is not None else event.model_copy(update={"version": version})
            digest = content_hash(resolved)
            kind = "deleted" if event.op == "delete" else "indexed"
            if current and current.version == version and current.state == kind and \
                    (kind == "deleted" or current.content_hash == digest):
                plan.settled[position] = (Outcome.DUPLICATE, f"version {version} is already applied")
                continue
            if winner is not None:
                plan.settled[winner.position] = (Outcome.SUPERSEDED,
                                                 f"version {version} of the document came later in the same batch")
            winner = Action(position, resolved, event.op, digest)
            current = _Current(version, kind, digest)
        if winner is not None:
            plan.actions.append(winner)
        if mark is not None:
            plan.marks[key] = mark
    return plan
