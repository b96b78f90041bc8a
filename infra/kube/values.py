"""The Helm chart's values (``helm/ragstream/values.yaml``): its ``values.schema.json`` is generated from these
models (``make chart``), so Helm rejects an unknown key or a wrong type before anything renders.

Kubernetes' own structures (resources, affinity, tolerations, security contexts) stay open objects: the API server
validates those, and the chart's CI check validates every rendered resource against Kubernetes' schemas.
``config`` is the settings object itself (see :mod:`ragstream.infra.kube.chart_files`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ragstream.schemas.events import TenantId

Object = dict[str, Any]
Quantity = str | int | float


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Placement(Strict):
    nodeSelector: dict[str, str] = {}
    tolerations: list[Object] = []
    affinity: Object = {}


class Resources(Strict):
    requests: dict[str, Quantity] = {}
    limits: dict[str, Quantity] = {}


class Image(Strict):
    repository: str = Field(min_length=1)
    tag: str = Field("", description="defaults to the chart's appVersion")
    pullPolicy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"


class ServiceAccount(Strict):
    create: bool = True
    name: str = ""
    annotations: dict[str, str] = {}


class Secrets(Strict):
    existingSecret: str = Field("", description="a Secret holding the RAGSTREAM_* credential keys")
    apiKeys: dict[str, TenantId] = Field({}, description='{"api key": "tenant"}')
    kafkaSaslPassword: str = ""
    milvusToken: str = ""


class Kafka(Strict):
    caSecret: str = Field("", description="Secret with ca.crt for Kafka TLS")


class Otel(Strict):
    endpoint: str = Field("", description="OTLP endpoint; empty = no export")
    protocol: Literal["http/protobuf"] = "http/protobuf"
    samplingRatio: float = Field(1.0, ge=0, le=1)
    serviceNamePrefix: str = Field("ragstream", min_length=1)
    resourceAttributes: str = ""


class MinAvailable(Strict):
    enabled: bool = True
    minAvailable: int | str = 1


class MaxUnavailable(Strict):
    enabled: bool = True
    maxUnavailable: int | str = 1


class RayHead(Placement):
    numCpus: int = Field(0, ge=0, description="CPUs Ray may schedule replicas on at the head")
    resources: Resources


class RayWorkerGroup(Placement):
    name: str = Field(pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", max_length=40)
    replicas: int = Field(ge=0)
    minReplicas: int = Field(ge=0)
    maxReplicas: int = Field(ge=1)
    resources: Resources


class RayService(Strict):
    rayVersion: str = Field(min_length=1)
    enableInTreeAutoscaling: bool = True
    autoscalerIdleTimeoutSeconds: int = Field(60, ge=0)
    head: RayHead
    workerGroups: list[RayWorkerGroup] = Field(min_length=1)
    podDisruptionBudget: MinAvailable


class Keda(Strict):
    enabled: bool = False
    minReplicas: int = Field(1, ge=0)
    maxReplicas: int = Field(4, ge=1)
    lagThreshold: int = Field(100, ge=1, description="consumer lag per replica")
    activationLagThreshold: int = Field(0, ge=0)
    pollingInterval: int = Field(15, ge=1)
    cooldownPeriod: int = Field(120, ge=0)


class Hpa(Strict):
    enabled: bool = False
    minReplicas: int = Field(1, ge=1)
    maxReplicas: int = Field(4, ge=1)
    targetCPUUtilizationPercentage: int = Field(70, ge=1, le=100)
    externalLagMetric: str = ""
    lagTargetAverageValue: int = Field(100, ge=1)


class WorkerAutoscaling(Strict):
    keda: Keda
    hpa: Hpa


class Workers(Placement):
    replicas: int = Field(2, ge=0)
    resources: Resources
    terminationGracePeriodSeconds: int = Field(60, ge=0)
    podDisruptionBudget: MaxUnavailable
    autoscaling: WorkerAutoscaling


class ModelRepository(Strict):
    persistentVolumeClaim: str = Field("", description="existing PVC; empty = copied from the ragstream image")
    subPath: str = ""


class TritonPorts(Strict):
    http: int = Field(8000, ge=1, le=65535)
    grpc: int = Field(8001, ge=1, le=65535)
    metrics: int = Field(8002, ge=1, le=65535)


class Triton(Placement):
    enabled: bool = True
    image: Image
    replicas: int = Field(1, ge=1)
    gpus: int = Field(1, ge=0, description="nvidia.com/gpu per pod; 0 = CPU")
    resources: Resources
    shmSize: str = "2Gi"
    modelRepository: ModelRepository
    ports: TritonPorts
    startupTimeoutSeconds: int = Field(600, ge=10)
    podDisruptionBudget: MinAvailable


class Ingress(Strict):
    enabled: bool = False
    className: str = ""
    annotations: dict[str, str] = {}
    host: str = Field(min_length=1)
    path: str = "/"
    tls: list[Object] = []


class ServiceMonitor(Strict):
    enabled: bool = False
    interval: str = Field("30s", pattern=r"^[0-9]+(ms|s|m|h)$")
    labels: dict[str, str] = {}


class NetworkPolicy(Strict):
    enabled: bool = True
    apiFrom: list[Object] = Field([], description="extra NetworkPolicy peers allowed to reach the API")
    rayOperatorFrom: list[Object] = Field(min_length=1, description="peers where the KubeRay operator runs")


class ChartValues(Strict):
    nameOverride: str = ""
    fullnameOverride: str = ""
    image: Image
    imagePullSecrets: list[Object] = []
    serviceAccount: ServiceAccount
    commonLabels: dict[str, str] = {}
    podAnnotations: dict[str, str] = {}
    podSecurityContext: Object = {}
    securityContext: Object = {}
    secrets: Secrets
    kafka: Kafka
    otel: Otel
    rayService: RayService
    workers: Workers
    triton: Triton
    ingress: Ingress
    serviceMonitor: ServiceMonitor
    networkPolicy: NetworkPolicy
    config: Object = Field(description="ragstream's settings (RAGSTREAM_* environment), see the chart README")
