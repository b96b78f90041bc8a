"""A reader that checks every read against the reads before it, shared by the pause test and the history checker.

A read is what ``GET /v1/documents`` and ``/v1/retrieve`` read: the registry, then the tenant's chunks as a search
returns them (``IndexStore.current`` over the raw collection, one query each: Milvus Lite's paging iterator cannot
pin a snapshot). A violation is a document whose version goes down, or a chunk older than a version the registry
already reported. Stale rows of the raw collection are only counted (``raw_stale``): Milvus Lite shows deleted rows
while a flush runs, and a fenced worker's late write lands before repair removes it. (A document may legitimately
show no chunk for a moment: a delete removes its chunks before it records the tombstone.)
"""

from __future__ import annotations

import threading
import time

from ragstream.index.store import IndexStore
from ragstream.settings import Settings


class MonotonicReader:
    def __init__(self, settings: Settings, tenant: str, docs: list[str], pause_s: tuple[float, float] = (0.05, 0.05),
                 seed: int = 5) -> None:
        import random

        self.store = IndexStore(settings.milvus, settings.models.embedder.dimension)
        self.tenant = tenant
        self.keys = [f"{tenant}/{doc}" for doc in docs]
        self.pause_s = pause_s
        self.rng = random.Random(seed)
        self.floor: dict[str, int] = {}  # doc → newest version the registry reported
        self.violations: list[str] = []
        self.reads = 0
        self.raw_stale = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def read(self) -> None:
        store = self.store
        states = store.doc_states(self.keys) if store.client.has_collection(store.registry) else {}
        exists = store.client.has_collection(store.chunks)
        raws: list[list[dict]] = []

        def fetch() -> list[dict]:
            raws.append(store.client.query(store.chunks, filter=f'tenant == "{self.tenant}"', limit=16_384,
                                           output_fields=["doc_id", "version", "chunk_no"]) if exists else [])
            return raws[-1]

        shown = store.current(self.tenant, fetch)
        for key, state in states.items():
            doc = key.split("/", 1)[1]
            if state.version < self.floor.get(doc, -1):
                self.violations.append(f"{doc}: version {state.version} read after {self.floor[doc]}")
            self.floor[doc] = max(self.floor.get(doc, -1), state.version)
        for row in shown:
            floor = self.floor.get(row["doc_id"])
            if floor is not None and row["version"] < floor:
                self.violations.append(f"{row['doc_id']}: a chunk of version {row['version']} read after "
                                       f"version {floor}")
        self.raw_stale += sum(row["version"] < self.floor.get(row["doc_id"], -1) for row in raws[0])
        self.reads += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.read()
            except Exception:  # a read that failed is not an observation (Milvus busy or restarting)
                time.sleep(0.2)
                try:
                    self.store.reload()
                except Exception:
                    pass
                continue
            self._stop.wait(self.rng.uniform(*self.pause_s))

    def __enter__(self) -> MonotonicReader:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.thread.join(30)
        self.store.close()
