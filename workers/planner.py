"""Decides, per document, which event of a batch changes the index and what every other event's outcome is.

Pure: it sees the decoded events (in log order) and the registry's current states, and touches nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Literal

from ragstream.index.records import DocState
from schemas.events import DocumentEvent
from schemas.outcomes import Outcome
from workers.chunking import content_hash


@dataclass(frozen=True)
class Action:
    position: int  # index of the event in the batch
    event: DocumentEvent
    kind: Literal["upsert", "delete"]
    content_hash: str


@dataclass
class BatchPlan:
    actions: list[Action] = field(default_factory=list)
    # position → (outcome, reason) for events that change nothing
    settled: dict[int, tuple[Outcome, str]] = field(default_factory=dict)


def _is_applied(event: DocumentEvent, digest: str, state: DocState | None) -> bool:
    if state is None or state.version != event.version:
        return False
    if event.op == "delete":
        return state.state == "deleted"
    return state.state == "indexed" and state.content_hash == digest


def plan_batch(events: list[tuple[int, DocumentEvent]], states: dict[str, DocState]) -> BatchPlan:
    by_doc: dict[str, list[tuple[int, DocumentEvent]]] = defaultdict(list)
    for position, event in events:
        by_doc[event.key].append((position, event))

    plan = BatchPlan()
    for key, doc_events in by_doc.items():
        state = states.get(key)
        indexed_version = state.version if state else -1
        # The highest version wins; among equal versions the later record does (last write wins).
        win_pos, winner = max(doc_events, key=lambda item: (item[1].version, item[0]))
        for position, event in doc_events:
            if position == win_pos:
                continue
            if event.version < indexed_version:
                plan.settled[position] = (Outcome.IGNORED_STALE,
                                          f"version {event.version} is older than indexed version {indexed_version}")
            else:
                plan.settled[position] = (Outcome.SUPERSEDED,
                                          f"version {winner.version} of the document came in the same batch")
        digest = content_hash(winner)
        if winner.version < indexed_version:
            plan.settled[win_pos] = (Outcome.IGNORED_STALE,
                                     f"version {winner.version} is older than indexed version {indexed_version}")
        elif _is_applied(winner, digest, state):
            plan.settled[win_pos] = (Outcome.DUPLICATE, f"version {winner.version} is already applied")
        else:
            plan.actions.append(Action(win_pos, winner, winner.op, digest))
    return plan
