"""Milvus Lite as a gRPC server: one process owns the data directory, workers and replicas connect to it."""

from __future__ import annotations

from pathlib import Path

from infra.process import LOOPBACK, ServerProcess, free_port, installed_command, port_open


class MilvusLiteServer:
    def __init__(self, data_dir: Path, log_dir: Path, port: int | None = None) -> None:
        binary = installed_command("milvus-lite", "milvus-lite")
        self.port = port or free_port()
        self._server = ServerProcess(
            "milvus-lite",
            # The default host is 0.0.0.0: always bind loopback.
            [binary, "server", "--data-dir", str(data_dir), "--host", LOOPBACK, "--port", str(self.port)],
            log_dir / "milvus-lite.log",
            ready=lambda: port_open(self.port),
        )

    @property
    def uri(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._server.pid

    def start(self) -> MilvusLiteServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def kill(self) -> None:
        self._server.kill()

    def restart(self) -> MilvusLiteServer:
        self._server.stop()
        return self.start()
