"""A reader that checks every read against the reads before it, shared by the pause test and the history checker.

A read is what ``GET /v1/documents`` and ``/v1/retrieve`` read: the registry, then the tenant's chunks as a search
returns them (``IndexStore.current`` over the raw collection, one query each: Milvus Lite's paging iterator cannot
pin a snapshot). Given the API, every other read goes through it instead: ``GET /v1/documents/{id}`` of a few
documents, then one ``/v1/retrieve`` over the tenant's words; both kinds share what they have seen. A violation is a
document whose version goes down, or a chunk older than a version the registry already reported. Stale rows of the
raw collection are only counted (``raw_stale``): a fenced worker's late write lands before repair removes it (and
Milvus Lite's own read paths, ``--search milvus-lite``, show deleted rows to a read that races a flush). (A
document may legitimately show no chunk for a moment: a delete removes its chunks before it records the tombstone.)
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from ragstream.core.index.store import IndexStore
from ragstream.core.settings import Settings

WORDS = "river ledger kafka index ocean garden"  # every text the history writes is made of these


@dataclass(frozen=True)
class Api:
    """The HTTP API under test and a key of the tenant the history writes."""

    url: str
    key: str

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)


class MonotonicReader:
    def __init__(self, settings: Settings, tenant: str, docs: list[str], pause_s: tuple[float, float] = (0.05, 0.05),
                 seed: int = 5, api: Api | None = None) -> None:
        import random

        self.http = api.client() if api else None
        self.statuses: Counter = Counter()  # HTTP status (or the error) → count, for the API's reads
        self.failed = 0  # reads that raised (Milvus or the API unreachable): not observations
        self.store = IndexStore(settings.milvus, settings.models.embedder.dimension)
        self.tenant = tenant
        self.keys = [f"{tenant}/{doc}" for doc in docs]
        self.docs = docs
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
        self._check({doc: states[key].version if key in states else None for doc, key in zip(self.docs, self.keys)},
                    shown)
        self.raw_stale += sum(row["version"] < self.floor.get(row["doc_id"], -1) for row in raws[0])

    def read_api(self) -> None:
        """A few documents' status, then a search, over HTTP; an answer other than 200 or 404 (not indexed) is
        counted, not checked."""
        versions: dict[str, int | None] = {}
        for doc in self.rng.sample(self.docs, min(4, len(self.docs))):
            response = self.http.get(f"/v1/documents/{doc}")
            self.statuses[response.status_code] += 1
            if response.status_code not in (200, 404):
                raise RuntimeError(f"GET /v1/documents/{doc}: {response.status_code}")
            versions[doc] = response.json()["version"] if response.status_code == 200 else None
        response = self.http.post("/v1/retrieve", json={"query": WORDS, "mode": "bm25", "top_k": 100})
        self.statuses[response.status_code] += 1
        if response.status_code != 200:
            raise RuntimeError(f"/v1/retrieve: {response.status_code}")
        self._check(versions, response.json()["passages"])

    def _check(self, versions: dict[str, int | None], chunks: list[dict]) -> None:
        """``versions``: doc → the registry's version (None: no row; a delete leaves a tombstone, so a document
        once read never loses its row); ``chunks``: rows or passages with doc_id and version."""
        for doc, version in versions.items():
            if version is None:
                if doc in self.floor:
                    self.violations.append(f"{doc}: no version read after {self.floor[doc]}")
                continue
            if version < self.floor.get(doc, -1):
                self.violations.append(f"{doc}: version {version} read after {self.floor[doc]}")
            self.floor[doc] = max(self.floor.get(doc, -1), version)
        for row in chunks:
            floor = self.floor.get(row["doc_id"])
            if floor is not None and row["version"] < floor:
                self.violations.append(f"{row['doc_id']}: a chunk of version {row['version']} read after "
                                       f"version {floor}")
        self.reads += 1

    def _run(self) -> None:
        through_api = False
        while not self._stop.is_set():
            through_api = bool(self.http) and not through_api
            try:
                self.read_api() if through_api else self.read()
            except Exception as error:  # a read that failed is not an observation (Milvus busy or restarting)
                self.failed += 1
                if isinstance(error, httpx.HTTPError):
                    self.statuses[type(error).__name__] += 1
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
        if self.http:
            self.http.close()
