{{/*
Helpers of the downward-webhook chart. Every helper is namespaced "downward-webhook.".
Nothing here may be random or time-dependent: `helm template` must be byte-stable
(Argo CD renders the chart on every sync).
*/}}

{{/* Chart name, overridable with nameOverride. */}}
{{- define "downward-webhook.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Base name of every resource: "<release>-<chart>", or the release name when it already
contains the chart name. 63 characters at most (DNS label, label value).
*/}}
{{- define "downward-webhook.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* "<fullname>-<suffix>" kept within 63 characters; call with (list $ "suffix"). */}}
{{- define "downward-webhook.suffixed" -}}
{{- $root := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "downward-webhook.fullname" $root | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{/* Chart label value. */}}
{{- define "downward-webhook.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels of one component; call with (list $ "component").
Components: webhook (the server), certs, ambassador, test.
*/}}
{{- define "downward-webhook.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "downward-webhook.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{/* All labels of one component; call with (list $ "component"). */}}
{{- define "downward-webhook.labels" -}}
{{- $root := index . 0 -}}
helm.sh/chart: {{ include "downward-webhook.chart" $root }}
{{ include "downward-webhook.selectorLabels" . }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/part-of: downward-webhook
{{- with $root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* The image reference: repository@digest, or repository:tag (tag defaults to appVersion). */}}
{{- define "downward-webhook.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Name of the ServiceAccount of the server pods and of the renewal CronJob. */}}
{{- define "downward-webhook.serviceAccountName" -}}
{{- include "downward-webhook.fullname" . -}}
{{- end -}}

{{/*
PriorityClass of the server pods: priorityClassName if set, else the chart's own class when
priorityClass.create, else "" (the cluster default).
*/}}
{{- define "downward-webhook.priorityClassName" -}}
{{- if .Values.priorityClassName -}}
{{- .Values.priorityClassName -}}
{{- else if .Values.priorityClass.create -}}
{{- include "downward-webhook.suffixed" (list . "critical") -}}
{{- end -}}
{{- end -}}

{{/* Name of the cluster-scoped MutatingWebhookConfiguration. */}}
{{- define "downward-webhook.webhookConfigName" -}}
{{- include "downward-webhook.fullname" . -}}
{{- end -}}

{{/* Name of the Secret holding the serving certificate (tls.crt, tls.key). */}}
{{- define "downward-webhook.tlsSecretName" -}}
{{- if eq .Values.certs.mode "provided" -}}
{{- required "certs.provided.secretName is required when certs.mode is provided" .Values.certs.provided.secretName -}}
{{- else -}}
{{- include "downward-webhook.suffixed" (list . "tls") -}}
{{- end -}}
{{- end -}}

{{/*
caBundle of mode provided, in base64 as the API server takes it. certs.provided.caBundle is a
PEM or its base64. Text holding "-----BEGIN" anywhere is PEM and is encoded whole: the API
server reads the bundle with Go's PEM decoder, which skips text around the blocks (a "# corp
root CA" line). Anything else is base64, which `base64` wraps at 76 columns: every white space
is removed, and it must decode to a PEM. Neither fails with one line.
*/}}
{{- define "downward-webhook.providedCABundle" -}}
{{- $ca := toString .Values.certs.provided.caBundle | trim -}}
{{- if contains "-----BEGIN" $ca -}}
{{- b64enc $ca -}}
{{- else -}}
{{- $encoded := nospace $ca -}}
{{- if not (and (regexMatch "^[A-Za-z0-9+/]+={0,2}$" $encoded) (contains "-----BEGIN" (b64dec $encoded))) -}}
{{- fail "certs.provided.caBundle is neither a PEM certificate (-----BEGIN CERTIFICATE-----) nor the base64 of one" -}}
{{- end -}}
{{- $encoded -}}
{{- end -}}
{{- end -}}

{{/*
"true" when the webhook entries carry matchConditions, else "".
AdmissionWebhookMatchConditions: alpha (off) in 1.27, beta (on by default) in 1.28, GA in 1.30.
On a cluster without it the API server would silently drop the field, turning failurePolicy
Fail into "every pod in the cluster depends on the webhook", so "auto" requires >= 1.28.
The "-0" lets pre-release builds such as v1.28.3-gke.100 match.
*/}}
{{- define "downward-webhook.matchConditions" -}}
{{- $v := .Values.webhook.matchConditions -}}
{{- if eq (toString $v) "auto" -}}
{{- if semverCompare ">=1.28-0" .Capabilities.KubeVersion.Version -}}true{{- end -}}
{{- else if $v -}}true{{- end -}}
{{- end -}}

{{/* failurePolicy: the value, or Fail with matchConditions and Ignore without them. */}}
{{- define "downward-webhook.failurePolicy" -}}
{{- if .Values.webhook.failurePolicy -}}
{{- .Values.webhook.failurePolicy -}}
{{- else if include "downward-webhook.matchConditions" . -}}
Fail
{{- else -}}
Ignore
{{- end -}}
{{- end -}}

{{/*
"true" when the ambassador is injected as a native sidecar, else "false".
SidecarContainers: alpha (off) in 1.28, beta (on by default) in 1.29, GA in 1.33.
*/}}
{{- define "downward-webhook.nativeSidecar" -}}
{{- $v := .Values.ambassador.nativeSidecar -}}
{{- if eq (toString $v) "auto" -}}
{{- semverCompare ">=1.29-0" .Capabilities.KubeVersion.Version -}}
{{- else -}}
{{- ternary "true" "false" (eq (toString $v) "true") -}}
{{- end -}}
{{- end -}}

{{/* Namespaces never sent to the webhook: the configured ones plus the release namespace. */}}
{{- define "downward-webhook.excludedNamespaces" -}}
{{- $names := append (.Values.webhook.excludedNamespaces | default list) .Release.Namespace | uniq -}}
{{- toYaml $names -}}
{{- end -}}

{{/* Pod-level security context (restricted Pod Security Standard). */}}
{{- define "downward-webhook.podSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.securityContext }}
{{- if not (kindIs "invalid" .runAsUser) }}
runAsUser: {{ .runAsUser }}
{{- end }}
{{- if not (kindIs "invalid" .runAsGroup) }}
runAsGroup: {{ .runAsGroup }}
{{- end }}
{{- if not (kindIs "invalid" .fsGroup) }}
fsGroup: {{ .fsGroup }}
{{- end }}
{{- end }}
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
Container-level security context (restricted Pod Security Standard, read-only root
filesystem), repeated on every container so that each one is compliant on its own.
*/}}
{{- define "downward-webhook.containerSecurityContext" -}}
runAsNonRoot: true
{{- with .Values.securityContext }}
{{- if not (kindIs "invalid" .runAsUser) }}
runAsUser: {{ .runAsUser }}
{{- end }}
{{- if not (kindIs "invalid" .runAsGroup) }}
runAsGroup: {{ .runAsGroup }}
{{- end }}
{{- end }}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/*
A projected service-account token volume, the same one the kubelet would mount, used instead of
automountServiceAccountToken so that only the containers that call the API server (the
certificate init container and the CronJob) hold a token, never the webhook server.
*/}}
{{- define "downward-webhook.kubeApiAccessVolume" -}}
- name: kube-api-access
  projected:
    defaultMode: 0440
    sources:
      - serviceAccountToken:
          path: token
          expirationSeconds: 3600
      - configMap:
          name: kube-root-ca.crt
          items:
            - key: ca.crt
              path: ca.crt
      - downwardAPI:
          items:
            - path: namespace
              fieldRef:
                apiVersion: v1
                fieldPath: metadata.namespace
{{- end -}}

{{- define "downward-webhook.kubeApiAccessMount" -}}
- name: kube-api-access
  mountPath: /var/run/secrets/kubernetes.io/serviceaccount
  readOnly: true
{{- end -}}

{{/* The certificate container (init container of the server pods, CronJob container). */}}
{{- define "downward-webhook.certsContainer" -}}
- name: certs
  image: {{ include "downward-webhook.image" . | quote }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  args:
    - certs
    - ensure
    - {{ printf "--namespace=%s" .Release.Namespace | quote }}
    - {{ printf "--secret=%s" (include "downward-webhook.tlsSecretName" .) | quote }}
    - {{ printf "--service=%s" (include "downward-webhook.fullname" .) | quote }}
    - {{ printf "--webhook-config=%s" (include "downward-webhook.webhookConfigName" .) | quote }}
    - {{ printf "--validity-days=%d" (int64 .Values.certs.selfSigned.validityDays) | quote }}
    - {{ printf "--renew-before-days=%d" (int64 .Values.certs.selfSigned.renewBeforeDays) | quote }}
    {{- if .Values.certs.selfSigned.dropOldCAs }}
    - --drop-old-cas
    {{- end }}
  resources:
    {{- toYaml .Values.certs.selfSigned.resources | nindent 4 }}
  securityContext:
    {{- include "downward-webhook.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    {{- include "downward-webhook.kubeApiAccessMount" . | nindent 4 }}
    - name: tmp
      mountPath: /tmp
{{- end -}}

{{/*
The value of a Kubernetes quantity as the schema admits it ("64Mi", "100m", "0.5", "1e3", 2),
as a float, for comparing two: the number times its binary (Ki..Ei) or decimal (n..E) suffix,
multiplied or divided by an exact power so that equal values in two notations compare equal
(webhook/core/values.py:quantity_value is the server's exact version).
*/}}
{{- define "downward-webhook.quantityValue" -}}
{{- $text := toString . -}}
{{- $binary := dict "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 "Ei" 1152921504606846976.0 -}}
{{- $times := dict "k" 1e3 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "E" 1e18 -}}
{{- $over := dict "n" 1e9 "u" 1e6 "m" 1e3 -}}
{{- $suffix := regexFind "([KMGTPE]i|[numkMGTPE])$" $text -}}
{{- $number := trimSuffix $suffix $text | float64 -}}
{{- if hasKey $binary $suffix -}}{{- mulf $number (get $binary $suffix) -}}
{{- else if hasKey $times $suffix -}}{{- mulf $number (get $times $suffix) -}}
{{- else if hasKey $over $suffix -}}{{- divf $number (get $over $suffix) -}}
{{- else -}}{{- $number -}}
{{- end -}}
{{- end -}}

{{/*
Seconds of a Go duration as the schema admits it ("2160h", "1h30m", "90s", "1.5h", "500ms"),
for comparing two durations.
*/}}
{{- define "downward-webhook.durationSeconds" -}}
{{- $seconds := dict "h" 3600.0 "m" 60.0 "s" 1.0 "ms" 0.001 "us" 0.000001 "ns" 0.000000001 -}}
{{- $total := 0.0 -}}
{{- range regexFindAll "[0-9]+([.][0-9]+)?(ms|us|ns|h|m|s)" (toString .) -1 -}}
{{- $unit := regexFind "(ms|us|ns|h|m|s)$" . -}}
{{- $total = addf $total (mulf (trimSuffix $unit . | float64) (get $seconds $unit)) -}}
{{- end -}}
{{- $total -}}
{{- end -}}

{{/*
Checks of value combinations the schema cannot express; renders nothing.
A feature forced on (true, not auto) for a cluster that lacks it would render manifests the API
server drops silently (matchConditions: failurePolicy Fail for every pod), misinjects
(restartPolicy Always init containers: the ambassador never starts before 1.29) or refuses
(ValidatingAdmissionPolicy v1), so the render fails instead. Same versions as the auto checks.
*/}}
{{- define "downward-webhook.validate" -}}
{{- $kube := .Capabilities.KubeVersion.Version -}}
{{- range list (list "webhook.matchConditions" .Values.webhook.matchConditions "1.28" "AdmissionWebhookMatchConditions on by default")
  (list "ambassador.nativeSidecar" .Values.ambassador.nativeSidecar "1.29" "SidecarContainers on by default")
  (list "guarantee.enabled" .Values.guarantee.enabled "1.30" "admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy") -}}
{{- $name := index . 0 -}}{{- $since := index . 2 -}}
{{- if and (eq (toString (index . 1)) "true") (not (semverCompare (printf ">=%s-0" $since) $kube)) -}}
{{- fail (printf "%s=true needs Kubernetes %s or later (%s), but this render is for %s: set it to auto or false" $name $since (index . 3) $kube) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) -}}
{{- fail "autoscaling.minReplicas must not be above autoscaling.maxReplicas" -}}
{{- end -}}
{{- with .Values.certs.selfSigned -}}
{{- if and (eq $.Values.certs.mode "self-signed") (ge (int64 .renewBeforeDays) (int64 .validityDays)) -}}
{{- /* The sentence of `certs ensure`, which would otherwise fail in the init container. */ -}}
{{- fail (printf "certs.selfSigned: renew-before (%d days) must be shorter than the validity (%d days)" (int64 .renewBeforeDays) (int64 .validityDays)) -}}
{{- end -}}
{{- end -}}
{{- with .Values.certs.certManager -}}
{{- if and (eq $.Values.certs.mode "cert-manager") (ge (include "downward-webhook.durationSeconds" .renewBefore | float64) (include "downward-webhook.durationSeconds" .duration | float64)) -}}
{{- /* cert-manager's webhook refuses such a Certificate, and the server pods wait for its Secret. */ -}}
{{- fail (printf "certs.certManager: renewBefore (%s) must be shorter than the duration (%s)" .renewBefore .duration) -}}
{{- end -}}
{{- end -}}
{{- range $resource := list "cpu" "memory" -}}
{{- /* The server's own check (--ambassador-*-request/-limit), which would otherwise exit 2. */ -}}
{{- $request := index $.Values.ambassador.resources.requests $resource -}}
{{- $limit := index $.Values.ambassador.resources.limits $resource -}}
{{- if le (include "downward-webhook.quantityValue" $limit | float64) 0.0 -}}
{{- fail (printf "ambassador.resources.limits.%s (%v): a limit must be more than 0" $resource $limit) -}}
{{- end -}}
{{- if gt (include "downward-webhook.quantityValue" $request | float64) (include "downward-webhook.quantityValue" $limit | float64) -}}
{{- fail (printf "ambassador.resources.requests.%s (%v) is more than ambassador.resources.limits.%s (%v): Kubernetes refuses a request above its limit in every pod that gets the ambassador" $resource $request $resource $limit) -}}
{{- end -}}
{{- end -}}
{{- if eq .Values.certs.mode "provided" -}}
{{- $_ := required "certs.provided.secretName is required when certs.mode is provided" .Values.certs.provided.secretName -}}
{{- $_ := required "certs.provided.caBundle is required when certs.mode is provided" .Values.certs.provided.caBundle -}}
{{- $_ := include "downward-webhook.providedCABundle" . -}}
{{- end -}}
{{- end -}}
