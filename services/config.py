"""The Serve config file (what ``serve deploy`` and a KubeRay RayService's ``serveConfigV2`` take), generated from
the settings: one source of truth for the local app, ``serve deploy`` and the Helm chart.

The file names the application's builder and carries the settings as ``runtime_env`` env vars; the builder derives
every deployment's options (replicas, autoscaling, CPUs, queue limits) from them with the same
:func:`ragstream.services.app.deployment_options` the local stack uses, so no second copy of those options exists. A
settings change is a config change, which Serve (and KubeRay) roll out in place. Secrets are not in it: they come
from the environment of the Ray nodes (in Kubernetes, a Secret).

    python -m ragstream.services.config > serve.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from ray.serve.schema import ServeDeploySchema, TracingConfig

from ragstream.core.settings import Settings
from ragstream.core.settings_env import settings_env
from ragstream.core.telemetry import tracing

IMPORT_PATH = "ragstream.services.app:app_builder"
EXPORTER_IMPORT_PATH = "ragstream.core.telemetry.tracing:span_processors"


def tracing_config() -> TracingConfig:
    """Serve's own tracing (proxy, handle calls, replicas) exporting where ours does, from the ``OTEL_*`` variables:
    every deployment call of a request is a span of the request's trace."""
    return TracingConfig(enabled=tracing.enabled(), exporter_import_path=EXPORTER_IMPORT_PATH,
                         sampling_ratio=tracing.sampling_ratio())


def serve_config(settings: Settings) -> dict[str, Any]:
    """Validated by Ray's own schema."""
    serve = settings.serve
    config = ServeDeploySchema.model_validate({
        "http_options": {"host": settings.api.host, "port": settings.api.port,
                         "request_timeout_s": serve.request_timeout_s},
        **({"tracing_config": tracing_config().model_dump()} if tracing.enabled() else {}),
        "applications": [{"name": serve.app_name, "route_prefix": serve.route_prefix, "import_path": IMPORT_PATH,
                          "runtime_env": {"env_vars": settings_env(settings)}}],
    })
    return config.model_dump(mode="json", exclude_unset=True)


def main() -> None:
    yaml.safe_dump(serve_config(Settings()), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
