//! A database pod that cannot run: the status says why, from the
//! container's last state, and the Secrets stay as they were.

use super::env::{PodEnv, wait_ready_reason};
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply};
use std::time::Duration;

const NS: &str = "pods-crashloop";

pub async fn crash_loop_reaches_the_status(env: &PodEnv) -> Outcome {
    // 8Mi cannot hold PostgreSQL: the kernel kills it on every start.
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {NS}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: orders}}\n  storage: {{size: 1Gi}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n  resources: {{requests: {{memory: 8Mi}}, limits: {{memory: 8Mi}}}}\n"
    ))
    .await?;
    let message = wait_ready_reason(env, NS, "orders", "InstanceFailing", Duration::from_secs(180)).await?;
    eprintln!("      status: InstanceFailing: {message}");
    ensure(message.contains("orders-db-0") && message.contains("postgres"), || {
        format!("the message should name the pod and the container: {message}")
    })?;
    let degraded = kubectl(&[
        "-n",
        NS,
        "get",
        "sdb",
        "orders",
        "-o",
        "jsonpath={.status.conditions[?(@.type==\"Degraded\")].status}",
    ])
    .await?;
    ensure(degraded == "True", || format!("Degraded is {degraded:?}"))?;
    // No password in what the status says.
    let password = super::client::secret_value(env, NS, "orders-db-admin", "password").await?;
    ensure(!message.contains(&password), || "the status message carries the admin password".into())
}
