//! The isolation audit on the real cluster, with the operator in pods: each
//! way of reaching the database or its credentials turns `Isolated` False
//! and names the culprit (with a Warning Event and the metric at 0), its
//! removal turns it True again, and an acknowledged exception keeps it True
//! with a note. RBAC findings come from the RBAC objects and from the
//! operator's SubjectAccessReviews (seen in the audit log).

use super::env::{OPERATOR_USER, PodEnv, probe};
use crate::audit;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, wait_for};
use std::time::Duration;

/// A change is seen through the operator's watches, not a resync (300 s).
const SEEN_WITHIN: Duration = Duration::from_secs(45);

/// Waits until `Isolated` has this status and its message contains `part`; returns the message.
async fn isolated(env: &PodEnv, ns: &str, status: &str, reason: &str, part: &str) -> Result<String, String> {
    let api = env.sdbs(ns);
    let found = wait_for(&format!("Isolated={status} {reason} naming {part:?}"), SEEN_WITHIN, || async {
        let sdb = api.get_opt("orders").await.ok().flatten()?;
        let c = sdb.status?.conditions.into_iter().find(|c| c.type_ == "Isolated")?;
        (c.status == status && c.reason == reason && c.message.contains(part)).then_some(c.message)
    })
    .await;
    match found {
        Ok(message) => Ok(message),
        Err(e) => {
            let now = kubectl(&["-n", ns, "get", "sdb", "orders", "-o", "jsonpath={.status.conditions}"]).await;
            Err(format!("{e}; conditions now: {now:?}"))
        }
    }
}

pub async fn audit(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-exposure").await?;
    kubectl(&["-n", &ns, "create", "serviceaccount", "orders"]).await?;
    kubectl(&["-n", &ns, "create", "serviceaccount", "intruder"]).await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "  monitoring: {enabled: false}\n")).await?;
    isolated(env, &ns, "True", "Isolated", "only the service's pods").await?;
    let column = kubectl(&["-n", &ns, "get", "sdb", "orders"]).await?;
    ensure(column.lines().next().is_some_and(|h| h.contains("ISOLATED")), || format!("no Isolated column: {column}"))?;

    // Another ServiceAccount granted the credentials by name.
    let mark = audit::mark(&env.audit_log);
    kubectl(&[
        "-n",
        &ns,
        "create",
        "role",
        "peek",
        "--verb=get",
        "--resource=secrets",
        "--resource-name=orders-db-credentials",
    ])
    .await?;
    kubectl(&["-n", &ns, "create", "rolebinding", "peek", "--role=peek", &format!("--serviceaccount={ns}:intruder")])
        .await?;
    let message =
        isolated(env, &ns, "False", "SecretReadableByOthers", &format!("ServiceAccount {ns}/intruder")).await?;
    ensure(message.contains(&format!("RoleBinding {ns}/peek (Role peek)")), || {
        format!("the binding is not named: {message}")
    })?;
    let events = kubectl(&[
        "-n",
        &ns,
        "get",
        "events",
        "--field-selector",
        "reason=SecretReadableByOthers,type=Warning",
        "-o",
        "name",
    ])
    .await?;
    ensure(!events.trim().is_empty(), || "no Warning Event for Isolated=False".into())?;
    let metrics = probe(&env.wait_leader().await?, "/metrics").await?;
    let series = format!("servicedb_isolated{{namespace=\"{ns}\",name=\"orders\"}} 0");
    ensure(metrics.lines().any(|l| l == series), || format!("the leader's /metrics lacks {series}"))?;
    kubectl(&["-n", &ns, "delete", "rolebinding", "peek"]).await?;
    isolated(env, &ns, "True", "Isolated", "").await?;

    // Every Secret of the namespace, for a ServiceAccount: also what the
    // operator's SubjectAccessReviews find.
    kubectl(&["-n", &ns, "create", "role", "all-secrets", "--verb=list", "--resource=secrets"]).await?;
    kubectl(&[
        "-n",
        &ns,
        "create",
        "rolebinding",
        "all-secrets",
        "--role=all-secrets",
        &format!("--serviceaccount={ns}:intruder"),
    ])
    .await?;
    isolated(env, &ns, "False", "SecretReadableByOthers", &format!("ServiceAccount {ns}/intruder")).await?;
    let requests = audit::requests_since(&env.audit_log, mark, OPERATOR_USER)?;
    let reviews = requests.iter().filter(|r| r.verb == "create" && r.resource == "subjectaccessreviews").count();
    ensure(reviews > 0, || "the operator made no SubjectAccessReview after RBAC changed".into())?;
    kubectl(&["-n", &ns, "delete", "rolebinding", "all-secrets"]).await?;
    isolated(env, &ns, "True", "Isolated", "").await?;

    // A policy that lets every pod in, then acknowledged in the spec.
    kubectl_apply(&format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: allow-all, namespace: {ns}}}\nspec:\n  podSelector: {{}}\n  ingress: [{{}}]\n"
    ))
    .await?;
    isolated(env, &ns, "False", "NetworkPolicyWider", "NetworkPolicy allow-all admits any source on port 5432").await?;
    let exception = r#"{"spec":{"isolation":{"exceptions":[{"kind":"NetworkPolicy","name":"allow-all","reason":"load test, until Friday"}]}}}"#;
    kubectl(&["-n", &ns, "patch", "sdb", "orders", "--type=merge", "-p", exception]).await?;
    isolated(env, &ns, "True", "AcknowledgedExceptions", "acknowledged: load test, until Friday").await?;
    kubectl(&["-n", &ns, "delete", "networkpolicy", "allow-all"]).await?;
    isolated(env, &ns, "True", "Isolated", "").await?;

    // A pod that is not the service's mounts the credentials. It is bound
    // to a node that does not exist: it never runs, its spec is what counts.
    kubectl_apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: snoop, namespace: {ns}, labels: {{app: snoop}}}}\nspec:\n  nodeName: no-such-node\n  securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}\n  containers: [{{name: c, image: none, envFrom: [{{secretRef: {{name: orders-db-credentials}}}}], securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}}}]\n"
    ))
    .await?;
    isolated(
        env,
        &ns,
        "False",
        "SecretReadByOtherPods",
        &format!("pod {ns}/snoop reads Secret {ns}/orders-db-credentials"),
    )
    .await?;
    kubectl(&["-n", &ns, "delete", "pod", "snoop", "--grace-period=0", "--force"]).await?;
    isolated(env, &ns, "True", "Isolated", "").await?;
    Ok(())
}
