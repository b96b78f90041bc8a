"""The Serve application: one deployment per stage, sized from the settings, bound under the ingress.

``build(settings)`` is what ``ragstream up`` and the tests run; ``app_builder`` is the import path for ``serve
run`` and a RayService (settings from the ``RAGSTREAM_*`` environment), so both deploy the same graph.
"""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve import Application, Deployment

from ragstream.core.settings import DeploymentSettings, ServeSettings, Settings
from ragstream.services.api.ingress import Ingress
from ragstream.services.config import tracing_config
from ragstream.services.stages.compression import Compression
from ragstream.services.stages.embedding import Embedding
from ragstream.services.stages.generation import Generation
from ragstream.services.stages.reranking import Reranking
from ragstream.services.stages.retrieval import Retrieval
from ragstream.services.stages.rewrite import Rewrite

# The stage deployments in the order of the query path; each is built from the whole settings.
STAGES: dict[str, Deployment] = {"rewrite": Rewrite, "embedding": Embedding, "retrieval": Retrieval,
                                 "reranking": Reranking, "compression": Compression, "generation": Generation}


def deployment_options(name: str, deployment: DeploymentSettings, serve_settings: ServeSettings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "name": name,
        "ray_actor_options": {"num_cpus": deployment.num_cpus},
        "max_ongoing_requests": deployment.max_ongoing_requests,
        "max_queued_requests": deployment.max_queued_requests,
        "backpressure_config": {"status_code": 503, "retry_after_s": serve_settings.retry_after_s},
        "logging_config": {"enable_access_log": serve_settings.access_log},
    }
    # Each deployment is its own service in a trace backend (Serve's tracer provider reads OTEL_SERVICE_NAME).
    options["ray_actor_options"]["runtime_env"] = {"env_vars": {"OTEL_SERVICE_NAME": f"ragstream-{name}"}}
    if deployment.max_replicas and deployment.max_replicas > deployment.num_replicas:
        options["autoscaling_config"] = {
            "min_replicas": deployment.num_replicas, "max_replicas": deployment.max_replicas,
            "target_ongoing_requests": max(1, deployment.max_ongoing_requests // 2),
        }
    else:
        options["num_replicas"] = deployment.num_replicas
    return options


def build(settings: Settings) -> Application:
    scale = settings.serve
    stages = {name: stage.options(**deployment_options(name, getattr(scale, name), scale)).bind(settings)
              for name, stage in STAGES.items()}
    ingress = serve.deployment(Ingress).options(**deployment_options("ingress", scale.ingress, scale))
    return ingress.bind(settings, **stages)


def app_builder(args: dict[str, str]) -> Application:
    """``serve run ragstream.services.app:app_builder``: endpoints and sizes from ``RAGSTREAM_*`` env vars."""
    return build(Settings())


def run(settings: Settings, blocking: bool = False) -> str:
    """Starts Serve on the API's address (127.0.0.1 by default) and deploys the app; returns the base URL."""
    api = settings.api
    serve.start(http_options={"host": api.host, "port": api.port,
                              "request_timeout_s": settings.serve.request_timeout_s},
                tracing_config=tracing_config())
    serve.run(build(settings), name=settings.serve.app_name, route_prefix=settings.serve.route_prefix,
              blocking=blocking)
    return f"http://{api.host}:{api.port}"
