"""Fencing: a worker that may have lost its partitions stops writing before the next write phase.

A worker paused longer than the session timeout (SIGSTOP, a long GC pause, a hung host) has been removed from the
group and its partitions given to another worker, which replays them from the last commit. When it resumes it must
not go on as if nothing happened, and it cannot count on the broker to tell it in time: its heartbeat thread may
get an answer before its main thread writes, and a lax broker may even accept that heartbeat. So the worker keeps
its own evidence: a watchdog thread notes every gap in this process's execution, and a gap longer than the trusted
share of the session timeout since the last partition assignment means the membership is void. ``check`` runs before
every write phase; a fenced batch is abandoned (nothing committed), the documents it touched are repaired
(``IndexStore.repair``), and the consumer rejoins the group for a fresh assignment.

What remains: a write already sent when the pause began lands when it ends. Milvus has no conditional writes, so
such a write is made harmless instead: repair removes chunks older than the registry's version, deletes never remove
newer versions, and a registry state is a row of its own keyed by its log mark, of which a read takes the one that
covers the most of the log, so a late state loses to the new owner's (``IndexStore.record_states``). The registry
write also re-reads the registry first and plans the batch again when a document moved on.
"""

from __future__ import annotations

import threading
import time

from kafka import ConsumerRebalanceListener

from ragstream.workers.failures import Fenced

TRUST = 0.8  # of the session timeout: stop trusting the membership a little before the broker gives up on it
TICK_S = 0.1


class Fence:
    def __init__(self, consumer, session_timeout_ms: int) -> None:
        self._coordinator = consumer._coordinator  # kafka-python keeps the group state here (no public accessor)
        self._limit_s = session_timeout_ms / 1000 * TRUST
        self._longest_gap_s = 0.0
        self._last_tick = time.monotonic()
        self._closed = threading.Event()
        threading.Thread(target=self._watch, name="fence-watchdog", daemon=True).start()

    def _watch(self) -> None:
        while not self._closed.wait(TICK_S):
            now = time.monotonic()
            self._longest_gap_s = max(self._longest_gap_s, now - self._last_tick)
            self._last_tick = now

    def assigned(self) -> None:
        """A fresh assignment: whatever paused this process before it no longer matters."""
        self._longest_gap_s = 0.0
        self._last_tick = time.monotonic()

    def check(self) -> None:
        # also the gap still open: just after a thaw the watchdog may not have ticked yet
        gap = max(self._longest_gap_s, time.monotonic() - self._last_tick)
        if gap > self._limit_s:
            self._coordinator.request_rejoin()
            raise Fenced(f"this process stood still for {gap:.1f} s since its partitions were "
                         "assigned: it may have lost its partitions; rejoining the group")
        heartbeat = self._coordinator.heartbeat
        silent = time.monotonic() - max(heartbeat.last_receive, heartbeat.last_reset)
        if silent > self._limit_s:
            raise Fenced(f"no heartbeat answered for {silent:.1f} s: this worker may have lost its partitions")
        if self._coordinator.generation_if_stable() is None or self._coordinator.rejoin_needed:
            raise Fenced("the consumer group is rebalancing: this worker may have lost its partitions")

    def close(self) -> None:
        self._closed.set()


class JoinedListener(ConsumerRebalanceListener):
    """Signals the first completed group join (even with no partitions assigned), and every assignment to the
    fence."""

    def __init__(self, joined: threading.Event) -> None:
        self.joined = joined
        self.fence: Fence | None = None

    def on_partitions_revoked(self, revoked) -> None:
        pass

    def on_partitions_assigned(self, assigned) -> None:
        if self.fence is not None:
            self.fence.assigned()
        self.joined.set()
