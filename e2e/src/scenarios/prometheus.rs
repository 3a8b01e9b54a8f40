//! A real Prometheus (Debian's package) on loopback scrapes the operator's
//! /metrics; its HTTP API then answers with the operator's series.

use crate::cluster::{Outcome, ensure, kubectl_apply, run, sdb_yaml, step, wait_for};
use crate::harness::Env;
use std::time::Duration;

/// The operator's HTTP port in the suite (see `Env::setup`).
const OPERATOR_METRICS: &str = "127.0.0.1:18080";

async fn query(port: u16, promql: &str) -> Option<serde_json::Value> {
    let url = format!("http://127.0.0.1:{port}/api/v1/query");
    let body =
        run("curl", &["-fsS", "--get", &url, "--data-urlencode", &format!("query={promql}")], None).await.ok()?;
    let reply: serde_json::Value = serde_json::from_str(&body).ok()?;
    let result = reply["data"]["result"].as_array()?.clone();
    (!result.is_empty()).then_some(serde_json::Value::Array(result))
}

pub async fn scrapes_the_operator(env: &Env) -> Outcome {
    // Something to reconcile and to count, whatever ran before.
    let ns = env.namespace("e2e-prometheus").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(60)).await?;
    let dir = env.logs.join("prometheus");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n- job_name: servicedb\n  static_configs: [{{targets: ['{OPERATOR_METRICS}']}}]\n"
    );
    std::fs::write(dir.join("prometheus.yml"), config).map_err(|e| e.to_string())?;
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map_err(|e| e.to_string())?.port();
    let log = std::fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?;
    let _prometheus = tokio::process::Command::new("prometheus")
        .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start prometheus (make deps installs it): {e}"))?;
    step(&format!("prometheus on 127.0.0.1:{port} scraping the operator at {OPERATOR_METRICS}"));
    let value = wait_for("servicedb_reconciles_total > 0 in Prometheus", Duration::from_secs(60), || async {
        let result = query(port, "servicedb_reconciles_total").await?;
        let value: f64 = result[0]["value"][1].as_str()?.parse().ok()?;
        (value > 0.0).then_some(value)
    })
    .await?;
    let ready = query(port, &format!(r#"servicedb_credentials_ready{{namespace="{ns}", name="orders"}}"#))
        .await
        .ok_or("no servicedb_credentials_ready series for the instance")?;
    ensure(ready[0]["value"][1] == "1", || format!("credentials_ready: {ready}"))?;
    let up = query(port, r#"up{job="servicedb"}"#).await.ok_or("no up series")?;
    ensure(up[0]["value"][1] == "1", || format!("up: {up}"))?;
    let databases = query(port, "sum(servicedb_databases)").await.ok_or("no servicedb_databases series")?;
    step(&format!("  reconciles {value}, ServiceDatabases known: {}", databases[0]["value"][1]));
    Ok(())
}
