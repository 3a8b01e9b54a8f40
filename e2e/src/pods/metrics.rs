//! The operator's /metrics as users get them: the Prometheus pod in the
//! monitoring namespace scrapes both replicas (through the operator's own
//! NetworkPolicy), and its HTTP API answers with the leader's series.

use super::env::{MONITORING_NAMESPACE, PodEnv};
use crate::cluster::{Outcome, kubectl, kubectl_apply, sdb_yaml, step, wait_for};
use std::time::Duration;

/// A PromQL query through the API server's proxy to the Prometheus Service;
/// None until it has a result.
async fn query(promql: &str) -> Option<serde_json::Value> {
    let encoded: String = promql
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let path = format!(
        "/api/v1/namespaces/{MONITORING_NAMESPACE}/services/prometheus:9090/proxy/api/v1/query?query={encoded}"
    );
    let body = kubectl(&["get", "--raw", &path]).await.ok()?;
    let reply: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = reply["data"]["result"].as_array()?.clone();
    (!result.is_empty()).then_some(serde_json::Value::Array(result))
}

/// The single value of a query's first series.
fn value(result: &serde_json::Value) -> Option<f64> {
    result[0]["value"][1].as_str()?.parse().ok()
}

pub async fn scrapes_the_operator(env: &PodEnv) -> Outcome {
    // Something to reconcile and to count, whatever ran before.
    let ns = env.namespace("e2e-prometheus").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "  monitoring: {enabled: false}\n")).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    step("Prometheus in the monitoring namespace scrapes both operator replicas");
    let up = wait_for("both replicas up in Prometheus", Duration::from_secs(90), || async {
        let up = query(r#"sum(up{job="servicedb"})"#).await?;
        (value(&up)? == 2.0).then_some(())
    })
    .await;
    if let Err(e) = up {
        let targets = query(r#"up{job="servicedb"}"#).await;
        return Err(format!("{e}; up: {targets:?}"));
    }
    let reconciles = wait_for("servicedb_reconciles_total > 0", Duration::from_secs(60), || async {
        let total = value(&query("sum(servicedb_reconciles_total)").await?)?;
        (total > 0.0).then_some(total)
    })
    .await?;
    // The leader's series for the instance; scraped every 5 s, so it may
    // first show the state from before the instance was Ready.
    let query_ready = format!(r#"max(servicedb_credentials_ready{{namespace="{ns}", name="orders"}})"#);
    let ready = wait_for("the instance's servicedb_credentials_ready = 1", Duration::from_secs(60), || async {
        (value(&query(&query_ready).await?)? == 1.0).then_some(())
    })
    .await;
    if let Err(e) = ready {
        return Err(format!("{e}; Prometheus has {:?}", query(&query_ready).await));
    }
    // Both replicas export; exactly one says it leads.
    let one_leader = wait_for("sum(servicedb_leader) = 1", Duration::from_secs(30), || async {
        (value(&query("sum(servicedb_leader)").await?)? == 1.0).then_some(())
    })
    .await;
    if let Err(e) = one_leader {
        return Err(format!("{e}; Prometheus has {:?}", query("servicedb_leader").await));
    }
    let known = query("max(servicedb_databases)").await;
    step(&format!("  reconciles {reconciles}, ServiceDatabases known {:?}", known.as_ref().and_then(value)));
    Ok(())
}
