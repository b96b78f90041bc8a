"""The Helm chart, offline: the real helm binary lints and renders every value set, each rendered resource passes
Kubernetes' and the CRDs' schemas, the chart carries exactly the settings the code reads, and its serveConfigV2 is
the config the local stack generates."""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from ragstream.core.settings import Settings
from ragstream.core.settings_env import env_fields
from ragstream.infra.kube.chart_files import CHART, chart_fields, stale
from ragstream.infra.kube.check import check_value_set, value_sets
from ragstream.infra.kube.helm import Helm, HelmError, helm_binary
from ragstream.infra.kube.validate import validate
from ragstream.infra.local.ray_runtime import SERVE_ENV
from ragstream.services.config import serve_config

CI = CHART / "ci"


@pytest.fixture(scope="session")
def helm() -> Helm:
    return Helm(helm_binary())


def render(helm: Helm, *values: str, **sets: str) -> dict[str, list[dict]]:
    by_kind: dict[str, list[dict]] = {}
    for resource in helm.template(CHART, [CI / v for v in values], sets):
        by_kind.setdefault(resource["kind"], []).append(resource)
    return by_kind


def chart_values(*values: str) -> dict:
    merged = yaml.safe_load((CHART / "values.yaml").read_text())

    def merge(base: dict, over: dict) -> None:
        for key, value in over.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                merge(base[key], value)
            else:
                base[key] = value

    for name in values:
        merge(merged, yaml.safe_load((CI / name).read_text()))
    return merged


def test_generated_chart_files_are_current():
    assert stale() == [], "run `make chart`"


@pytest.mark.parametrize("name", list(value_sets()))
def test_every_value_set_lints_renders_and_validates_offline(helm, name):
    result = check_value_set(helm, name, value_sets()[name])
    assert result.errors == []
    assert result.resources["RayService"] == 1 and result.resources["Deployment"] >= 1


def test_the_validator_is_strict_about_custom_resources_and_their_pod_templates(helm):
    resources = helm.template(CHART, [CI / "keda-values.yaml"])
    assert validate(resources)[0] == []
    broken = copy.deepcopy(resources)
    for resource in broken:
        if resource["kind"] == "RayService":
            resource["spec"]["rayClusterConfig"]["headGroupSpec"]["replicaz"] = 1
            resource["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]["containers"][0][
                "imagePullPolicy"] = 3
        if resource["kind"] == "ScaledObject":
            resource["spec"]["maxReplicaCount"] = "many"
    errors = "\n".join(validate(broken)[0])
    assert "'replicaz' was unexpected" in errors
    assert "pod template of group serve" in errors and "maxReplicaCount" in errors


def test_the_chart_sets_exactly_the_settings_the_code_reads(helm):
    def leaves(tree: dict, path: tuple = ()) -> set[tuple]:
        return {p for k, v in tree.items()
                for p in (leaves(v, (*path, k)) if isinstance(v, dict) else {(*path, k)})}

    assert leaves(chart_values()["config"]) == {field.path for field in chart_fields()}
    names = {field.name for field in env_fields()}
    secrets = {field.name for field in env_fields() if field.secret}
    rendered = render(helm)
    [configmap] = rendered["ConfigMap"]
    assert set(configmap["data"]) <= names - secrets
    for deployment in rendered["Deployment"] + [{"spec": {"template": t}} for t in _ray_templates(rendered)]:
        env = {e["name"] for c in deployment["spec"]["template"]["spec"]["containers"] for e in c.get("env", [])}
        assert env & {n for n in env if n.startswith("RAGSTREAM_")} <= names | {"RAGSTREAM_WORKER_ID"}
    [worker] = [d for d in rendered["Deployment"] if d["metadata"]["name"].endswith("-workers")]
    worker_env = {e["name"] for e in worker["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert secrets <= worker_env


def _ray_templates(rendered: dict) -> list[dict]:
    cluster = rendered["RayService"][0]["spec"]["rayClusterConfig"]
    return [cluster["headGroupSpec"]["template"], *(g["template"] for g in cluster["workerGroupSpecs"])]


@pytest.mark.parametrize("values", [(), ("observability-values.yaml",), ("keda-values.yaml",)])
def test_serve_config_v2_is_the_config_the_local_stack_generates(helm, values, monkeypatch):
    rendered = render(helm, *values)
    [rayservice] = rendered["RayService"]
    serve_config_v2 = yaml.safe_load(rayservice["spec"]["serveConfigV2"])
    for name in [n for n in os.environ if n.startswith(("RAGSTREAM_", "OTEL_"))]:
        monkeypatch.delenv(name)
    # The pods' OTEL_* variables (what the chart sets from `otel`) decide Serve's tracing config, as locally.
    for env in _ray_templates(rendered)[0]["spec"]["containers"][0]["env"]:
        if env["name"].startswith("OTEL_") and "value" in env:
            monkeypatch.setenv(env["name"], env["value"])
    config = chart_values(*values)["config"]
    config["models"]["triton"]["url"] = "ragstream-triton:8001"  # release "ragstream": fullname "ragstream"
    if chart_values(*values)["kafka"]["caSecret"]:
        config["kafka"]["ssl_cafile"] = "/etc/ragstream/kafka-ca/ca.crt"
    expected = Settings.model_validate(config)
    assert serve_config_v2 == serve_config(expected)
    # What the app builder sees in a replica: the runtime_env variables, read by the same settings class.
    for name, value in serve_config_v2["applications"][0]["runtime_env"]["env_vars"].items():
        monkeypatch.setenv(name, value)
    assert Settings().model_dump(exclude={"local"}) == expected.model_dump(exclude={"local"})
    # Serve autoscaling per deployment comes from the same settings.
    if values == ("observability-values.yaml",):
        assert Settings().serve.reranking.max_replicas == 8 and Settings().serve.reranking.num_replicas == 2


def test_ray_nodes_run_serve_as_the_local_stack_does_and_get_credentials_from_the_secret(helm):
    rendered = render(helm, "keda-values.yaml")
    for template in _ray_templates(rendered):
        env = {e["name"]: e for e in template["spec"]["containers"][0]["env"]}
        assert all(env[name]["value"] == value for name, value in SERVE_ENV.items())
        assert env["RAGSTREAM_KAFKA__SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == \
            "RAGSTREAM_KAFKA__SASL_PASSWORD"
    [secret] = rendered["Secret"]
    assert yaml.safe_load(secret["stringData"]["RAGSTREAM_API__API_KEYS"]) == {"key-acme": "acme"}
    assert "s3cret" not in yaml.safe_dump(rendered["ConfigMap"] + rendered["RayService"])


def test_workers_scale_on_the_documents_topic_lag_and_leave_replicas_to_the_autoscaler(helm):
    rendered = render(helm, "keda-values.yaml")
    [scaled] = rendered["ScaledObject"]
    trigger = scaled["spec"]["triggers"][0]
    assert trigger["type"] == "kafka" and trigger["metadata"]["topic"] == "ragstream.documents"
    assert trigger["metadata"]["consumerGroup"] == "ragstream-ingest" and trigger["metadata"]["sasl"] == "scram_sha512"
    [workers] = [d for d in rendered["Deployment"] if d["metadata"]["name"] == scaled["spec"]["scaleTargetRef"]["name"]]
    assert "replicas" not in workers["spec"]
    [hpa] = render(helm, "hpa-values.yaml")["HorizontalPodAutoscaler"]
    assert {m["type"] for m in hpa["spec"]["metrics"]} == {"Resource", "External"}


def test_triton_gets_gpus_probes_and_its_model_repository(helm):
    [triton] = [d for d in render(helm)["Deployment"] if d["metadata"]["name"].endswith("-triton")]
    pod = triton["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert container["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/v2/health/live"
    assert pod["initContainers"][0]["volumeMounts"][0]["name"] == "models"
    [cpu] = [d for d in render(helm, "cpu-values.yaml")["Deployment"] if d["metadata"]["name"].endswith("-triton")]
    cpu_pod = cpu["spec"]["template"]["spec"]
    assert "nvidia.com/gpu" not in cpu_pod["containers"][0]["resources"]["limits"] and "initContainers" not in cpu_pod
    assert cpu_pod["volumes"][0]["persistentVolumeClaim"]["claimName"] == "ragstream-models"
    assert "Deployment" in render(helm, "external-triton-values.yaml")
    assert not any(d["metadata"]["name"].endswith("-triton")
                   for d in render(helm, "external-triton-values.yaml")["Deployment"])


@pytest.mark.parametrize(("sets", "message"), [
    ({"replicaCount": "3"}, "Additional property replicaCount is not allowed"),
    ({"config.api.port": "http"}, "config.api.port: Invalid type. Expected: integer, given: string"),
    ({"config.retrieval.fusoin": "rrf"}, "Additional property fusoin is not allowed"),
    ({"config.retrieval.fusion": "magic"}, "must be one of the following"),
    ({"config.kafka.bootstrap_servers": "null"}, "bootstrap_servers is required"),
    ({"config.milvus.uri": ""}, "config.milvus.uri: String length must be greater than or equal to 1"),
    ({"secrets.apiKeys.k1": "Not A Tenant"}, "Does not match pattern"),
    ({"workers.autoscaling.keda.enabled": "true", "workers.autoscaling.hpa.enabled": "true"}, "not both"),
    ({"triton.enabled": "false"}, "config.models.triton.url is required when triton.enabled is false"),
])
def test_invalid_values_are_rejected_with_a_clear_message(helm, sets, message):
    with pytest.raises(HelmError) as raised:
        helm.template(CHART, sets=sets)
    assert message in str(raised.value)


def test_helm_is_the_pinned_binary():
    binary: Path = helm_binary()
    assert binary.stat().st_mode & 0o111


def test_a_missing_helm_says_run_make_install_and_downloads_nothing(tmp_path, monkeypatch):
    def no_download(*args, **kwargs):
        raise AssertionError("helm_binary() must not download: tests run without a network")

    monkeypatch.setattr("ragstream.infra.kube.helm.subprocess.run", no_download)
    with pytest.raises(FileNotFoundError, match="make install"):
        helm_binary(tmp_path / "helm")
    (tmp_path / "helm").write_bytes(b"not helm")
    with pytest.raises(FileNotFoundError, match="sha256"):
        helm_binary(tmp_path / "helm")


def test_no_file_in_the_repository_reads_the_shared_folder():
    root = Path(__file__).resolve().parents[1]
    tracked = subprocess.run(["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True).stdout
    outside = ".." + "/shared"  # spelled in two parts so this file does not match itself
    offenders = [name for name in tracked.split()
                 if name.endswith((".py", ".md", ".yaml", ".tpl", ".txt", ".json", "Makefile", "run"))
                 and outside in (root / name).read_text(errors="replace")]
    assert offenders == []
