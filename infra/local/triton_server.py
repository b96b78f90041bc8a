"""The ``tritonserver`` binary from the ``nvidia-pytriton`` wheel, serving ``infra/triton/models`` on loopback.

The wheel carries only the Python backend, whose stub binary embeds the interpreter. The stub needs numpy<2 and
the app runs numpy 2, so the models run in their own environment (``.venv-triton``, built by ``make`` from
``infra/triton/requirements.txt``): with that env's ``bin`` first on ``PATH`` the stub takes it as its prefix,
exactly like ``python`` from that env. The launcher also assembles the backend folder (backend + the stub for
this Python), puts libpython and the wheel's bundled libs on ``LD_LIBRARY_PATH``, and hands the model settings
over as ``RAGSTREAM_MODELS`` JSON, which the models read with the same settings type.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from ragstream.core.settings import ModelSettings
from ragstream.infra.local.process import LOOPBACK, ServerProcess, free_port, http_status

MODEL_REPOSITORY = Path(__file__).parents[1] / "triton" / "models"
ALL_MODELS = ("embedder", "embedder_query", "reranker", "generator")
_PROBE = ("import json, sys, sysconfig, pytriton; print(json.dumps({'version': '%d.%d' % sys.version_info[:2], "
          "'libdir': sysconfig.get_config_var('LIBDIR'), 'pytriton': pytriton.__path__[0]}))")


def _probe(env: Path) -> dict:
    python = env / "bin" / "python"
    if not python.exists():
        raise FileNotFoundError(f"Triton model environment {env} is missing: `make` builds it "
                                "(or set RAGSTREAM_LOCAL__TRITON_ENV)")
    done = subprocess.run([str(python), "-c", _PROBE], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{env} cannot run Triton: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout)


def _backend_dir(found: dict, into: Path) -> Path:
    """Backend folder for this Python version, rebuilt each start so an upgraded wheel is picked up."""
    bundled = Path(found["pytriton"]) / "tritonserver"
    python = into / "python"
    shutil.rmtree(python, ignore_errors=True)
    shutil.copytree(bundled / "backends" / "python", python)
    shutil.copy2(bundled / "python_backend_stubs" / found["version"] / "triton_python_backend_stub", python)
    return into


def _server_env(env: Path, found: dict, models: ModelSettings) -> dict[str, str]:
    libs = [found["libdir"], str(Path(found["pytriton"]).parent / "nvidia_pytriton.libs")]
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith("RAGSTREAM_MODELS") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {
        **inherited,
        "PATH": os.pathsep.join([str(env.resolve() / "bin"), os.environ.get("PATH", "")]),
        "LD_LIBRARY_PATH": os.pathsep.join(libs + [p for p in [os.environ.get("LD_LIBRARY_PATH")] if p]),
        "RAGSTREAM_MODELS": models.model_dump_json(),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
    }


class TritonServer:
    def __init__(self, models: ModelSettings, env: Path, work_dir: Path, log_dir: Path,
                 load: Sequence[str] = ALL_MODELS, ready_timeout_s: float = 300.0) -> None:
        found = _probe(env)
        self.http_port, self.grpc_port, self.metrics_port = free_port(), free_port(), free_port()
        argv = [
            str(Path(found["pytriton"]) / "tritonserver" / "bin" / "tritonserver"),
            "--model-repository", str(MODEL_REPOSITORY),
            "--backend-directory", str(_backend_dir(found, work_dir / "backends")),
            "--model-control-mode", "explicit", *[f"--load-model={name}" for name in load],
            "--http-address", LOOPBACK, "--http-port", str(self.http_port),
            "--grpc-address", LOOPBACK, "--grpc-port", str(self.grpc_port),
            "--metrics-address", LOOPBACK, "--metrics-port", str(self.metrics_port),
            "--exit-timeout-secs", "5", "--log-verbose", "0",
        ]
        self._server = ServerProcess("tritonserver", argv, log_dir / "triton.log", ready=self._ready,
                                     env=_server_env(env, found, models), ready_timeout_s=ready_timeout_s,
                                     inherit_env=False)

    @property
    def url(self) -> str:
        """gRPC endpoint, what the client layer uses."""
        return f"{LOOPBACK}:{self.grpc_port}"

    def _ready(self) -> bool:
        return http_status(f"http://{LOOPBACK}:{self.http_port}/v2/health/ready") == 200

    def start(self) -> TritonServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop(timeout_s=20)

    def kill(self) -> None:
        self._server.kill()
