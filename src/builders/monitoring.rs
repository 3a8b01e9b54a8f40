//! What Prometheus needs for one instance, when the Prometheus Operator is
//! installed: a PodMonitor for the exporter and a PrometheusRule with the
//! alerts, each with a runbook a person on call can follow.

use super::Instance;
use crate::api::prometheus::{
    AlertRule, PodMetricsEndpoint, PodMonitor, PodMonitorSpec, PrometheusRule, PrometheusRuleSpec, RuleGroup,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::jiff::Timestamp;
use std::collections::BTreeMap;

/// `<name>-db`: scrape the exporter's `metrics` port every 30 s.
pub fn pod_monitor(instance: &Instance<'_>) -> PodMonitor {
    PodMonitor {
        metadata: instance.child_meta(instance.instance_name()),
        spec: PodMonitorSpec {
            selector: LabelSelector { match_labels: Some(instance.selector_labels()), ..LabelSelector::default() },
            pod_metrics_endpoints: vec![PodMetricsEndpoint { port: "metrics".into(), interval: "30s".into() }],
        },
    }
}

/// `<name>-db`: the instance's alerts.
pub fn prometheus_rule(instance: &Instance<'_>, now: Timestamp) -> PrometheusRule {
    PrometheusRule {
        metadata: instance.child_meta(instance.instance_name()),
        spec: PrometheusRuleSpec { groups: vec![alert_rules(instance, now)] },
    }
}

/// An alert; `{ns}`, `{name}` and `{engine}` in the runbook become the instance's.
fn alert(name: &str, expr: String, for_: &str, severity: &str, summary: String, runbook: &str) -> AlertRule {
    AlertRule {
        alert: name.into(),
        expr,
        for_: for_.into(),
        labels: BTreeMap::from([("severity".to_string(), severity.to_string())]),
        annotations: BTreeMap::from([("summary".to_string(), summary), ("runbook".to_string(), runbook.to_string())]),
    }
}

/// The alerts of one instance: its series are selected by namespace and
/// pod (the PodMonitor's target labels), the operator's by namespace and
/// name. `now` fixes the schedule interval a backup is stale after.
pub fn alert_rules(instance: &Instance<'_>, now: Timestamp) -> RuleGroup {
    let (ns, name) = (instance.namespace, instance.name);
    let exporter = instance.engine.exporter("", false);
    let pods = format!(r#"namespace="{ns}", pod=~"{name}-db-[0-9]+""#);
    let object = format!(r#"namespace="{ns}", name="{name}""#);
    let (used, limit) = exporter.connections;
    let mut rules = vec![
        alert(
            "ServiceDatabaseDown",
            format!("{}{{{pods}}} == 0", exporter.up_metric),
            "2m",
            "critical",
            format!("The database of {ns}/{name} does not answer its exporter."),
            "1. kubectl -n {ns} get pod {name}-db-0 and describe it: crash loop, OOMKilled, pending volume? \
             2. kubectl -n {ns} logs {name}-db-0 -c {engine} for the engine's own error. \
             3. kubectl -n {ns} get sdb {name}: the Ready and Degraded conditions say what the operator saw.",
        ),
        alert(
            "ServiceDatabaseExporterDown",
            format!(r#"up{{{pods}, container="exporter"}} == 0"#),
            "5m",
            "warning",
            format!("Prometheus cannot scrape the exporter of {ns}/{name}: the other alerts are blind."),
            "1. kubectl -n {ns} logs {name}-db-0 -c exporter. \
             2. Check that Prometheus runs in the namespace the operator's --monitoring-namespace names: \
             the NetworkPolicy lets only that namespace reach the metrics port.",
        ),
        alert(
            "ServiceDatabaseConnectionsNearLimit",
            format!(
                "sum by (namespace, pod) ({used}{{{pods}}}) / on (namespace, pod) max by (namespace, pod) ({limit}{{{pods}}}) > 0.8"
            ),
            "10m",
            "warning",
            format!("{ns}/{name} uses more than 80% of its connections ({{{{ $value | humanizePercentage }}}})."),
            "1. Find the service's pods holding connections (a leak, a missing pool limit, a scaled-out Deployment). \
             2. Cap its pool size, or raise the engine's connection limit with more memory for the instance.",
        ),
        alert(
            "ServiceDatabaseStorageNearlyFull",
            format!(
                r#"kubelet_volume_stats_used_bytes{{namespace="{ns}", persistentvolumeclaim="{claim}"}} / kubelet_volume_stats_capacity_bytes{{namespace="{ns}", persistentvolumeclaim="{claim}"}} > 0.85"#,
                claim = instance.data_claim_name()
            ),
            "5m",
            "warning",
            format!("The data volume of {ns}/{name} is {{{{ $value | humanizePercentage }}}} full."),
            "1. Raise spec.storage.size on the ServiceDatabase: the operator grows the claim (its StorageClass must allow expansion). \
             2. Meanwhile, look for bloat the service can drop (old rows, unvacuumed tables, big keys).",
        ),
        alert(
            "ServiceDatabaseCredentialsNotReady",
            format!("servicedb_credentials_ready{{{object}}} == 0"),
            "15m",
            "warning",
            format!("The operator cannot administer the logins of {ns}/{name} (a rotation may be stuck)."),
            "1. kubectl -n {ns} get sdb {name} -o yaml: the CredentialsReady condition has the database's message. \
             2. The operator's log has the same reason; no password is in either.",
        ),
        alert(
            "ServiceDatabaseNotIsolated",
            format!("servicedb_isolated{{{object}}} == 0"),
            "0m",
            "critical",
            format!("Something other than its service can reach {ns}/{name} or read its credentials."),
            "1. kubectl -n {ns} get sdb {name} -o jsonpath='{.status.conditions[?(@.type==\"Isolated\")].message}' names each finding: a NetworkPolicy, a subject and the binding, a pod. \
             2. Remove that access; or, when it is known and accepted, acknowledge it in spec.isolation.exceptions with a reason.",
        ),
    ];
    if let Some(backup) = &instance.spec.backup {
        let stale_after = (backup.interval(now) * 2).as_secs();
        rules.push(alert(
            "ServiceDatabaseBackupFailing",
            format!("servicedb_backup_last_run_failed{{{object}}} == 1"),
            "0m",
            "warning",
            format!("The last backup of {ns}/{name} failed; older backups are intact."),
            "1. kubectl -n {ns} get sdb {name} -o jsonpath='{.status.lastBackup}' has the Job and its message. \
             2. kubectl -n {ns} logs job/JOB for the backup tool's own words (destination down, disk full, credentials). \
             3. After fixing, take one now: a ServiceDatabaseBackup with spec.serviceDatabase {name}.",
        ));
        rules.push(alert(
            "ServiceDatabaseBackupStale",
            format!("time() - servicedb_backup_last_success_timestamp_seconds{{{object}}} > {stale_after}"),
            "0m",
            "critical",
            format!("No backup of {ns}/{name} succeeded in twice its schedule's interval: the RPO is not met."),
            "1. kubectl -n {ns} get cronjob {name}-db-backup: suspended, or missed starts? \
             2. Follow ServiceDatabaseBackupFailing's runbook for the last run.",
        ));
    }
    for rule in &mut rules {
        if let Some(runbook) = rule.annotations.get_mut("runbook") {
            *runbook =
                runbook.replace("{ns}", ns).replace("{name}", name).replace("{engine}", instance.spec.engine.as_str());
        }
    }
    RuleGroup { name: format!("servicedb.{ns}.{name}"), rules }
}
