//! The Prometheus Operator's objects: none while its API is not served
//! (and no error about it), a PodMonitor and a PrometheusRule per instance
//! once its CRDs (pinned, from its Go module) are installed, accepted by the
//! API server against those CRDs' schemas.

use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, step, wait_for};
use kube::api::DynamicObject;
use servicedb::api::prometheus::{PodMonitor, PrometheusRule};
use std::time::Duration;

fn crds_dir() -> std::path::PathBuf {
    let cache = std::env::var("SERVICEDB_CACHE").map(std::path::PathBuf::from).unwrap_or_else(|_| {
        std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/servicedb-e2e")
    });
    cache.join("crds/prometheus-operator")
}

pub async fn prometheus_operator_objects(env: &PodEnv) -> Outcome {
    let result = absent_then_installed(env).await;
    // Leave the cluster as the other scenarios expect it, on failure too.
    let removed = match std::fs::canonicalize(crds_dir()) {
        Ok(dir) => {
            kubectl(&["delete", "--ignore-not-found", "-f", &dir.to_string_lossy(), "--wait=true", "--timeout=60s"])
                .await
                .map(drop)
        }
        Err(_) => Ok(()),
    };
    result.and(removed)
}

async fn absent_then_installed(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-monitoring").await?;
    let backup = "  backup:\n    schedule: \"0 3 * * *\"\n    destination: {volume: {}}\n";
    kubectl_apply(&sdb_yaml(&ns, "orders", backup)).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let absent = kubectl(&["-n", &ns, "get", "podmonitors"]).await;
    ensure(absent.as_ref().is_err_and(|e| e.contains("doesn't have a resource type")), || format!("{absent:?}"))?;
    let log = env.operator_logs(None).await;
    ensure(log.contains("Prometheus Operator's API (monitoring.coreos.com/v1) is not served"), || {
        "the operator did not say that it creates no PodMonitors".into()
    })?;
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| (l.contains("WARN") || l.contains("ERROR")) && l.contains("monitoring.coreos.com"))
        .collect();
    ensure(complaints.is_empty(), || format!("errors about the absent API: {complaints:?}"))?;

    step("installing the Prometheus Operator's PodMonitor and PrometheusRule CRDs");
    // kubectl does not follow a link to a folder.
    let dir =
        std::fs::canonicalize(crds_dir()).map_err(|e| format!("{}: {e} (run e2e/tools.sh)", crds_dir().display()))?;
    kubectl(&["apply", "--server-side", "-f", &dir.to_string_lossy()]).await?;
    // Polled rather than `kubectl wait`, which fails outright when it reads a
    // CRD before the API server gave it any condition.
    wait_for("both CRDs Established", Duration::from_secs(60), || async {
        let established = kubectl(&[
            "get",
            "crd/podmonitors.monitoring.coreos.com",
            "crd/prometheusrules.monitoring.coreos.com",
            "-o",
            r#"jsonpath={range .items[*]}{.status.conditions[?(@.type=="Established")].status} {end}"#,
        ])
        .await
        .ok()?;
        (established.split_whitespace().filter(|s| *s == "True").count() == 2).then_some(())
    })
    .await?;
    let monitors = env.api::<PodMonitor>(&ns);
    let rules = env.api::<PrometheusRule>(&ns);
    let started = std::time::Instant::now();
    let (monitor, rule) = wait_for("the PodMonitor and PrometheusRule", Duration::from_secs(90), || async {
        Some((monitors.get_opt("orders-db").await.ok()??, rules.get_opt("orders-db").await.ok()??))
    })
    .await?;
    step(&format!("  created {:.1}s after the CRDs were established", started.elapsed().as_secs_f64()));
    ensure(monitor.spec.pod_metrics_endpoints[0].port == "metrics", || format!("{:?}", monitor.spec))?;
    let alerts: Vec<&str> = rule.spec.groups[0].rules.iter().map(|r| r.alert.as_str()).collect();
    let expected = ["ServiceDatabaseBackupStale", "ServiceDatabaseNotIsolated"];
    ensure(alerts.len() == 8 && expected.iter().all(|a| alerts.contains(a)), || format!("{alerts:?}"))?;
    // What the API server stored, read untyped: every field we sent survived its schema.
    let stored: DynamicObject = kubectl(&["-n", &ns, "get", "prometheusrule", "orders-db", "-o", "json"])
        .await
        .and_then(|j| serde_json::from_str(&j).map_err(|e| e.to_string()))?;
    ensure(stored.data["spec"]["groups"][0]["rules"][0]["annotations"]["runbook"].is_string(), || {
        format!("{}", stored.data["spec"])
    })
}
