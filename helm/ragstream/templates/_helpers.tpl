{{/* Names and labels (the usual Helm conventions). */}}
{{- define "ragstream.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ragstream.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ragstream.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ragstream.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Call with (dict "root" $ "component" "workers"). */}}
{{- define "ragstream.labels" -}}
{{ include "ragstream.selectorLabels" . }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: ragstream
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "ragstream.image" -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}

{{- define "ragstream.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ragstream.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "ragstream.secretName" -}}
{{- default (printf "%s-credentials" (include "ragstream.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{- define "ragstream.tritonService" -}}
{{- printf "%s-triton" (include "ragstream.fullname" .) -}}
{{- end -}}

{{/*
The settings every process reads: `config` plus what the release decides (the chart's Triton, the Kafka CA path).
Rendered as YAML; the env helpers below flatten it.
*/}}
{{- define "ragstream.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- if and (eq $config.models.backend "triton") (not $config.models.triton.url) -}}
{{- if not .Values.triton.enabled -}}
{{- fail "config.models.triton.url is required when triton.enabled is false: the gRPC host:port of an external Triton" -}}
{{- end -}}
{{- $_ := set $config.models.triton "url" (printf "%s:%v" (include "ragstream.tritonService" .) .Values.triton.ports.grpc) -}}
{{- end -}}
{{- if .Values.kafka.caSecret -}}
{{- $_ := set $config.kafka "ssl_cafile" "/etc/ragstream/kafka-ca/ca.crt" -}}
{{- end -}}
{{- toYaml $config -}}
{{- end -}}

{{/*
Flattens settings into RAGSTREAM_GROUP__KEY: "value" (strings as they are, everything else as JSON), the form
ragstream.core.settings_env writes too; unset (null) settings are left out.
*/}}
{{- define "ragstream.flatten" -}}
{{- $prefix := .prefix -}}
{{- range $key, $value := .values -}}
{{- $name := printf "%s%s" $prefix (upper $key) -}}
{{- if kindIs "map" $value -}}
{{- include "ragstream.flatten" (dict "prefix" (printf "%s__" $name) "values" $value) -}}
{{- else if not (kindIs "invalid" $value) }}
{{ $name }}: {{ ternary $value (toJson $value) (kindIs "string" $value) | quote }}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ragstream.settingsEnv" -}}
{{- include "ragstream.flatten" (dict "prefix" "RAGSTREAM_" "values" (fromYaml (include "ragstream.config" .))) -}}
{{- end -}}

{{/* Credentials, from the Secret; each optional, so a release without SASL or a Milvus token needs none. */}}
{{- define "ragstream.secretEnv" -}}
{{- $secret := include "ragstream.secretName" . -}}
{{- range $key := list "RAGSTREAM_API__API_KEYS" "RAGSTREAM_KAFKA__SASL_PASSWORD" "RAGSTREAM_MILVUS__TOKEN" }}
- name: {{ $key }}
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ $key }}
      optional: true
{{- end }}
{{- end -}}

{{/* Call with (dict "root" $ "component" "workers"). */}}
{{- define "ragstream.otelEnv" -}}
{{- $otel := .root.Values.otel -}}
- name: OTEL_SERVICE_NAME
  value: {{ printf "%s-%s" $otel.serviceNamePrefix .component | quote }}
{{- if $otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $otel.endpoint | quote }}
- name: OTEL_EXPORTER_OTLP_PROTOCOL
  value: {{ $otel.protocol | quote }}
- name: OTEL_TRACES_SAMPLER
  value: parentbased_traceidratio
- name: OTEL_TRACES_SAMPLER_ARG
  value: {{ $otel.samplingRatio | toString | quote }}
{{- else }}
- name: OTEL_TRACES_EXPORTER
  value: none
{{- end }}
{{- with $otel.resourceAttributes }}
- name: OTEL_RESOURCE_ATTRIBUTES
  value: {{ . | quote }}
{{- end }}
{{- end -}}

{{/* Writable scratch space for read-only root filesystems, plus the Kafka CA when TLS names one. */}}
{{- define "ragstream.volumes" -}}
- name: tmp
  emptyDir: {}
{{- with .Values.kafka.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
{{- end }}
{{- end -}}

{{- define "ragstream.volumeMounts" -}}
- name: tmp
  mountPath: /tmp
{{- if .Values.kafka.caSecret }}
- name: kafka-ca
  mountPath: /etc/ragstream/kafka-ca
  readOnly: true
{{- end }}
{{- end -}}

{{/* Call with (dict "root" $ "placement" .Values.workers). */}}
{{- define "ragstream.placement" -}}
{{- with .placement.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .placement.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .placement.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "ragstream.podCommon" -}}
serviceAccountName: {{ include "ragstream.serviceAccountName" . }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.podSecurityContext }}
securityContext:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* Ray nodes: Serve's throughput mode (as infra/local/ray_runtime.py sets locally), credentials, OTLP. */}}
{{- define "ragstream.rayEnv" -}}
- name: RAY_SERVE_THROUGHPUT_OPTIMIZED
  value: "1"
- name: RAY_SERVE_ENABLE_DIRECT_INGRESS
  value: "0"
- name: RAY_USAGE_STATS_ENABLED
  value: "0"
- name: HF_HUB_OFFLINE
  value: "1"
{{ include "ragstream.secretEnv" .root }}
{{ include "ragstream.otelEnv" . }}
{{- end -}}
