{{/*
Named templates. The chart keeps to the template subset in docs/deploy.md ("The template
subset") so test/support/helm-render.ts can render it without helm.
*/}}

{{/* Name of every object: the release name, or fullnameOverride. */}}
{{- define "tessera.fullname" -}}
{{- default .Release.Name .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels that select the scheduler pods. */}}
{{- define "tessera.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: scheduler
{{- end -}}

{{/* Labels of every object. */}}
{{- define "tessera.labels" -}}
{{ include "tessera.selectorLabels" . }}
app.kubernetes.io/version: {{ quote .Chart.AppVersion }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The Secret holding the webhook's tls.crt and tls.key. */}}
{{- define "tessera.tlsSecretName" -}}
{{- if .Values.tls.secretName -}}
{{- .Values.tls.secretName -}}
{{- else -}}
{{- include "tessera.fullname" . }}-webhook-tls
{{- end -}}
{{- end -}}

{{/* kube-scheduler's Lease in the release namespace; the extender follows it. */}}
{{- define "tessera.kubeSchedulerLease" -}}
{{- include "tessera.fullname" . }}-kube-scheduler
{{- end -}}

{{/* Labels that select the node agent pods. */}}
{{- define "tessera.nodeAgentSelectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: node-agent
{{- end -}}

{{/* Labels of the node agent's objects. */}}
{{- define "tessera.nodeAgentLabels" -}}
{{ include "tessera.nodeAgentSelectorLabels" . }}
app.kubernetes.io/version: {{ quote .Chart.AppVersion }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}
