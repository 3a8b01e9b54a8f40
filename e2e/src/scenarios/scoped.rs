//! Namespaced mode: the chart's Roles only in the watched namespaces; the
//! operator, under that ServiceAccount, serves them and cannot read a Secret
//! anywhere else.

use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, run, sdb_yaml, write_operator_kubeconfig};
use crate::harness::{Env, LEASE_SECONDS, RESYNC_SECONDS};
use crate::operator::{Operator, OperatorConfig};
use std::time::Duration;

const RELEASE: &str = "scoped";
const RELEASE_NS: &str = "servicedb-scoped";

pub async fn only_watched_namespaces(env: &Env) -> Outcome {
    let watched = env.namespace("e2e-scoped").await?;
    let elsewhere = env.namespace("e2e-unwatched").await?;
    kubectl(&["-n", &elsewhere, "create", "secret", "generic", "not-yours", "--from-literal=k=v"]).await?;
    let chart = env.root.join("charts/servicedb");
    run(
        "helm",
        &[
            "upgrade",
            "--install",
            RELEASE,
            &chart.to_string_lossy(),
            "-n",
            RELEASE_NS,
            "--create-namespace",
            "--skip-crds",
            "--set",
            "replicas=0",
            "--set",
            &format!("watchNamespaces={{{watched}}}"),
        ],
        None,
    )
    .await?;
    let kubeconfig = env.logs.join("scoped.kubeconfig");
    write_operator_kubeconfig(&kubeconfig, RELEASE_NS, RELEASE).await?;
    let as_operator = |args: &[&str]| {
        let mut full = vec!["--kubeconfig", kubeconfig.to_str().unwrap_or_default()];
        full.extend_from_slice(args);
        let full: Vec<String> = full.into_iter().map(String::from).collect();
        async move { run("kubectl", &full.iter().map(String::as_str).collect::<Vec<_>>(), None).await }
    };
    // The RBAC itself: a Secret elsewhere is out of reach, one in the watched namespace is not.
    let denied = as_operator(&["-n", &elsewhere, "get", "secret", "not-yours"]).await;
    ensure(denied.as_ref().is_err_and(|e| e.contains("Forbidden")), || {
        format!("read a Secret it does not watch: {denied:?}")
    })?;
    let cluster_wide = as_operator(&["auth", "can-i", "list", "secrets", "--all-namespaces"]).await;
    ensure(cluster_wide.as_ref().is_err_and(|e| e.trim() == "no"), || {
        format!("cluster-wide Secrets: {cluster_wide:?}")
    })?;
    ensure(
        as_operator(&["auth", "can-i", "get", "secrets", "-n", &watched]).await.is_ok_and(|o| o.trim() == "yes"),
        || "cannot read Secrets where it must".into(),
    )?;

    // The operator under that identity, while the cluster-wide one is stopped.
    env.operator.lock().await.terminate().await?;
    let mut scoped = Operator::new(
        &env.root,
        OperatorConfig {
            kubeconfig: kubeconfig.clone(),
            log: env.logs.join("scoped-operator.log"),
            instance: "scoped".into(),
            http_port: 18090,
            operator_namespace: RELEASE_NS.into(),
            namespaces: vec![watched.clone()],
            lease_seconds: LEASE_SECONDS,
            resync_seconds: RESYNC_SECONDS,
            endpoint_overrides: env.standins.lock().await.overrides.clone(),
        },
    )?;
    scoped.spawn()?;
    let result = async {
        kubectl_apply(&sdb_yaml(&watched, "orders", "")).await?;
        env.wait_ready(&watched, "orders", Duration::from_secs(60)).await?;
        let log = scoped.log();
        ensure(!log.contains("Forbidden") && !log.contains("forbidden"), || {
            "the scoped operator hit a Forbidden".into()
        })
    }
    .await;
    let stopped = scoped.terminate().await;
    env.operator.lock().await.spawn()?;
    result?;
    stopped
}
