"""Fencing: a worker that may have lost its partitions stops writing before the next write phase.

A worker paused longer than the session timeout (SIGSTOP, a long GC pause, a hung call) has been removed from the
group and its partitions given to another worker, which replays them from the last commit. When it resumes, its
heartbeat thread has not yet heard so, but the client's own clock has: no heartbeat answered within the session
timeout means the membership can no longer be trusted. ``check`` is called before every write phase; a fenced
batch is abandoned (nothing committed) and the documents it touched are repaired (``IndexStore.repair``).

What remains: a write already sent when the pause began lands when it ends. Milvus has no conditional writes, so
such a chunk write is made harmless afterwards (repair removes chunks older than the registry's version; deletes
never remove newer versions), and the registry write re-reads the registry first and skips documents that moved on.
"""

from __future__ import annotations

import time

from workers.failures import Fenced

TRUST = 0.8  # of the session timeout: stop trusting the membership a little before the broker gives up on it


class Fence:
    def __init__(self, consumer, session_timeout_ms: int) -> None:
        self._coordinator = consumer._coordinator  # kafka-python keeps the group state here (no public accessor)
        self._limit_s = session_timeout_ms / 1000 * TRUST

    def check(self) -> None:
        heartbeat = self._coordinator.heartbeat
        silent = time.monotonic() - max(heartbeat.last_receive, heartbeat.last_reset)
        if silent > self._limit_s:
            raise Fenced(f"no heartbeat answered for {silent:.1f} s: this worker may have lost its partitions")
        if self._coordinator.generation_if_stable() is None or self._coordinator.rejoin_needed:
            raise Fenced("the consumer group is rebalancing: this worker may have lost its partitions")
