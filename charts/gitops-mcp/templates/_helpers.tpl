{{/* The objects' name: the release name (which names the chart's objects, as deploy/kubernetes does). */}}
{{- define "gitops-mcp.fullname" -}}
{{- .Release.Name | trunc 57 | trimSuffix "-" -}}
{{- end -}}

{{- define "gitops-mcp.redisName" -}}
{{- printf "%s-redis" (include "gitops-mcp.fullname" .) -}}
{{- end -}}

{{- define "gitops-mcp.serviceAccountName" -}}
{{- default (include "gitops-mcp.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "gitops-mcp.secretName" -}}
{{- default (include "gitops-mcp.fullname" .) .Values.existingSecret -}}
{{- end -}}

{{/* Labels of every object: the base's, and who rendered them. */}}
{{- define "gitops-mcp.labels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/part-of: gitops-mcp
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
{{- end -}}

{{- define "gitops-mcp.sessionStore" -}}
{{- if .Values.redis.enabled -}}
{{- printf "redis://%s:6379/0" (include "gitops-mcp.redisName" .) -}}
{{- else -}}
{{- required "redis.enabled=false needs externalRedis.url (redis:// or rediss://)" .Values.externalRedis.url -}}
{{- end -}}
{{- end -}}

{{- define "gitops-mcp.allowedHosts" -}}
{{- $n := include "gitops-mcp.fullname" . -}}
{{- $ns := .Release.Namespace -}}
{{- $hosts := list (printf "%s:*" $n) (printf "%s.%s:*" $n $ns) (printf "%s.%s.svc:*" $n $ns) (printf "%s.%s.svc.cluster.local:*" $n $ns) "localhost:*" "127.0.0.1:*" -}}
{{- join "," (concat $hosts .Values.extraAllowedHosts) -}}
{{- end -}}
