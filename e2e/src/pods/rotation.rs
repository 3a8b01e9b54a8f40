//! Rotation seen from client pods: the pod started before the rotation keeps
//! working through the grace period, a pod started after it logs in with
//! the new login and sees the same data, and after the grace period the
//! previous login is refused.

use super::client::{ClientPod, exec, secret_value};
use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, wait_for};
use std::time::Duration;

const NS: &str = "pods-rotation";
const GRACE_SECONDS: u64 = 20;

fn client(name: &str) -> ClientPod<'_> {
    ClientPod {
        namespace: NS,
        name,
        labels: "{app.kubernetes.io/name: orders}",
        service_account: Some("orders"),
        credentials: Some("orders-db-credentials"),
    }
}

/// The login a pod's env holds (session_user: the rotation's second login
/// acts as the first, so current_user is the same for both) and a row count.
const QUERY: &str = r#"psql "$DB_URI" -qtA -v ON_ERROR_STOP=1 -c 'create table if not exists seen (n int)' -c 'insert into seen values (1)' -c "select session_user || ' ' || count(*) from seen""#;

/// Only a login, changing nothing.
const LOGIN: &str = r#"psql "$DB_URI" -qtA -c 'select 1'"#;

pub async fn observed_by_client_pods(env: &PodEnv) -> Outcome {
    let _ = kubectl(&["-n", NS, "create", "serviceaccount", "orders"]).await;
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: {NS}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: orders, serviceAccountName: orders}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n  credentials: {{rotation: {{gracePeriodSeconds: {GRACE_SECONDS}}}}}\n"
    ))
    .await?;
    env.wait_ready(NS, "orders", Duration::from_secs(240)).await?;
    let before = client("before");
    before.start().await?;
    let first = wait_for("the first pod's login", Duration::from_secs(30), || async {
        exec(NS, before.name, None, QUERY).await.ok()
    })
    .await?;
    let old_user = secret_value(env, NS, "orders-db-credentials", "username").await?;
    ensure(first.trim() == format!("{old_user} 1"), || format!("before the rotation: {first}"))?;

    kubectl(&["-n", NS, "annotate", "sdb", "orders", "servicedb.dev/rotate=e2e-1", "--overwrite"]).await?;
    let new_user = wait_for("the Secret to switch logins", Duration::from_secs(60), || async {
        let user = secret_value(env, NS, "orders-db-credentials", "username").await.ok()?;
        (user != old_user).then_some(user)
    })
    .await?;
    // Within the grace period the pod holding the old login still works.
    let during = exec(NS, before.name, None, QUERY).await?;
    ensure(during.trim() == format!("{old_user} 2"), || format!("the old login during the grace period: {during}"))?;
    let after = client("after");
    after.start().await?;
    let fresh = exec(NS, after.name, None, QUERY).await?;
    ensure(fresh.trim() == format!("{new_user} 3"), || format!("the new login, on the same data: {fresh}"))?;

    // After the grace period the old login is refused; the new one works.
    wait_for("the previous login to be disabled", Duration::from_secs(GRACE_SECONDS + 60), || async {
        exec(NS, before.name, None, LOGIN).await.is_err().then_some(())
    })
    .await?;
    let still = exec(NS, after.name, None, QUERY).await?;
    ensure(still.trim() == format!("{new_user} 4"), || format!("the new login after the grace period: {still}"))
}
