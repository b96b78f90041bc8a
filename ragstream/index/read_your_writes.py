"""Read-your-writes: wait (bounded) until the index holds at least the document versions a caller names.

A caller that just produced version N of a document names it; the query runs once the registry shows that
document at version ≥ N (indexed, or deleted at ≥ N, which is also "that write is visible"), or reports which
ones are still missing when the deadline passes.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from ragstream.index.records import doc_key
from ragstream.index.store import IndexStore
from schemas.openai import MinVersion


def missing_versions(store: IndexStore, tenant: str, wanted: Sequence[MinVersion]) -> list[MinVersion]:
    if not store.client.has_collection(store.registry):  # a fresh index: its first document creates it
        return list(wanted)
    states = store.doc_states(doc_key(tenant, w.doc_id) for w in wanted)
    return [w for w in wanted
            if (state := states.get(doc_key(tenant, w.doc_id))) is None or state.version < w.version]


async def wait_for_versions(store: IndexStore, tenant: str, wanted: Sequence[MinVersion], timeout_s: float,
                            poll_s: float = 0.02) -> list[MinVersion]:
    """Returns what is still missing: empty once everything named is visible."""
    deadline = time.monotonic() + timeout_s
    while True:
        missing = await asyncio.to_thread(missing_versions, store, tenant, wanted) if wanted else []
        if not missing or time.monotonic() >= deadline:
            return missing
        wanted = missing
        await asyncio.sleep(min(poll_s, max(deadline - time.monotonic(), 0)))
