"""The Serve config file (what ``serve deploy`` and a KubeRay RayService's ``serveConfigV2`` take), generated from
the settings and the same deployment options ``services.app.build`` uses: one source of truth for both.

    python -m services.config > serve.yaml
"""

from __future__ import annotations

import sys
from typing import Any

import yaml
from ray.serve.schema import ServeDeploySchema

from ragstream.settings import Settings
from services.app import STAGES, deployment_options

IMPORT_PATH = "services.app:app_builder"


def serve_config(settings: Settings) -> dict[str, Any]:
    """Validated by Ray's own schema; endpoints and model settings reach the replicas as ``RAGSTREAM_*`` env vars."""
    scale = settings.serve
    deployments = [deployment_options(name, getattr(scale, name), scale) for name in ("ingress", *STAGES)]
    config = ServeDeploySchema.model_validate({
        "http_options": {"host": settings.api.host, "port": settings.api.port,
                         "request_timeout_s": scale.request_timeout_s},
        "applications": [{"name": scale.app_name, "route_prefix": scale.route_prefix, "import_path": IMPORT_PATH,
                          "deployments": deployments}],
    })
    return config.model_dump(mode="json", exclude_unset=True)


def main() -> None:
    yaml.safe_dump(serve_config(Settings()), sys.stdout, sort_keys=False)


if __name__ == "__main__":
    main()
