{{/*
Names: "palisade" unless overridden; with a release named after the chart,
objects are named as deploy/ names them (palisade-hub, palisade-agent,
palisade-admission).
*/}}
{{- define "palisade.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 40 | trimSuffix "-" -}}
{{- end -}}

{{- define "palisade.fullname" -}}
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

{{/* Labels of every object; "component" is hub, agent or admission. */}}
{{- define "palisade.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "palisade.selectorLabels" . }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "palisade.selectorLabels" -}}
app.kubernetes.io/name: {{ include "palisade.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
An image reference from {repository, digest}: by digest only, never by
tag, so what runs is what the release signed.
*/}}
{{- define "palisade.image" -}}
{{- $d := toString .image.digest -}}
{{- if not (regexMatch "^sha256:([0-9a-f]{64}|IMAGE_DIGEST_PLACEHOLDER)$" $d) -}}
{{- fail (printf "%s.digest must be sha256:<64 hex digits> (images are pinned by digest), not %q" .path $d) -}}
{{- end -}}
{{- if not .image.repository -}}
{{- fail (printf "%s.repository is empty" .path) -}}
{{- end -}}
{{- printf "%s@%s" .image.repository $d -}}
{{- end -}}

{{/* The restricted Pod Security Standard, for every container. */}}
{{- define "palisade.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "palisade.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Scheduling fields shared by the three Deployments. */}}
{{- define "palisade.scheduling" -}}
{{- with .values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .values.priorityClassName }}
priorityClassName: {{ . }}
{{- end }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{/* DNS to any resolver (kube-dns lives in another namespace). */}}
{{- define "palisade.dnsEgress" -}}
- ports:
  - {protocol: UDP, port: 53}
  - {protocol: TCP, port: 53}
{{- end -}}

{{/* Names shared between components. */}}
{{- define "palisade.admissionName" -}}{{ include "palisade.fullname" . }}-admission{{- end -}}
{{- define "palisade.breakGlassLedgerName" -}}{{ include "palisade.fullname" . }}-break-glass-ledger{{- end -}}
{{- define "palisade.runtimeLedgerName" -}}{{ include "palisade.fullname" . }}-runtime-ledger{{- end -}}
{{/* The image file list shards are this prefix and 0…7 (internal/runtime.ImageFilesShards). */}}
{{- define "palisade.imageFilesPrefix" -}}{{ include "palisade.fullname" . }}-image-files-{{- end -}}
{{- define "palisade.imageFilesNames" -}}{{ $p := include "palisade.imageFilesPrefix" . }}{{ range $i, $_ := until 8 }}{{ if $i }}, {{ end }}{{ $p }}{{ $i }}{{ end }}{{- end -}}
{{- define "palisade.admissionPolicyName" -}}{{ include "palisade.fullname" . }}-admission-policy{{- end -}}
{{- define "palisade.admissionTLSName" -}}
{{- if and (eq .Values.admission.tls.mode "secret") .Values.admission.tls.secretName -}}
{{ .Values.admission.tls.secretName }}
{{- else -}}
{{ include "palisade.fullname" . }}-admission-tls
{{- end -}}
{{- end -}}

{{/*
palisade.io/exempt from a component's `exemptions` (rule ID: reason), so
every deviation from Palisade's own rules is written in values.yaml with
its reason, and a scan of the release shows it as exempt, not as clean.
*/}}
{{- define "palisade.exemptAnnotation" -}}
{{- $entries := list -}}
{{- range $rule, $reason := . -}}
{{- if not $reason -}}
{{- fail (printf "exemption of %s needs a reason" $rule) -}}
{{- end -}}
{{- if regexMatch "[;\n]" $reason -}}
{{- fail (printf "exemption of %s: the reason cannot hold ';' or a new line (they separate palisade.io/exempt entries)" $rule) -}}
{{- end -}}
{{- $entries = append $entries (printf "%s: %s" $rule $reason) -}}
{{- end -}}
{{- if $entries }}
palisade.io/exempt: {{ join "; " $entries | quote }}
{{- end -}}
{{- end -}}

{{/*
The size of a PersistentVolumeClaim: an existing claim keeps its size (a
claim can never shrink, and can grow only where its storage class allows),
unless persistence.resize asks for persistence.size.
*/}}
{{- define "palisade.pvcSize" -}}
{{- $size := .persistence.size -}}
{{- if not .persistence.resize -}}
{{- with lookup "v1" "PersistentVolumeClaim" .root.Release.Namespace .name -}}
{{- $size = .spec.resources.requests.storage | default $size -}}
{{- end -}}
{{- end -}}
{{- $size -}}
{{- end -}}
