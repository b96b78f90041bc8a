"""The generated Serve config deploys the application the local stack runs: same builder, same settings."""

from __future__ import annotations

import pytest

from ragstream.core.settings import DeploymentSettings, ServeSettings, Settings
from ragstream.core.settings_env import settings_env
from ragstream.services.app import STAGES, deployment_options
from ragstream.services.config import IMPORT_PATH, serve_config


def test_the_serve_config_carries_every_non_secret_setting_to_the_app_builder(monkeypatch):
    settings = Settings(serve=ServeSettings(reranking=DeploymentSettings(num_replicas=2, max_replicas=4)),
                        api={"api_keys": {"k": "acme"}})
    [app] = serve_config(settings)["applications"]
    assert app["import_path"] == IMPORT_PATH and app["name"] == "ragstream"
    env = app["runtime_env"]["env_vars"]
    assert env == settings_env(settings) and "RAGSTREAM_API__API_KEYS" not in env
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    built = Settings()
    assert built.serve == settings.serve and built.retrieval == settings.retrieval


def test_deployment_options_turn_autoscaling_on_above_num_replicas():
    serve = ServeSettings(reranking=DeploymentSettings(num_replicas=2, max_replicas=4))
    options = {name: deployment_options(name, getattr(serve, name), serve) for name in ("ingress", *STAGES)}
    assert options["reranking"]["autoscaling_config"] == {"min_replicas": 2, "max_replicas": 4,
                                                          "target_ongoing_requests": 8}
    assert "num_replicas" not in options["reranking"] and options["embedding"]["num_replicas"] == 1
    assert options["ingress"]["backpressure_config"] == {"status_code": 503, "retry_after_s": serve.retry_after_s}


@pytest.mark.parametrize(("value", "text"), [(0.1, "0.1"), (120.0, "120"), (True, "true"), ("x", "x"), (3, "3")])
def test_settings_become_env_values_the_way_helm_prints_them(value, text):
    from ragstream.core.settings_env import env_value

    assert env_value(value) == text


def test_the_proxy_binds_where_the_settings_say():
    http = serve_config(Settings())["http_options"]
    assert http["host"] == "127.0.0.1" and http["port"] == 8000
