"""A local Ray runtime that listens on loopback only (Ray binds the machine's address by default)."""

from __future__ import annotations

import os

import ray


def start_local_ray(num_cpus: float | None = None) -> None:
    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=num_cpus,
             namespace="ragstream", logging_level="WARNING", log_to_driver=True,
             runtime_env={"env_vars": {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}})


def stop_local_ray() -> None:
    if ray.is_initialized():
        ray.shutdown()
