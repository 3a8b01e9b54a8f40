//! The operator as users install it: the chart's Deployment in a
//! `restricted` namespace on the real node, two replicas with leader
//! election, and what happens when the leader's pod or process dies.

use super::env::{
    LEASE_SECONDS, OPERATOR_NAMESPACE, PodEnv, RELEASE, UNLISTED, WATCHED, operator_pods, probe, wait_ready,
    wait_ready_reason,
};
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, run, wait_for};
use std::time::{Duration, Instant};

pub async fn installed_by_helm(env: &PodEnv) -> Outcome {
    let leader = env.wait_leader().await?;
    let pods = wait_for("two operator pods ready", Duration::from_secs(60), || async {
        let pods = operator_pods().await.ok()?;
        // Both ready (a rollout can complete); exactly one leads (below).
        (pods.len() == 2 && pods.iter().all(|p| p.ready)).then_some(pods)
    })
    .await?;
    ensure(pods.iter().all(|p| p.node == "sdb-node"), || format!("not on the real node: {pods:?}"))?;
    for pod in pods.iter().map(|p| &p.name) {
        let uid = kubectl(&["-n", OPERATOR_NAMESPACE, "exec", pod, "--", "id", "-u"]).await?;
        ensure(uid.trim() == "65532", || format!("{pod} runs as uid {uid}"))?;
        probe(pod, "/healthz").await.map_err(|e| format!("{pod} /healthz: {e}"))?;
        let ready = probe(pod, "/readyz").await?;
        let role = if *pod == leader { "leader" } else { "standby" };
        ensure(ready.starts_with(role), || format!("{pod} /readyz: {ready:?}, expected {role}"))?;
    }
    // The chart's ServiceAccount, not an admin: it may not read Secrets outside
    // the namespaces it serves.
    let account = format!("system:serviceaccount:{OPERATOR_NAMESPACE}:servicedb");
    let outside = kubectl(&["auth", "can-i", "get", "secrets", "-n", "default", "--as", &account]).await;
    ensure(outside.is_err(), || format!("the operator may read Secrets in default: {outside:?}"))?;
    let metrics = probe(&leader, "/metrics").await?;
    ensure(metrics.contains("servicedb_"), || "the leader's /metrics has no servicedb_ series".into())
}

pub async fn version_missing_from_catalogue(env: &PodEnv) -> Outcome {
    let ns = "pods-catalogue";
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {ns}}}\nspec:\n  engine: postgres\n  version: \"16\"\n  service: {{name: orders}}\n  storage: {{size: 1Gi}}\n"
    ))
    .await?;
    let message = wait_ready_reason(env, ns, "orders", "InvalidSpec", Duration::from_secs(60)).await?;
    ensure(message.contains("catalogue") && message.contains("15"), || {
        format!("the message should name the catalogue and the versions it has: {message}")
    })?;
    let children =
        kubectl(&["-n", ns, "get", "statefulsets,secrets", "-l", "app.kubernetes.io/instance=orders", "-o", "name"])
            .await?;
    ensure(children.trim().is_empty(), || format!("an invalid spec created children: {children}"))?;
    // Fixed by the user: the same object becomes Ready on a listed version.
    kubectl(&["-n", ns, "patch", "sdb", "orders", "--type=merge", "-p", "{\"spec\":{\"version\":\"15\"}}"]).await?;
    wait_ready(env, ns, "orders", Duration::from_secs(240)).await
}

/// The leader's container is killed (SIGKILL of its process on the node),
/// then its pod is deleted without grace: each time a replica leads again
/// within the lease and the instance keeps being reconciled.
pub async fn leader_pod_killed(env: &PodEnv) -> Outcome {
    let ns = "pods-failover";
    let leader = env.wait_leader().await?;
    let restarts_before = operator_pods().await?.iter().find(|p| p.name == leader).map(|p| p.restarts).unwrap_or(0);

    // 1. The container's process dies: the kubelet restarts it.
    let pid = leader_process(&leader).await?;
    run("kill", &["-KILL", &pid], None).await?;
    wait_for("the killed container to restart", Duration::from_secs(60), || async {
        let pods = operator_pods().await.ok()?;
        pods.iter().any(|p| p.name == leader && p.restarts > restarts_before).then_some(())
    })
    .await?;
    env.wait_leader().await?;

    // 2. The leader's pod disappears without releasing its lease.
    let leader = env.wait_leader().await?;
    let started = Instant::now();
    kubectl(&["-n", OPERATOR_NAMESPACE, "delete", "pod", &leader, "--grace-period=0", "--force", "--wait=false"])
        .await?;
    let next = env.wait_leader_other_than(Some(&leader)).await?;
    let failover = started.elapsed();
    ensure(failover < Duration::from_secs(LEASE_SECONDS * 2 + 30), || format!("failover took {failover:?}"))?;
    let _ = kubectl(&["-n", ns, "create", "serviceaccount", "orders"]).await;
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {ns}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: orders, serviceAccountName: orders}}\n  storage: {{size: 1Gi}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n"
    ))
    .await?;
    wait_ready(env, ns, "orders", Duration::from_secs(240)).await?;
    eprintln!("      failover to {next} in {:.1}s", failover.as_secs_f64());
    Ok(())
}

/// The host PID of the operator process in `pod`: the node is this machine.
async fn leader_process(pod: &str) -> Result<String, String> {
    let pids = run("pgrep", &["-x", "servicedb"], None).await.unwrap_or_default();
    for pid in pids.split_whitespace() {
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap_or_default();
        let wanted = format!("POD_NAME={pod}");
        if environ.split(|b| *b == 0).any(|var| var == wanted.as_bytes()) {
            return Ok(pid.to_string());
        }
    }
    Err(format!("no servicedb process of pod {pod} on this node"))
}

/// Namespaced mode serves only the listed namespaces; `helm upgrade` to
/// cluster mode (no watchNamespaces) and the same object in a namespace it
/// was never given is served. Afterwards the release is namespaced again
/// and the object gone, whatever happened: the scenarios that run later
/// (in whatever order) expect the mode of the setup.
pub async fn upgraded_to_cluster_mode(env: &PodEnv) -> Outcome {
    let result = to_cluster_mode(env).await;
    let _ =
        kubectl(&["-n", UNLISTED, "delete", "sdb", "orders", "--ignore-not-found", "--wait=true", "--timeout=120s"])
            .await;
    let watched = serde_json::to_string(WATCHED).map_err(|e| e.to_string())?;
    let restored = watch_namespaces(env, &watched).await.map_err(|e| format!("back to namespaced mode: {e}"));
    result.and(restored.map(drop))
}

/// Upgrades the release to watch `namespaces` (a JSON list; empty: the
/// cluster) and waits for the rollout.
async fn watch_namespaces(env: &PodEnv, namespaces: &str) -> Result<String, String> {
    let chart = env.chart.to_string_lossy();
    let value = format!("watchNamespaces={namespaces}");
    let upgrade =
        ["upgrade", RELEASE, &chart, "-n", OPERATOR_NAMESPACE, "--reuse-values", "--skip-crds", "--set-json", &value];
    run("helm", &upgrade, None).await?;
    kubectl(&["-n", OPERATOR_NAMESPACE, "rollout", "status", "deployment/servicedb", "--timeout=180s"]).await
}

async fn to_cluster_mode(env: &PodEnv) -> Outcome {
    let _ = kubectl(&["-n", UNLISTED, "create", "serviceaccount", "orders"]).await;
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {UNLISTED}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: orders, serviceAccountName: orders}}\n  storage: {{size: 1Gi}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n"
    ))
    .await?;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let untouched = kubectl(&[
        "-n",
        UNLISTED,
        "get",
        "sdb,statefulsets",
        "-o",
        "jsonpath={range .items[*]}{.kind}:{.status.conditions[*].type} {end}",
    ])
    .await?;
    ensure(untouched.trim() == "ServiceDatabase:", || {
        format!("namespaced mode served an unlisted namespace: {untouched}")
    })?;

    watch_namespaces(env, "[]").await?;
    let binding =
        kubectl(&["get", "clusterrolebinding", "servicedb", "-o", "jsonpath={.roleRef.kind}/{.roleRef.name}"]).await?;
    ensure(binding == "ClusterRole/servicedb", || format!("cluster mode's binding: {binding}"))?;
    wait_ready(env, UNLISTED, "orders", Duration::from_secs(240)).await
}
