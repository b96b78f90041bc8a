"""Read-your-writes: wait (bounded) until the index holds at least the writes a caller names.

A caller names version N of a document (or, for a server-ordered write, the log offset it was accepted at). The
query runs once the registry shows that document at version ≥ N (indexed, or deleted at ≥ N, which is also "that
write is visible") or past that offset. A write the worker ignored as stale (older than the version it found)
will never be visible: that is reported at once, with the newer version, instead of waiting for the deadline.
Polls back off, so a waiting caller costs the registry little.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from ragstream.core.index.records import DocState, doc_key
from ragstream.core.index.store import IndexStore
from ragstream.schemas.openai import MinVersion

FIRST_POLL_S, LAST_POLL_S = 0.02, 0.5


@dataclass(frozen=True)
class Stale:
    wanted: MinVersion
    indexed_version: int

    def __str__(self) -> str:
        return f"{self.wanted} was ignored as stale: the index holds version {self.indexed_version}"


@dataclass
class Waited:
    missing: list[MinVersion] = field(default_factory=list)
    stale: list[Stale] = field(default_factory=list)


def _judge(wanted: MinVersion, state: DocState | None, out: Waited) -> None:
    if state is None:
        out.missing.append(wanted)
    elif wanted.version is not None:
        if state.version < wanted.version:
            out.missing.append(wanted)
        elif state.ignored_version == wanted.version and state.version > wanted.version:
            out.stale.append(Stale(wanted, state.version))
    elif state.source_offset < wanted.offset:
        out.missing.append(wanted)
    elif state.ignored_offset == wanted.offset:
        out.stale.append(Stale(wanted, state.version))


def check_versions(store: IndexStore, tenant: str, wanted: Sequence[MinVersion]) -> Waited:
    out = Waited()
    if not store.client.has_collection(store.registry):  # a fresh index: its first document creates it
        out.missing = list(wanted)
        return out
    states = store.doc_states(doc_key(tenant, w.doc_id) for w in wanted)
    for item in wanted:
        _judge(item, states.get(doc_key(tenant, item.doc_id)), out)
    return out


async def wait_for_versions(store: IndexStore, tenant: str, wanted: Sequence[MinVersion],
                            timeout_s: float) -> Waited:
    """What is still missing at the deadline (empty once everything named is visible), or what was stale."""
    deadline, poll_s = time.monotonic() + timeout_s, FIRST_POLL_S
    while True:
        waited = await asyncio.to_thread(check_versions, store, tenant, wanted) if wanted else Waited()
        if waited.stale or not waited.missing or time.monotonic() >= deadline:
            return waited
        wanted = waited.missing
        await asyncio.sleep(min(poll_s, max(deadline - time.monotonic(), 0)))
        poll_s = min(poll_s * 2, LAST_POLL_S)
