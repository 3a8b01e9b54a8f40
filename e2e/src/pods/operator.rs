//! The operator as users install it: the chart's Deployment in a
//! `restricted` namespace on the real node, two replicas with leader
//! election, and what happens when the leader's pod or process dies.

use super::env::{
    LEASE_SECONDS, Mode, OPERATOR_NAMESPACE, OPERATOR_USER, PodEnv, UNLISTED, operator_pods, probe, wait_ready_reason,
};
use crate::audit;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, run, sdb_yaml, wait_for};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

pub async fn installed_by_helm(env: &PodEnv) -> Outcome {
    env.require(Mode::Namespaced).await?;
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
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {ns}}}\nspec:\n  engine: postgres\n  version: \"16\"\n  service: {{name: orders}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n"
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
    env.wait_ready(ns, "orders", Duration::from_secs(240)).await.map(drop)
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
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {ns}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: orders, serviceAccountName: orders}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n"
    ))
    .await?;
    env.wait_ready(ns, "orders", Duration::from_secs(240)).await?;
    eprintln!("      failover to {next} in {:.1}s", failover.as_secs_f64());
    Ok(())
}

/// The host PID of the operator process in `pod`: the node is this machine.
pub(super) async fn leader_process(pod: &str) -> Result<String, String> {
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
/// was never given is served. The object goes afterwards, whatever happened.
pub async fn upgraded_to_cluster_mode(env: &PodEnv) -> Outcome {
    env.require(Mode::Namespaced).await?;
    let result = to_cluster_mode(env).await;
    let _ =
        kubectl(&["-n", UNLISTED, "delete", "sdb", "orders", "--ignore-not-found", "--wait=true", "--timeout=120s"])
            .await;
    result
}

async fn to_cluster_mode(env: &PodEnv) -> Outcome {
    let _ = kubectl(&["-n", UNLISTED, "create", "serviceaccount", "orders"]).await;
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {UNLISTED}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: orders, serviceAccountName: orders}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n"
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

    env.require(Mode::Cluster).await?;
    let binding =
        kubectl(&["get", "clusterrolebinding", "servicedb", "-o", "jsonpath={.roleRef.kind}/{.roleRef.name}"]).await?;
    ensure(binding == "ClusterRole/servicedb", || format!("cluster mode's binding: {binding}"))?;
    env.wait_ready(UNLISTED, "orders", Duration::from_secs(240)).await.map(drop)
}

/// A graceful stop (the leader's pod deleted with its grace period) releases
/// the lease: the standby leads well within the lease duration. Over a
/// creation and the handoff no object is written by both replicas (the
/// audit log's user agent names the pod).
pub async fn graceful_handoff(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-handoff").await?;
    let offset = audit::mark(&env.audit_log);
    let instance = "  monitoring: {enabled: false}\n";
    kubectl_apply(&sdb_yaml(&ns, "before", instance)).await?;
    env.wait_ready(&ns, "before", Duration::from_secs(240)).await?;

    // The leader drains its reconciles (renewing the lease meanwhile), then
    // releases the lease; the standby takes it on its next look. Had the
    // lease expired instead, it would be taken a lease duration or more
    // after the old leader's last write to it.
    let leader = env.wait_leader().await?;
    let deleted = audit::mark(&env.audit_log);
    let started = Instant::now();
    kubectl(&["-n", OPERATOR_NAMESPACE, "delete", "pod", &leader, "--wait=false"]).await?;
    let next = env.wait_leader_other_than(Some(&leader)).await?;
    let reconciling = started.elapsed();
    let lease_writes = |agent: &str| {
        let requests = audit::requests_since(&env.audit_log, deleted, OPERATOR_USER).unwrap_or_default();
        requests
            .into_iter()
            .filter(|r| r.resource == "leases" && r.verb == "patch" && r.user_agent.contains(agent))
            .filter_map(|r| r.received)
            .collect::<Vec<_>>()
    };
    let (released, taken) =
        wait_for("both replicas' lease writes in the audit log", Duration::from_secs(10), || async {
            Some((*lease_writes(&leader).last()?, *lease_writes(&next).first()?))
        })
        .await?;
    let gap = taken.duration_since(released);
    eprintln!(
        "      graceful handoff from {leader} to {next}: lease taken {:.1}s after its release; reconciling {:.1}s after the delete",
        gap.as_secs_f64(),
        reconciling.as_secs_f64()
    );
    ensure(gap.as_secs_f64() < LEASE_SECONDS as f64, || {
        format!("the lease was taken {gap:?} after the old leader's last write: it expired, it was not released")
    })?;
    kubectl_apply(&sdb_yaml(&ns, "after", instance)).await?;
    env.wait_ready(&ns, "after", Duration::from_secs(240)).await?;

    let mut writers: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in audit::requests_since(&env.audit_log, offset, OPERATOR_USER)? {
        if r.namespace == ns && audit::WRITE_VERBS.contains(&r.verb.as_str()) {
            writers.entry(format!("{} {}", r.resource, r.name)).or_default().insert(r.user_agent);
        }
    }
    // At least the replica before and the one after the handoff (a lease
    // renewal starved of CPU can move the lease once more: still one writer
    // per object).
    let agents: BTreeSet<&String> = writers.values().flatten().collect();
    ensure(agents.len() >= 2, || format!("expected writes from two replicas, one after the other: {agents:?}"))?;
    let shared: Vec<_> = writers.iter().filter(|(_, agents)| agents.len() > 1).collect();
    ensure(shared.is_empty(), || format!("written by both replicas: {shared:?}"))
}
