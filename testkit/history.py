"""A history checker in the style of Jepsen's: concurrent writers, a nemesis that kills and freezes workers, and a
reader that checks every read against the reads before it; at the end the index must equal the sequential
application of the log. Shared by the short form in the tests and the long form in ``bench/history.py``.

Writers send explicit versions (newer, equal, older), deletes and server-ordered (versionless) writes of a few
documents from several threads, so one document's writes race and the broker decides their order. Given the API,
every other writer posts through ``/v1/documents`` instead of producing to Kafka, and every other read goes through
``GET /v1/documents/{id}`` and ``/v1/retrieve``; the reader checks every read (``testkit/monotonic.py``).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import nullcontext

import ray

from ragstream.core.index.store import IndexStore
from ragstream.core.producer import DocumentProducer
from ragstream.core.settings import Settings
from ragstream.core.topic_reader import TopicReader
from ragstream.schemas.events import DocumentEvent
from ragstream.workers.actor import WorkerPool
from ragstream.workers.chunking import Chunker
from ragstream.workers.codec import decode
from ragstream.workers.planner import plan_batch
from testkit.api import Refused
from testkit.history_report import Report
from testkit.monotonic import WORDS, Api, MonotonicReader


class History:
    def __init__(self, settings: Settings, seed: int, docs: int = 12, writers: int = 3,
                 restarts: dict[str, tuple[Callable[[], object], Callable[[], object]]] | None = None,
                 api: Api | None = None) -> None:
        """``restarts``: name → (kill, start) of a component the nemesis may crash and bring back; ``api``: the API
        over ``settings``' topics and collections, for the tenant ``acme``."""
        self.settings = settings
        self.api = api
        self.restarts = restarts or {}
        self.rng = random.Random(seed)
        self.docs = [f"h-{n}" for n in range(docs)]
        self.writers = writers
        self.report = Report()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._acknowledged: set[tuple[int, int]] = set()  # (partition, offset) of every write the log acknowledged

    # -- writers -------------------------------------------------------------------------------------------------

    def _write(self, seed: int, until: float, api: Api | None) -> None:
        rng = random.Random(seed)
        with DocumentProducer(self.settings.kafka) as producer, (api.client() if api else nullcontext()) as http:
            while time.monotonic() < until:
                doc = rng.choice(self.docs)
                version = rng.choice([None, None, rng.randint(1, 40)])  # a third explicit, from stale to new
                if rng.random() < 0.2:
                    event = DocumentEvent(op="delete", tenant="acme", doc_id=doc, version=version)
                else:
                    text = f"{doc} says {rng.randint(0, 10**9)}. " + " ".join(
                        rng.choice(WORDS.split()) for _ in range(rng.randint(5, 60)))
                    event = DocumentEvent(op="upsert", tenant="acme", doc_id=doc, version=version, text=text)
                try:
                    if http:
                        position = self._post(http, event)
                    else:
                        sent = producer.send(event).get(30)
                        position = (sent.partition, sent.offset)
                except Refused as error:  # the API answered, and not with 202
                    with self._lock:
                        self.report.faults[f"unacknowledged write (HTTP {error.status})"] += 1
                    continue
                except Exception:  # the broker is being restarted: unacknowledged, maybe in the log
                    with self._lock:
                        self.report.faults["unacknowledged write"] += 1
                    continue
                with self._lock:
                    self.report.writes += 1
                    self.report.api_writes += bool(http)
                    self._acknowledged.add(position)
                time.sleep(rng.uniform(0.0, 0.05))

    @staticmethod
    def _post(http, event: DocumentEvent) -> tuple[int, int]:
        """Where the API put the event in the log."""
        if event.op == "delete":
            params = {} if event.version is None else {"version": event.version}
            response = http.delete(f"/v1/documents/{event.doc_id}", params=params)
        else:
            response = http.post("/v1/documents", json={"doc_id": event.doc_id, "version": event.version,
                                                        "text": event.text})
        if response.status_code != 202:
            raise Refused(response.status_code, response.text[:200])
        accepted = response.json()
        return accepted["partition"], accepted["offset"]

    # -- nemesis -------------------------------------------------------------------------------------------------

    def _faults(self) -> Iterator[str]:
        """Every kind once per round, in a seeded random order: a short run still sees each kind."""
        kinds = ["SIGKILL", "SIGSTOP", *self.restarts]
        while True:
            self.rng.shuffle(kinds)
            yield from kinds

    def _nemesis(self, pool: WorkerPool, until: float, pause_s: float) -> None:
        faults, fault = self._faults(), None
        while time.monotonic() < until - pause_s:
            self._stop.wait(self.rng.uniform(2, 6))
            fault = fault or next(faults)  # a fault that found no actor to hit is tried again
            if fault in self.restarts:
                kill, start = self.restarts[fault]
                before = self._newest_chunks() if fault == "milvus" else {}
                kill()
                self._stop.wait(2)
                start()
                self.report.faults[f"{fault} restart"] += 1
                if fault == "milvus":
                    after, n = self._newest_chunks(), self.report.faults[f"{fault} restart"]
                    self.report.rolled_back += [f"{doc}: {before[doc]} -> {after[doc]} at Milvus restart {n}"
                                                for doc in sorted(before) if doc in after and after[doc] < before[doc]]
                fault = None
                continue
            actor = self.rng.choice(pool.actors)
            try:
                pid = ray.get(actor.stats.remote(), timeout=30)["pid"]
            except Exception:
                continue
            if fault == "SIGKILL":
                os.kill(pid, signal.SIGKILL)  # Ray restarts the actor; it resumes from the group's commit
                self.report.faults["SIGKILL"] += 1
            else:
                os.kill(pid, signal.SIGSTOP)  # past the session timeout: its partitions move, then it wakes up
                self._stop.wait(pause_s)
                os.kill(pid, signal.SIGCONT)
                self.report.faults["SIGSTOP"] += 1
            fault = None

    # -- the run -------------------------------------------------------------------------------------------------

    def run(self, seconds: float, workers: int = 2) -> Report:
        settings = self.settings.model_copy(update={
            "worker": self.settings.worker.model_copy(update={"replicas": workers})})
        pool = WorkerPool(settings).start()
        until = time.monotonic() + seconds
        pause_s = settings.kafka.session_timeout_ms / 1000 * 1.5
        threads = [threading.Thread(target=self._write, args=(self.rng.randint(0, 2**31), until,
                                                              self.api if n % 2 else None))
                   for n in range(self.writers)]
        threads.append(threading.Thread(target=self._nemesis, args=(pool, until, pause_s)))
        reader = MonotonicReader(self.settings, "acme", self.docs, api=self.api)
        try:
            with reader:
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                self._settle(pool)
        finally:
            self._stop.set()
            pool.stop()
        self.report.reads, self.report.raw_stale = reader.reads, reader.raw_stale
        self.report.api_reads, self.report.failed_reads = dict(reader.statuses), reader.failed
        self.report.violations = reader.violations
        self.compare()
        return self.report

    def _newest_chunks(self) -> dict[str, int]:
        """Document → the newest version of its chunks in the raw collection (waits for Milvus to answer)."""
        for _ in range(60):
            store = IndexStore(self.settings.milvus, self.settings.models.embedder.dimension)
            try:
                store.reload()  # just restarted: every collection is released
                newest: dict[str, int] = {}
                for row in store.chunk_rows(("doc_id", "version")):
                    newest[row["doc_id"]] = max(row["version"], newest.get(row["doc_id"], -1))
                return newest
            except Exception:
                time.sleep(0.5)
            finally:
                store.close()
        return {}

    def _explain(self, docs: list[str], log: list) -> list[str]:
        """For a few mismatched documents: their registry rows, their last records and the outcomes of those."""
        store = IndexStore(self.settings.milvus, self.settings.models.embedder.dimension)
        try:
            rows = store.client.query(store.registry, filter=f"key in {json.dumps([f'acme/{d}' for d in docs])}",
                                      output_fields=["id", "version", "state", "source_offset", "source_max_ts"])
        finally:
            store.close()
        with TopicReader(self.settings.kafka, self.settings.kafka.index_events_topic) as outcomes:
            events = [json.loads(r.value) for r in outcomes.read_until_quiet()]
        lines = [f"registry row {row}" for row in rows]
        for doc in docs:
            records = [r for r in log if r.key == f"acme/{doc}".encode()][-3:]
            lines += [f"record {doc} p{r.partition} o{r.offset} ts{r.timestamp}" for r in records]
            mine = [e for e in events if e.get("doc_id") == doc]
            lines += [f"outcome {doc} o{e['source_offset']} {e['outcome']} v{e['version']} {e['indexed_time']} "
                      f"{e['reason']}" for e in mine[-4:]]
            lines += [f"outcomes of {doc}: {dict(Counter(e['outcome'] for e in mine))}"]
        return lines

    def _whole_log(self, documents: TopicReader, timeout_s: float = 120) -> list:
        """The documents topic up to at least every acknowledged write: a read until quiet alone can stop early
        when the broker is slow to answer."""
        deadline = time.monotonic() + timeout_s
        records = documents.read_until_quiet()
        while self._acknowledged - {(r.partition, r.offset) for r in records}:
            if time.monotonic() > deadline:
                raise TimeoutError("the documents topic does not hold every acknowledged write")
            documents.poll()
        return records

    def _settle(self, pool: WorkerPool, stall_s: float = 180) -> None:
        """Waits until every record of the documents topic has an outcome, for as long as outcomes keep coming (a
        slow stream is not a stopped one); if none comes for ``stall_s``, says what each worker owns and waits
        for."""
        # every acknowledged write, and whatever else reached the log (a write whose answer a restart cut off)
        with TopicReader(self.settings.kafka, self.settings.kafka.documents_topic) as documents, \
                TopicReader(self.settings.kafka, self.settings.kafka.index_events_topic) as outcomes:
            wanted = {(r.partition, r.offset) for r in self._whole_log(documents)}
            deadline, settled, seen = time.monotonic() + stall_s, 0, set()
            while True:
                outcomes.poll()
                seen.update((o["source_partition"], o["source_offset"])
                            for o in map(json.loads, (r.value for r in outcomes.records[settled:])))
                if wanted <= seen:
                    more = {(r.partition, r.offset) for r in documents.read_until_quiet()} - wanted
                    if not more:
                        return
                    wanted |= more
                if len(outcomes.records) > settled:
                    deadline, settled = time.monotonic() + stall_s, len(outcomes.records)
                if time.monotonic() > deadline:
                    for actor in pool.actors:
                        try:
                            print(ray.get(actor.stats.remote(), timeout=30), ray.get(actor.stacks.remote(), timeout=30),
                                  sep="\n", file=sys.stderr)
                        except Exception as error:
                            print(f"worker unreachable: {error!r}", file=sys.stderr)
                    raise TimeoutError(f"{len(wanted - seen)} records have no outcome, none came for {stall_s:.0f} s")

    def compare(self) -> None:
        """The index against the log applied in order, one document at a time (the planner's fold is the
        sequential specification; tests/test_planner.py pins it)."""
        with TopicReader(self.settings.kafka, self.settings.kafka.documents_topic) as documents:
            log = sorted(self._whole_log(documents), key=lambda r: (r.partition, r.offset))
        events = [e for e in (decode(r.value) for r in log) if isinstance(e, DocumentEvent)]
        winners = plan_batch(list(enumerate(events)), {}).actions
        final = {a.event.doc_id: a.event.version for a in winners}
        chunker = Chunker(self.settings.chunking)
        expected = {c.id: c.text for a in winners if a.kind == "upsert" for c in chunker.split(a.event)}
        store = IndexStore(self.settings.milvus, self.settings.models.embedder.dimension)
        try:
            store.reload()  # a Milvus server that restarted since the workers last wrote has released them
            rows = store.chunk_rows(("id", "text"))
            states = store.doc_states(f"acme/{doc}" for doc in final)
            self.report.registry_behind = sum(states.get(f"acme/{d}") is None or states[f"acme/{d}"].version != v
                                              for d, v in final.items())
        finally:
            store.close()
        actual = {row["id"]: row["text"] for row in rows}
        lost, stale = set(expected) - set(actual), set(actual) - set(expected)
        self.report.lost, self.report.stale = len(lost), len(stale)
        self.report.mismatched = [f"lost {i}" for i in sorted(lost)[:10]] + [f"stale {i}" for i in sorted(stale)[:10]]
        if lost or stale:
            self.report.mismatched += self._explain(sorted({i.split("/")[1] for i in lost | stale})[:2], log)
        self.report.duplicated = len(rows) - len(actual)
        self.report.wrong_text = sum(actual[i] != t for i, t in expected.items() if i in actual)
