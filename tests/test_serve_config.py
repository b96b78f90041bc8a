"""The generated Serve config matches the application the local stack deploys."""

from __future__ import annotations

from ragstream.settings import DeploymentSettings, ServeSettings, Settings
from services.app import STAGES, deployment_options
from services.config import IMPORT_PATH, serve_config


def test_the_serve_config_lists_every_stage_with_the_options_the_local_app_uses():
    settings = Settings(serve=ServeSettings(reranking=DeploymentSettings(num_replicas=2, max_replicas=4)))
    [app] = serve_config(settings)["applications"]
    assert app["import_path"] == IMPORT_PATH and app["name"] == "ragstream"
    by_name = {d["name"]: d for d in app["deployments"]}
    assert set(by_name) == {"ingress", *STAGES}
    reranking = by_name["reranking"]
    assert reranking["autoscaling_config"]["min_replicas"] == 2
    assert reranking["autoscaling_config"]["max_replicas"] == 4 and "num_replicas" not in reranking
    expected = deployment_options("embedding", settings.serve.embedding, settings.serve)
    assert by_name["embedding"]["max_queued_requests"] == expected["max_queued_requests"]
    assert by_name["embedding"]["ray_actor_options"] == expected["ray_actor_options"]
    assert by_name["ingress"]["backpressure_config"]["retry_after_s"] == settings.serve.retry_after_s


def test_the_proxy_binds_where_the_settings_say():
    http = serve_config(Settings())["http_options"]
    assert http["host"] == "127.0.0.1" and http["port"] == 8000
