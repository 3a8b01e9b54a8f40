{{- define "servicedb.fullname" -}}{{ .Release.Name | trunc 50 | trimSuffix "-" }}{{- end -}}

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

{{/* Rules the operator needs in every namespace it watches. No wildcards. */}}
{{- define "servicedb.namespacedRules" -}}
- apiGroups: [servicedb.dev]
  resources: [servicedatabases]
  verbs: [get, list, watch, patch]
- apiGroups: [servicedb.dev]
  resources: [servicedatabasebackups]
  verbs: [get, list, watch]
- apiGroups: [servicedb.dev]
  resources: [servicedatabases/status, servicedatabasebackups/status]
  verbs: [get, patch]
# Owner references with blockOwnerDeletion need update on finalizers.
- apiGroups: [servicedb.dev]
  resources: [servicedatabases/finalizers, servicedatabasebackups/finalizers]
  verbs: [update]
# Children, watched by label into the operator's caches.
- apiGroups: [""]
  resources: [services, configmaps]
  verbs: [get, list, watch, create, patch, delete]
# Secrets are read by name only, never listed or watched: RBAC cannot narrow
# list/watch to the operator's labels, and an account that can list every
# Secret is what scanners flag (trivy KSV-0041). `get` is also what it grants
# to each owning service's ServiceAccount.
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, create, patch, delete]
- apiGroups: [apps]
  resources: [statefulsets]
  verbs: [get, list, watch, create, patch, delete]
# Restarting the service's workloads after a rotation, when asked to.
- apiGroups: [apps]
  resources: [deployments]
  verbs: [list, patch]
- apiGroups: [networking.k8s.io]
  resources: [networkpolicies]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [rbac.authorization.k8s.io]
  resources: [roles, rolebindings]
  verbs: [get, list, watch, create, patch, delete]
# Backups: the schedule, on-demand runs, and their results (the manifest
# in the backup pod's termination message). Pods: list a Job's pods, and
# watch the database pods (by label) to tell why one is not ready.
- apiGroups: [batch]
  resources: [cronjobs, jobs]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list, watch]
# Growing a data volume, telling initialised data from a new instance, and
# the backup volume the operator creates (cached by label).
- apiGroups: [""]
  resources: [persistentvolumeclaims]
  verbs: [get, list, watch, create, patch]
# A PodMonitor and a PrometheusRule per database, when the Prometheus
# Operator is installed.
- apiGroups: [monitoring.coreos.com]
  resources: [podmonitors, prometheusrules]
  verbs: [get, list, watch, create, patch, delete]
- apiGroups: [events.k8s.io]
  resources: [events]
  verbs: [create, patch]
# The isolation audit: which ServiceAccounts exist (SubjectAccessReviews ask
# for each). Other NetworkPolicies, Roles, RoleBindings and pods are read
# with the rules above.
- apiGroups: [""]
  resources: [serviceaccounts]
  verbs: [list, watch]
{{- end -}}
