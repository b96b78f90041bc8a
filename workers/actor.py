"""Ingest workers as long-lived Ray actors, one Kafka consumer each, all in one consumer group.

The loop starts in the actor's constructor, so when Ray restarts a killed actor (``max_restarts=-1``) it resumes
consuming from the group's last commit without anyone calling it.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import traceback

import ray

from ragstream.core.settings import Settings
from ragstream.core.telemetry import tracing
from ragstream.workers.ingest_loop import IngestLoop
from ragstream.workers.metrics import IngestMetrics

log = logging.getLogger("ragstream.ingest")
STOP_TIMEOUT_S = 60
START_TIMEOUT_S = 300


class IngestWorker:
    def __init__(self, settings: Settings, worker_id: str) -> None:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("kafka").setLevel(logging.WARNING)
        tracing.configure("ragstream-worker")
        self._settings = settings
        self._worker_id = worker_id
        self.metrics = IngestMetrics(worker_id)
        if settings.worker.metrics_port is not None:
            self.metrics.serve(settings.worker.metrics_host, settings.worker.metrics_port)
        self._loop: IngestLoop | None = None
        self._restarts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._supervise, name=f"ingest-{worker_id}", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        """Restarts the loop after a failure outside a batch (broker or Milvus down at start-up)."""
        delay = self._settings.worker.retry_initial_s
        while not self._stopping.is_set():
            self._loop = IngestLoop(self._settings, self._worker_id, metrics=self.metrics)
            try:
                self._loop.run()
                return
            except Exception:
                log.exception("ingest loop stopped; restarting in %.1fs", delay)
                self._restarts += 1
                self._stopping.wait(delay)
                delay = min(delay * 2, self._settings.worker.retry_max_s)

    def ready(self, timeout_s: float = 120.0) -> bool:
        """True once the model is loaded, the collections exist and the consumer has joined the group."""
        waited = 0.0
        while waited < timeout_s:
            if self._loop is not None and self._loop.joined.wait(0.1):
                return True
            waited += 0.1
        return False

    def stats(self) -> dict:
        return {"worker_id": self._worker_id, "pid": os.getpid(), "metrics_url": self.metrics.url,
                "loop_restarts": self._restarts,
                **(self._loop.stats.snapshot() if self._loop else {})}

    def stacks(self) -> str:
        """Every thread's stack: what a worker that stopped making progress is waiting for."""
        names = {thread.ident: thread.name for thread in threading.enumerate()}
        return "\n".join(f"--- {names.get(ident, ident)}\n" + "".join(traceback.format_stack(frame))
                         for ident, frame in sys._current_frames().items())

    def stop(self) -> None:
        self._stopping.set()
        if self._loop:
            self._loop.stop()
        self._thread.join(timeout=30)
        tracing.flush()  # the last batches' spans, before Ray kills this process


class WorkerPool:
    """Starts, scales and stops the ingest actors of one consumer group."""

    def __init__(self, settings: Settings, env: dict[str, str] | None = None) -> None:
        """``env``: extra environment of the actors (e.g. their tracing exporter), on top of the job's."""
        self.settings = settings
        self._env = env
        self._actors: list = []
        self._next_id = 0
        self._remote = ray.remote(IngestWorker)

    def __len__(self) -> int:
        return len(self._actors)

    def scale(self, replicas: int, wait_ready: bool = True, timeout_s: float = START_TIMEOUT_S) -> None:
        """Adds or removes actors; with ``wait_ready``, fails within ``timeout_s`` rather than wait forever on an
        actor Ray cannot place (too few free CPUs), removing the actors it started."""
        while len(self._actors) > replicas:
            actor = self._actors.pop()
            # a clean stop commits the batch in hand; one that is stuck, restarting (after a crash) or dead is
            # killed: its batch replays, idempotently
            try:
                ray.get(actor.stop.remote(), timeout=STOP_TIMEOUT_S)
            except ray.exceptions.GetTimeoutError:
                log.warning("worker did not stop within %ss; killing it", STOP_TIMEOUT_S)
            except ray.exceptions.RayActorError as error:
                log.warning("worker cannot stop cleanly (%s); killing it", type(error).__name__)
            ray.kill(actor)
        started = []
        while len(self._actors) < replicas:
            worker_id = f"ingest-{self._next_id}"
            self._next_id += 1
            actor = self._remote.options(
                num_cpus=self.settings.worker.num_cpus, max_restarts=-1, max_concurrency=4,
                name=f"{self.settings.kafka.consumer_group}/{worker_id}",
                namespace="ragstream", **({"runtime_env": {"env_vars": self._env}} if self._env else {}),
            ).remote(self.settings, worker_id)
            self._actors.append(actor)
            started.append(actor)
        if wait_ready and started:
            self._await_ready(started, timeout_s)

    def _await_ready(self, started: list, timeout_s: float) -> None:
        try:
            if all(ray.get([a.ready.remote(timeout_s) for a in started], timeout=timeout_s + 10)):
                return
        except ray.exceptions.GetTimeoutError:
            pass  # not even placed: reported below
        for actor in started:
            self._actors.remove(actor)
            ray.kill(actor)
        free = ray.available_resources().get("CPU", 0.0)
        raise RuntimeError(f"{len(started)} ingest worker(s) not ready within {timeout_s:.0f}s: each reserves "
                           f"{self.settings.worker.num_cpus} CPU (RAGSTREAM_WORKER__NUM_CPUS) and Ray has {free:.2f} "
                           "free, or the broker, Milvus or Triton is unreachable")

    def start(self) -> WorkerPool:
        self.scale(self.settings.worker.replicas)
        return self

    @property
    def actors(self) -> list:
        return list(self._actors)

    def stats(self) -> list[dict]:
        return ray.get([a.stats.remote() for a in self._actors])

    def stop(self) -> None:
        self.scale(0)
