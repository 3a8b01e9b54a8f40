{{- define "servicedb.name" -}}servicedb{{- end -}}

{{- define "servicedb.labels" -}}
app.kubernetes.io/name: servicedb
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "servicedb.selectorLabels" -}}
app.kubernetes.io/name: servicedb
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
