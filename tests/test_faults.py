"""Fault injection over the real parts, with a durable broker (its log in an S3 object store) so a broker crash
loses nothing: workers SIGKILLed again and again, broker, Triton and Milvus crashed and restarted, workers scaled
1 → 3 → 1, each in the middle of a stream of upserts, new versions, stale versions, duplicates, deletes and bad
events. After each, and again after a full replay from offset 0, the index must equal the state the event log
implies: 0 lost, 0 duplicated, 0 stale chunks. Recovery times go to the terminal and, when
RELIABILITY_JSON names a file, to that file (docs/reliability.md is written from it)."""

from __future__ import annotations

import json
import os
import random
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import ray

from ragstream.core.settings import Settings
from ragstream.core.topic_reader import TopicReader
from ragstream.infra.local.stack import LocalStack
from ragstream.workers.actor import WorkerPool
from testkit.settings import isolate
from testkit.streams import (
    Stream,
    assert_index_matches,
    mixed_stream,
    produce,
    reset_group_to_start,
    wait_for_outcomes,
)

pytestmark = pytest.mark.stack

SHORT = {"words": (8, 40), "paragraphs": 1}  # one chunk per document: the faults, not the embedder, set the pace
ROWS: list[dict] = []


@pytest.fixture(scope="module")
def durable(durable_stack, request):
    yield durable_stack
    _report(ROWS, request.config.pluginmanager.get_plugin("terminalreporter"))


def _report(rows: list[dict], terminal) -> None:
    if path := os.environ.get("RELIABILITY_JSON"):
        Path(path).write_text(json.dumps(rows, indent=2))
    for row in rows:
        terminal.write_line(f"[reliability] {row['scenario']}: {row['events']} events, index {row['index']}, "
                            f"recovery {row['recovery_s']} s, replay {row['replay_s']} s")


class Run:
    """One stream through a worker pool, with helpers to wait for progress and for the stream to resume."""

    def __init__(self, settings: Settings, stream: Stream) -> None:
        self.settings, self.stream = settings, stream

    def __enter__(self) -> Run:
        self.reader = TopicReader(self.settings.kafka, self.settings.kafka.index_events_topic)
        self.pool = WorkerPool(self.settings).start()
        self.sources = produce(self.settings, self.stream)
        return self

    def __exit__(self, *exc: object) -> None:
        self.reader.close()
        self.pool.stop()

    def progress(self) -> int:
        self.reader.poll()
        return len(self.reader.records)

    def wait_progress(self, share: float, timeout_s: float = 300) -> None:
        deadline = time.monotonic() + timeout_s
        while self.progress() < share * len(self.sources):
            assert time.monotonic() < deadline, f"stuck at {len(self.reader.records)} of {len(self.sources)}"
            time.sleep(0.05)

    def resumed_after(self, since: datetime, timeout_s: float = 300) -> float:
        """Seconds from ``since`` until the first outcome indexed after it: the stream flows again."""
        deadline = time.monotonic() + timeout_s
        seen = 0
        while time.monotonic() < deadline:
            self.reader.poll()
            for record in self.reader.records[seen:]:
                indexed = datetime.fromisoformat(json.loads(record.value)["indexed_time"])
                if indexed > since:
                    return round((indexed - since).total_seconds(), 2)
            seen = len(self.reader.records)
            time.sleep(0.05)
        raise TimeoutError("the stream did not resume")

    def finish(self, scenario: str, checked: str, recovery_s: float | str) -> None:
        """Every record's outcome, the index against the log; then a replay from offset 0 by a fresh pool."""
        wait_for_outcomes(self.reader, self.sources, timeout_s=600)
        self.pool.stop()
        diff = assert_index_matches(self.settings, self.stream)
        reset_group_to_start(self.settings)
        started = time.monotonic()
        self.pool = WorkerPool(self.settings).start()
        wait_for_outcomes(self.reader, self.sources, times=2, timeout_s=600)
        replay_s = round(time.monotonic() - started, 1)
        assert_index_matches(self.settings, self.stream)
        ROWS.append({"scenario": scenario, "checked": checked, "events": len(self.sources),
                     "index": diff, "recovery_s": recovery_s, "replay_s": replay_s})


def _now() -> datetime:
    return datetime.now(UTC)


def _run(durable: LocalStack, name: str, seed: int, docs: int, changes: int, replicas: int = 1) -> Run:
    settings = isolate(durable.settings, name)
    settings = settings.model_copy(update={"worker": settings.worker.model_copy(update={"replicas": replicas})})
    return Run(settings, mixed_stream(seed=seed, docs=docs, changes=changes, **SHORT))


def test_a_worker_sigkilled_again_and_again_during_5000_events_loses_and_duplicates_nothing(durable):
    with _run(durable, "sigkill", seed=21, docs=1650, changes=3350) as run:
        assert len(run.sources) >= 5000
        rng = random.Random(4)
        recoveries = []
        for share in sorted(rng.uniform(0.1, 0.85) for _ in range(4)):
            run.wait_progress(share)
            worker = run.pool.actors[0]
            pid = ray.get(worker.stats.remote())["pid"]
            time.sleep(rng.uniform(0, 0.5))  # anywhere in a batch: polling, embedding, writing, committing
            os.kill(pid, signal.SIGKILL)
            killed = _now()
            recoveries.append(run.resumed_after(killed))
            assert ray.get(worker.stats.remote())["pid"] != pid
        run.finish("worker SIGKILLed 4× at random points", "index = log; replay from 0", max(recoveries))


def _restart(stop: Callable[[], None], start: Callable[[], object]) -> datetime:
    stop()
    time.sleep(2)
    start()
    return _now()


def test_the_broker_crashing_mid_stream_loses_nothing(durable):
    with _run(durable, "broker", seed=22, docs=500, changes=700) as run:
        run.wait_progress(0.3)
        back = _restart(durable.broker.kill, durable.broker.start)
        run.finish("broker killed and restarted (durable)", "index = log; replay from 0", run.resumed_after(back))


def test_milvus_crashing_mid_stream_loses_nothing(durable):
    with _run(durable, "milvus", seed=23, docs=500, changes=700) as run:
        run.wait_progress(0.3)
        back = _restart(durable.milvus.kill, durable.milvus.start)
        run.finish("Milvus server killed and restarted", "index = log; replay from 0", run.resumed_after(back))


def test_triton_crashing_mid_stream_is_retried_and_never_committed_past(durable, local_stack):
    with _run(durable, "triton", seed=24, docs=500, changes=700) as run:
        run.wait_progress(0.3)
        back = _restart(local_stack.triton.kill, local_stack.triton.start)
        recovery = run.resumed_after(back)
        stats = run.pool.stats()[0]
        assert stats["retries"] > 0 and stats["loop_restarts"] == 0, stats  # the batch was retried, in place
        run.finish("Triton killed and restarted", "index = log; batches retried, none committed past a failure",
                   recovery)


def test_workers_scaled_1_to_3_to_1_mid_stream_rebalance_without_loss(durable):
    with _run(durable, "scale", seed=25, docs=700, changes=1000) as run:
        run.wait_progress(0.2)
        scaled = _now()
        run.pool.scale(3, wait_ready=False)
        up = run.resumed_after(scaled)
        run.wait_progress(0.6)
        scaled = _now()
        run.pool.scale(1)
        down = run.resumed_after(scaled)
        run.finish("workers scaled 1 → 3 → 1 (rebalances)", "index = log; replay from 0", max(up, down))

