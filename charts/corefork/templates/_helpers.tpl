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
Common labels.
*/}}
{{- define "corefork.labels" -}}
helm.sh/chart: {{ include "corefork.chart" . }}
{{ include "corefork.selectorLabels" . }}
{{- if .Chart.AppVersion }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
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
The image reference; the tag defaults to the chart's appVersion.
*/}}
{{- define "corefork.image" -}}
{{- $repo := required "image.repository is required" .Values.image.repository }}
{{- printf "%s:%s" $repo (toString (.Values.image.tag | default .Chart.AppVersion)) }}
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
corefork.terminationGracePeriodSeconds: how long the kubelet waits after
SIGTERM before it SIGKILLs the pod:
  corefork.shutdown.drain_delay (default 5s)
  + corefork.shutdown.timeout (default 30s)
  + terminationGracePeriodMargin (default 5s)
summed in milliseconds and rounded up to whole seconds.
*/}}
{{- define "corefork.terminationGracePeriodSeconds" -}}
{{- $shutdown := dig "shutdown" (dict) .Values.corefork }}
{{- $drain := include "corefork.durationMs" (list "corefork.shutdown.drain_delay" (dig "drain_delay" "5s" $shutdown)) | int64 }}
{{- $timeout := include "corefork.durationMs" (list "corefork.shutdown.timeout" (dig "timeout" "30s" $shutdown)) | int64 }}
{{- $margin := "5s" }}
{{- if hasKey .Values "terminationGracePeriodMargin" }}
{{- $margin = .Values.terminationGracePeriodMargin }}
{{- end }}
{{- $marginMs := include "corefork.durationMs" (list "terminationGracePeriodMargin" $margin) | int64 }}
{{- div (add $drain $timeout $marginMs 999) 1000 }}
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
jobs of .Values.jobs merged into its jobs map.
*/}}
{{- define "corefork.config" -}}
{{- $cfg := deepCopy .Values.corefork }}
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
