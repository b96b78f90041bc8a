"""The embedded stack for one machine, and the runtime file that lets other commands find it."""

from __future__ import annotations

import json
import os
from contextlib import ExitStack

from ragstream.core.settings import Settings
from ragstream.infra.local.broker import TansuBroker
from ragstream.infra.local.milvus_server import MilvusLiteServer
from ragstream.infra.local.object_store import ObjectStore
from ragstream.infra.local.triton_server import TritonServer
from ragstream.infra.topics import ensure_topics

RUNTIME_FILE = "runtime.json"


def _needs_triton(settings: Settings) -> bool:
    """Triton serves the models and no endpoint is given: the local stack starts one."""
    return settings.models.backend == "triton" and not settings.models.triton.url


class LocalStack:
    """Broker (+ object store when durable), Milvus Lite and Triton, started in order and stopped in reverse."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.local.data_dir.resolve()
        self.log_dir = self.data_dir / "logs"
        self._exit = ExitStack()
        self.broker: TansuBroker | None = None
        self.milvus: MilvusLiteServer | None = None
        self.triton: TritonServer | None = None
        self._runtime: dict = {}

    def start(self) -> Settings:
        """Starts what the settings leave unset and returns settings that point at it."""
        try:
            update: dict = {}
            if not self.settings.kafka.bootstrap_servers:
                store = None
                if self.settings.local.durable_broker:
                    store = ObjectStore(self.data_dir / "broker-s3", self.log_dir).start()
                    self._exit.callback(store.stop)
                self.broker = TansuBroker(self.log_dir, object_store=store).start()
                self._exit.callback(self.broker.stop)
                update["kafka"] = self.settings.kafka.model_copy(
                    update={"bootstrap_servers": self.broker.bootstrap_servers}
                )
            if not self.settings.milvus.uri:
                self.milvus = MilvusLiteServer(self.data_dir / "milvus", self.log_dir).start()
                self._exit.callback(self.milvus.stop)
                update["milvus"] = self.settings.milvus.model_copy(update={"uri": self.milvus.uri})
            models = self.settings.models
            if _needs_triton(self.settings):
                self.triton = TritonServer(models, self.settings.local.triton_env, self.data_dir / "triton",
                                           self.log_dir).start()
                self._exit.callback(self.triton.stop)
                update["models"] = models.model_copy(
                    update={"triton": models.triton.model_copy(update={"url": self.triton.url})})
            self.settings = self.settings.model_copy(update=update)
            ensure_topics(self.settings.kafka)
            self._write_runtime()
        except BaseException:
            self.stop()
            raise
        return self.settings

    def _write_runtime(self) -> None:
        self._runtime = {
            "pid": os.getpid(),
            "kafka_bootstrap_servers": self.settings.kafka.bootstrap_servers,
            "milvus_uri": self.settings.milvus.uri,
            "triton_url": self.settings.models.triton.url,
        }
        self.record()
        self._exit.callback((self.data_dir / RUNTIME_FILE).unlink, missing_ok=True)

    def record(self, **fields: str) -> None:
        """Adds to the runtime file what later starts (the API); owner-only, as it may hold the local API key."""
        self._runtime.update(fields)
        runtime = self.data_dir / RUNTIME_FILE
        runtime.touch(mode=0o600)
        runtime.write_text(json.dumps(self._runtime))

    def stop(self) -> None:
        self._exit.close()

    def __enter__(self) -> Settings:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def runtime_info(settings: Settings) -> dict:
    """What a running ``ragstream up`` recorded (endpoints, the local API URL and key)."""
    runtime = settings.local.data_dir / RUNTIME_FILE
    if not runtime.exists():
        raise RuntimeError(
            f"no running local stack ({runtime} is missing): start one with `ragstream up`, or set "
            "RAGSTREAM_KAFKA__BOOTSTRAP_SERVERS, RAGSTREAM_MILVUS__URI and RAGSTREAM_MODELS__TRITON__URL"
        )
    found = json.loads(runtime.read_text())
    if not _alive(found.get("pid")):  # a crashed or killed stack leaves its file behind
        raise RuntimeError(f"no running local stack: the one that wrote {runtime} (pid {found.get('pid')}) has "
                           "stopped; start one with `ragstream up` (`make run` in a checkout)")
    return found


def _alive(pid: object) -> bool:
    """Whether the process that started the stack still runs (a reused pid passes; the connection then fails)."""
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        pass
    return True


def attach(settings: Settings) -> Settings:
    """Fills unset endpoints from a running ``ragstream up``; explicit settings always win."""
    if settings.kafka.bootstrap_servers and settings.milvus.uri and not _needs_triton(settings):
        return settings
    found = runtime_info(settings)
    models = settings.models
    return settings.model_copy(update={
        "kafka": settings.kafka.model_copy(
            update={"bootstrap_servers": settings.kafka.bootstrap_servers or found["kafka_bootstrap_servers"]}),
        "milvus": settings.milvus.model_copy(update={"uri": settings.milvus.uri or found["milvus_uri"]}),
        "models": models.model_copy(update={"triton": models.triton.model_copy(
            update={"url": models.triton.url or found.get("triton_url")})}),
    })
