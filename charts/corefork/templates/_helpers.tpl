{{/*
Chart name, truncated to 63 characters (the DNS label limit).
*/}}
{{- define "corefork.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: RELEASE-CHART, or just RELEASE when it already
contains the chart name. Truncated to 63 characters.
*/}}
{{- define "corefork.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "corefork.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Common labels: the chart's standard ones, then .Values.commonLabels (which
may not redefine a standard one: the selectors depend on them).
*/}}
{{- define "corefork.labels" -}}
helm.sh/chart: {{ include "corefork.chart" . }}
{{ include "corefork.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{- range $k, $v := . }}
{{- if has $k (list "helm.sh/chart" "app.kubernetes.io/name" "app.kubernetes.io/instance" "app.kubernetes.io/version" "app.kubernetes.io/managed-by" "app.kubernetes.io/component") }}
{{- fail (printf "commonLabels: %q is set by the chart itself; use another key" $k) }}
{{- end }}
{{- end }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
corefork.annotations: an object's metadata.annotations block, starting with
a newline and indented by 2, or nothing: .Values.commonAnnotations with the
object's own annotations over them.
Usage: {{- include "corefork.annotations" (list $ .Values.service.annotations) }}
*/}}
{{- define "corefork.annotations" -}}
{{- $ctx := index . 0 }}
{{- $own := index . 1 | default dict }}
{{- $all := merge (deepCopy $own) (deepCopy ($ctx.Values.commonAnnotations | default dict)) }}
{{- with $all }}
{{- printf "annotations:\n%s" (toYaml . | indent 2) | nindent 2 }}
{{- end }}
{{- end }}

{{/*
corefork.metricsServiceName: the opt-in Service in front of the admin port.
*/}}
{{- define "corefork.metricsServiceName" -}}
{{- printf "%s-metrics" (include "corefork.fullname" . | trunc 55 | trimSuffix "-") }}
{{- end }}

{{/*
corefork.metricsServiceEnabled: "true" when the metrics Service is rendered:
asked for (metrics.service.enabled), or needed by a ServiceMonitor.
*/}}
{{- define "corefork.metricsServiceEnabled" -}}
{{- if or .Values.metrics.service.enabled .Values.metrics.serviceMonitor.enabled }}true{{ end }}
{{- end }}

{{/*
corefork.appMetricsPort: with metrics.app.mode "port", the port the monitors
also scrape, as YAML {name, port}: a container port of corefork's (one of
its listeners) or of a sidecar. Empty otherwise. Fails on an unknown name.
*/}}
{{- define "corefork.appMetricsPort" -}}
{{- $app := .Values.metrics.app }}
{{- if eq (toString $app.mode) "port" }}
{{- $name := required "metrics.app.port: name the container port that serves the app's metrics (mode port)" $app.port }}
{{- if eq $name "admin" }}
{{- fail "metrics.app.port: admin is corefork's own /metrics, scraped already; name the app's port" }}
{{- end }}
{{- $found := dict }}
{{- range (include "corefork.appPorts" . | fromYaml).ports }}
{{- if eq .name $name }}{{ $found = dict "name" .name "port" .port }}{{ end }}
{{- end }}
{{- range .Values.sidecars }}
{{- range (get . "ports" | default list) }}
{{- if eq (toString (get . "name")) $name }}{{ $found = dict "name" $name "port" (.containerPort | int) }}{{ end }}
{{- end }}
{{- end }}
{{- if not $found }}
{{- fail (printf "metrics.app.port: %q is neither a corefork listener nor a port of a sidecar" $name) }}
{{- end }}
{{- toYaml $found }}
{{- end }}
{{- end }}

{{/*
Selector labels (must never change for a release).
*/}}
{{- define "corefork.selectorLabels" -}}
app.kubernetes.io/name: {{ include "corefork.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
The service account's name.
*/}}
{{- define "corefork.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "corefork.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The image reference: REPOSITORY@DIGEST when image.digest is set (the tag is
then ignored), else REPOSITORY:TAG, the tag defaulting to the appVersion.
*/}}
{{- define "corefork.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository }}
{{- if .Values.image.digest }}
{{- printf "%s@%s" $repo .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" $repo (toString (.Values.image.tag | default .Chart.AppVersion)) }}
{{- end }}
{{- end }}

{{/*
corefork.durationMs: a corefork duration in whole milliseconds, the way
corefork reads it: a number with the suffix ms, s, m or h ("250ms", "1.5s",
"2m", "1h"), or a bare number of seconds ("30", 30, 2.5). Fails on anything
else, naming the key.
Usage: include "corefork.durationMs" (list "shutdown.timeout" $value)
*/}}
{{- define "corefork.durationMs" -}}
{{- $key := index . 0 }}
{{- $raw := index . 1 | toString | trim }}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(ms|s|m|h)?$" $raw) }}
{{- fail (printf "%s: expected a duration like 250ms, 5s, 2m, 1h or a number of seconds, got %q" $key $raw) }}
{{- end }}
{{- $number := regexFind "^[0-9]+(\\.[0-9]+)?" $raw }}
{{- $unit := trimPrefix $number $raw | default "s" }}
{{- $factor := get (dict "ms" 1 "s" 1000 "m" 60000 "h" 3600000) $unit }}
{{- round (mulf ($number | float64) $factor) 0 | int64 }}
{{- end }}

{{/*
corefork.preStopSleepSeconds: lifecycle.preStop.sleep.seconds, or 0. The
kubelet runs the preStop hook before it sends SIGTERM, inside the grace
period. Kubernetes has the sleep action from 1.29 (a feature gate there, on
by default from 1.30).
*/}}
{{- define "corefork.preStopSleepSeconds" -}}
{{- $sleep := dig "preStop" "sleep" "seconds" 0 (.Values.lifecycle | default dict) | int }}
{{- if and (gt $sleep 0) (semverCompare "<1.29.0-0" .Capabilities.KubeVersion.Version) }}
{{- fail (printf "lifecycle.preStop.sleep needs Kubernetes 1.29 or later (this is %s); use corefork.shutdown.drain_delay instead" .Capabilities.KubeVersion.Version) }}
{{- end }}
{{- $sleep }}
{{- end }}

{{/*
corefork.terminationGracePeriodSeconds: how long the kubelet waits, from the
start of the pod's termination, before it SIGKILLs the container:
  lifecycle.preStop.sleep.seconds (default 0, runs before SIGTERM)
  + corefork.shutdown.drain_delay (default 5s)
  + corefork.shutdown.timeout (default 30s)
  + terminationGracePeriodMargin (default 5s)
summed in milliseconds and rounded up to whole seconds. An explicit
terminationGracePeriodSeconds replaces the sum but must exceed it without
the margin, or the kubelet would SIGKILL corefork before its own deadline.
*/}}
{{- define "corefork.terminationGracePeriodSeconds" -}}
{{- $shutdown := dig "shutdown" (dict) .Values.corefork }}
{{- $sleep := include "corefork.preStopSleepSeconds" . | int64 }}
{{- $drain := include "corefork.durationMs" (list "corefork.shutdown.drain_delay" (dig "drain_delay" "5s" $shutdown)) | int64 }}
{{- $timeout := include "corefork.durationMs" (list "corefork.shutdown.timeout" (dig "timeout" "30s" $shutdown)) | int64 }}
{{- $needMs := add (mul $sleep 1000) $drain $timeout }}
{{- /* index: null or absent alike (Helm may drop a null default). */}}
{{- $set := index .Values "terminationGracePeriodSeconds" }}
{{- if not (kindIs "invalid" $set) }}
{{- $override := $set | int64 }}
{{- if le (mul $override 1000) $needMs }}
{{- fail (printf "terminationGracePeriodSeconds: %d is too short: lifecycle.preStop.sleep.seconds + corefork.shutdown.drain_delay + corefork.shutdown.timeout take %dms, and the kubelet would SIGKILL corefork before its workers' deadline; give more than that, or leave it null to compute it" $override $needMs) }}
{{- end }}
{{- $override }}
{{- else }}
{{- $margin := "5s" }}
{{- if hasKey .Values "terminationGracePeriodMargin" }}
{{- $margin = .Values.terminationGracePeriodMargin }}
{{- end }}
{{- $marginMs := include "corefork.durationMs" (list "terminationGracePeriodMargin" $margin) | int64 }}
{{- div (add $needMs $marginMs 999) 1000 }}
{{- end }}
{{- end }}

{{/*
corefork.adminPort: the port of corefork.admin ("ADDR:PORT", "[IPV6]:PORT").
The kubelet probes and Prometheus scrape the pod IP, so the admin server
must not listen on loopback only.
*/}}
{{- define "corefork.adminPort" -}}
{{- $admin := dig "admin" "0.0.0.0:9180" .Values.corefork | toString }}
{{- if not (regexMatch "^(\\[[0-9A-Fa-f:.]*\\]|[^:\\[\\]]*):[0-9]+$" $admin) }}
{{- fail (printf "corefork.admin: expected ADDR:PORT, e.g. 0.0.0.0:9180, got %q" $admin) }}
{{- end }}
{{- $host := regexReplaceAll ":[0-9]+$" $admin "" }}
{{- if or (hasPrefix "127." $host) (eq $host "[::1]" "localhost") }}
{{- fail (printf "corefork.admin: %q listens on loopback only, but the kubelet probes and Prometheus reach the pod IP: use 0.0.0.0:PORT or [::]:PORT" $admin) }}
{{- end }}
{{- $port := regexFind "[0-9]+$" $admin | atoi }}
{{- if or (lt $port 1) (gt $port 65535) }}
{{- fail (printf "corefork.admin: the port must be 1..65535 (a fixed port the probes can reach), got %q" $admin) }}
{{- end }}
{{- $port }}
{{- end }}

{{/*
corefork.appPorts: the app's listening ports as YAML {ports: [{name, port}]}:
one per entry of corefork.listeners (corefork.port overriding the first), or
the single listener "http" on corefork.port (default 8080).
Usage: (include "corefork.appPorts" . | fromYaml).ports
*/}}
{{- define "corefork.appPorts" -}}
{{- $cfg := .Values.corefork }}
{{- $ports := list }}
{{- $listeners := dig "listeners" (list) $cfg }}
{{- if $listeners }}
{{- range $i, $l := $listeners }}
{{- $port := dig "port" 8080 $l }}
{{- if and (eq $i 0) (hasKey $cfg "port") }}
{{- $port = $cfg.port }}
{{- end }}
{{- $ports = append $ports (dict "name" (dig "name" "http" $l) "port" ($port | int)) }}
{{- end }}
{{- else }}
{{- $ports = list (dict "name" "http" "port" (dig "port" 8080 $cfg | int)) }}
{{- end }}
{{- range $ports }}
{{- if eq .name "admin" }}
{{- fail "corefork.listeners: the name \"admin\" is taken by the admin port" }}
{{- end }}
{{- if eq (.port | toString) (include "corefork.adminPort" $) }}
{{- fail (printf "corefork: listener %q uses port %d, the admin port" .name .port) }}
{{- end }}
{{- end }}
{{- toYaml (dict "ports" $ports) }}
{{- end }}

{{/*
corefork.config: the config file corefork.yaml: .Values.corefork with the
jobs of .Values.jobs merged into its jobs map, and with metrics.app.mode
merge, metrics.app {path, timeout, max_bytes} from .Values.metrics.app.
*/}}
{{- define "corefork.config" -}}
{{- $cfg := deepCopy .Values.corefork }}
{{- $app := .Values.metrics.app }}
{{- if eq (toString $app.mode) "merge" }}
{{- if dig "metrics" "app" nil $cfg }}
{{- fail "metrics.app.mode merge writes corefork.metrics.app: set one of the two, not both" }}
{{- end }}
{{- if eq (toString (dig "steering" "mode" "auto" $cfg)) "off" }}
{{- fail "metrics.app.mode merge needs corefork's steering (its lines to each worker): corefork.steering.mode is off" }}
{{- end }}
{{- $appCfg := dict "path" $app.path }}
{{- with $app.timeout }}{{ $_ := set $appCfg "timeout" . }}{{ end }}
{{- with $app.maxBytes }}{{ $_ := set $appCfg "max_bytes" . }}{{ end }}
{{- $metrics := deepCopy (dig "metrics" dict $cfg) }}
{{- $_ := set $metrics "app" $appCfg }}
{{- $_ := set $cfg "metrics" $metrics }}
{{- end }}
{{- $jobs := deepCopy (dig "jobs" (dict) $cfg) }}
{{- range $name, $job := .Values.jobs }}
{{- $_ := set $jobs $name $job }}
{{- end }}
{{- if $jobs }}
{{- $_ := set $cfg "jobs" $jobs }}
{{- end }}
{{- toYaml $cfg }}
{{- end }}

{{/*
corefork.containerArgs: corefork's arguments: the config file, then the app.
*/}}
{{- define "corefork.containerArgs" -}}
{{- $args := list "--config" "/etc/corefork/corefork.yaml" }}
{{- if .Values.command }}
{{- $args = concat $args (list "--") .Values.command (.Values.args | default (list)) }}
{{- else if dig "command" (list) .Values.corefork }}
{{- if .Values.args }}
{{- fail "args: set command too (args are appended to command), or put the whole argv in corefork.command" }}
{{- end }}
{{- else }}
{{- fail "command: set the app to run, e.g. command: [node, server.js] (or corefork.command)" }}
{{- end }}
{{- toYaml $args }}
{{- end }}

{{/*
corefork.env: the container's environment.
*/}}
{{- define "corefork.env" -}}
- name: COREFORK_CPU_REQUEST
  valueFrom:
    resourceFieldRef:
      containerName: {{ .Chart.Name }}
      resource: requests.cpu
      divisor: 1m
- name: COREFORK_CONTROL_SOCKET
  value: /run/corefork/control.sock
# For `kubectl exec ... corefork status` and the other client commands: they
# read the same config as the server (its admin address, its socket).
- name: COREFORK_CONFIG
  value: /etc/corefork/corefork.yaml
{{- if kindIs "map" .Values.env }}
{{- range $name, $value := .Values.env }}
- name: {{ $name }}
{{- if kindIs "map" $value }}
{{- toYaml $value | nindent 2 }}
{{- else }}
  value: {{ toString $value | quote }}
{{- end }}
{{- end }}
{{- else if .Values.env }}
{{ toYaml .Values.env }}
{{- end }}
{{- end }}

{{/*
corefork.envFrom: .Values.envFrom, then extraEnvVarsCM and
extraEnvVarsSecret (names may use templates: "{{ .Release.Name }}-env").
*/}}
{{- define "corefork.envFrom" -}}
{{- $from := .Values.envFrom | default list }}
{{- with .Values.extraEnvVarsCM }}
{{- $from = append $from (dict "configMapRef" (dict "name" (tpl . $))) }}
{{- end }}
{{- with .Values.extraEnvVarsSecret }}
{{- $from = append $from (dict "secretRef" (dict "name" (tpl . $))) }}
{{- end }}
{{- with $from }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
corefork.emptyDir: an emptyDir volume source from {medium, sizeLimit}.
*/}}
{{- define "corefork.emptyDir" -}}
{{- $d := dict }}
{{- with .medium }}
{{- $_ := set $d "medium" . }}
{{- end }}
{{- with .sizeLimit }}
{{- $_ := set $d "sizeLimit" (toString .) }}
{{- end }}
{{- toYaml $d }}
{{- end }}

{{/*
corefork.networkPolicyPeer: a NetworkPolicy `from` list for namespace labels
and pod labels (either may be empty): pods matching both, all pods of the
matching namespaces, the matching pods of the release namespace, or (neither
given) every pod of the release namespace.
Usage: include "corefork.networkPolicyPeer" (list NS_LABELS POD_LABELS)
*/}}
{{- define "corefork.networkPolicyPeer" -}}
{{- $ns := index . 0 | default dict }}
{{- $pod := index . 1 | default dict }}
{{- $peer := dict }}
{{- if $ns }}
{{- $_ := set $peer "namespaceSelector" (dict "matchLabels" $ns) }}
{{- end }}
{{- if or $pod (not $ns) }}
{{- $_ := set $peer "podSelector" (dict "matchLabels" $pod) }}
{{- end }}
{{- toYaml (list $peer) }}
{{- end }}
