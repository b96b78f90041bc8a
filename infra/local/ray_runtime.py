"""A local Ray runtime that listens on loopback only (Ray binds the machine's address by default)."""

from __future__ import annotations

import os

import ray

from ragstream.core.telemetry import tracing

# Serve's throughput mode: user code and routers on the replica's own loop, gRPC between deployments (our stages
# never block their loop). Direct ingress (replicas serving HTTP themselves) stays off: the proxy binds 127.0.0.1.
SERVE_ENV = {"RAY_SERVE_THROUGHPUT_OPTIMIZED": "1", "RAY_SERVE_ENABLE_DIRECT_INGRESS": "0"}


def bind_replicas_to_loopback() -> None:
    """Ray worker setup hook. Serve replicas open their inter-deployment gRPC server on ``[::]:0``, hard-coded in
    Ray 2.60 (``ray/serve/_private/replica.py``); on a local stack whose node address is 127.0.0.1 that server only
    needs loopback, so the address is rewritten before the replica binds it."""
    from ray.serve._private import replica

    bind = replica.add_port_to_grpc_server
    if getattr(bind, "loopback", False):
        return

    def loopback(server, address: str) -> int:
        return bind(server, address.replace("[::]", "127.0.0.1"))

    loopback.loopback = True
    replica.add_port_to_grpc_server = loopback


def start_local_ray(num_cpus: float | None = None) -> None:
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    for name, value in SERVE_ENV.items():
        os.environ.setdefault(name, value)
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=num_cpus,
             namespace="ragstream", logging_level="WARNING", log_to_driver=True,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **SERVE_ENV,
                                       **tracing.environment()},
                          "worker_process_setup_hook": "ragstream.infra.local.ray_runtime.bind_replicas_to_loopback"})


def stop_local_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()
