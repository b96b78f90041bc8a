"""Offline validation of rendered manifests: built-in kinds against Kubernetes' own schemas (kubernetes-validate,
strict), custom resources against their CRDs' ``openAPIV3Schema`` made strict, the pod templates inside a
RayService as ``PodTemplate``s, and its ``serveConfigV2`` against Ray's Serve config schema.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import yaml

from ragstream.infra.kube.helm import API_VERSIONS, KUBE_VERSION

# Vendored beside this module with their licence and provenance (crds/README.md).
CRDS = Path(__file__).resolve().parent / "crds"
# Custom kinds the chart renders whose CRD is not vendored: named, so a check can say it did not validate them.
UNCHECKED = {("keda.sh/v1alpha1", "TriggerAuthentication")}
CUSTOM_GROUPS = {api.split("/")[0] for api in API_VERSIONS}


def _strict(schema: Any) -> Any:
    """OpenAPI v3 (structural) → JSON Schema with unknown fields rejected where the CRD does not allow them."""
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _strict(value) for key, value in schema.items()
           if key not in ("properties", "additionalProperties") or not isinstance(value, dict)}
    if isinstance(schema.get("properties"), dict):
        out["properties"] = {name: _strict(sub) for name, sub in schema["properties"].items()}
    if isinstance(schema.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(schema["additionalProperties"])
    if out.get("type") == "object" and "properties" in out and "additionalProperties" not in out \
            and not schema.get("x-kubernetes-preserve-unknown-fields"):
        out["additionalProperties"] = False
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if out.pop("x-kubernetes-int-or-string", False):
        out.setdefault("anyOf", [{"type": "integer"}, {"type": "string"}])
    return out


@cache
def crd_schemas(crds: Path = CRDS) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) → strict JSON Schema of every served version of every vendored CRD."""
    if not crds.is_dir():
        raise FileNotFoundError(f"CRDs not found at {crds}: they are vendored in the repository (infra/kube/crds)")
    schemas = {}
    for path in sorted(crds.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))
            schemas[(f"{spec['group']}/{version['name']}", spec["names"]["kind"])] = schema
    return schemas


def _name(resource: dict[str, Any]) -> str:
    return f"{resource.get('kind')}/{resource.get('metadata', {}).get('name')}"


def _pod_templates(rayservice: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    cluster = rayservice["spec"]["rayClusterConfig"]
    groups = [("head", cluster["headGroupSpec"])] + \
        [(group["groupName"], group) for group in cluster.get("workerGroupSpecs", [])]
    return [(name, {"apiVersion": "v1", "kind": "PodTemplate", "metadata": {"name": f"ray-{name}"},
                    "template": group["template"]}) for name, group in groups]


def _builtin(resource: dict[str, Any]) -> list[str]:
    try:
        kubernetes_validate.validate(resource, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return [f"{_name(resource)}: {'.'.join(map(str, error.path))}: {error.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{_name(resource)}: no Kubernetes {KUBE_VERSION} schema for {resource.get('apiVersion')}"]
    return []


def _custom(resource: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    errors = [f"{_name(resource)}: {'.'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(resource)]
    if resource["kind"] == "RayService":
        from ray.serve.schema import ServeDeploySchema

        try:
            ServeDeploySchema.model_validate(yaml.safe_load(resource["spec"]["serveConfigV2"]))
        except Exception as error:
            errors.append(f"{_name(resource)}: serveConfigV2: {error}")
        for group, template in _pod_templates(resource):
            errors += [f"{message} (pod template of group {group})" for message in _builtin(template)]
    return errors


def validate(resources: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(errors, kinds left unchecked) for the rendered resources."""
    schemas = crd_schemas()
    errors, unchecked = [], []
    for resource in resources:
        key = (resource.get("apiVersion"), resource.get("kind"))
        if key in schemas:
            errors += _custom(resource, schemas[key])
        elif key in UNCHECKED:
            unchecked.append(_name(resource))
        elif str(key[0]).split("/")[0] in CUSTOM_GROUPS:
            errors.append(f"{_name(resource)}: custom resource with no CRD to validate it against")
        else:
            errors += _builtin(resource)
    return errors, unchecked
