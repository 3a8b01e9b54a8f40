//! Rotation end to end: the annotation asks, the credentials Secret switches
//! to the other login with a new password, the stand-in database accepts
//! it, the previous login is disabled after the grace period, and no
//! password reaches the operator's log.

use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, run, sdb_yaml, step, wait_for};
use crate::harness::Env;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

async fn credentials(env: &Env, ns: &str) -> Option<(String, String)> {
    let secret = env.api::<Secret>(ns).get_opt("orders-db-credentials").await.ok()??;
    let data = secret.data?;
    let text = |k: &str| data.get(k).and_then(|v| String::from_utf8(v.0.clone()).ok());
    Some((text("username")?, text("password")?))
}

/// `SELECT 1` with the given login, against the instance's stand-in server.
async fn connects(env: &Env, ns: &str, user: &str, password: &str) -> Result<(), String> {
    let overrides = std::fs::read_to_string(&env.standins.lock().await.overrides).map_err(|e| e.to_string())?;
    let map: BTreeMap<String, String> = serde_json::from_str(&overrides).map_err(|e| e.to_string())?;
    let address = map.get(&format!("{ns}/orders-db")).ok_or("no stand-in server")?;
    let url = format!("postgresql://{user}:{password}@{address}/orders?connect_timeout=5");
    run("psql", &["--no-psqlrc", "-tA", &url, "-c", "SELECT 1"], None).await.map(drop)
}

pub async fn on_demand(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-rotation").await?;
    kubectl_apply(&sdb_yaml(
        &ns,
        "orders",
        "  credentials:\n    rotation:\n      gracePeriodSeconds: 3\n      restartWorkloads: true\n",
    ))
    .await?;
    // The owning service, reading its password from the Secret.
    kubectl_apply(&format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: orders, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app.kubernetes.io/name: orders}}}}\n  template:\n    metadata: {{labels: {{app.kubernetes.io/name: orders}}}}\n    spec:\n      securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}\n      containers:\n      - name: app\n        image: example.com/orders:1\n        securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n        env: [{{name: DB_PASSWORD, valueFrom: {{secretKeyRef: {{name: orders-db-credentials, key: password}}}}}}]\n"
    ))
    .await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(90)).await?;
    let (user, old) = credentials(env, &ns).await.ok_or("no credentials")?;
    ensure(user == "orders", || format!("first login {user}"))?;
    connects(env, &ns, &user, &old).await?;

    kubectl(&["-n", &ns, "annotate", "sdb", "orders", "servicedb.dev/rotate=first"]).await?;
    let start = Instant::now();
    let (new_user, new) = wait_for("the Secret to switch logins", Duration::from_secs(30), || async {
        credentials(env, &ns).await.filter(|(u, _)| u == "orders_b")
    })
    .await?;
    step(&format!("  the Secret switched to {new_user} {:.1}s after the request", start.elapsed().as_secs_f64()));
    ensure(new != old, || "the password did not change".into())?;
    let restarted = wait_for("the service's Deployment to be restarted", Duration::from_secs(20), || async {
        let out = kubectl(&[
            "-n",
            &ns,
            "get",
            "deployment",
            "orders",
            "-o",
            "jsonpath={.spec.template.metadata.annotations.servicedb\\.dev/credentials-rotated-at}",
        ])
        .await
        .ok()?;
        (!out.trim().is_empty()).then_some(out)
    })
    .await?;
    step(&format!("  the Deployment reading the Secret was restarted (rotated at {restarted})"));
    connects(env, &ns, &new_user, &new).await?;
    wait_for("the previous login to be disabled after the grace period", Duration::from_secs(30), || async {
        connects(env, &ns, "orders", &old).await.err().filter(|e| e.contains("not permitted to log in"))
    })
    .await?;
    connects(env, &ns, &new_user, &new).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(30)).await?;

    // The same request is not repeated; a new value rotates back to A.
    kubectl(&["-n", &ns, "annotate", "--overwrite", "sdb", "orders", "servicedb.dev/rotate=second"]).await?;
    let (back, newest) = wait_for("the Secret to switch back", Duration::from_secs(30), || async {
        credentials(env, &ns).await.filter(|(u, _)| u == "orders")
    })
    .await?;
    connects(env, &ns, &back, &newest).await?;

    let log = env.operator.lock().await.log();
    for (what, secret) in [("first", &old), ("second", &new), ("third", &newest)] {
        ensure(!log.contains(secret.as_str()), || format!("the {what} password is in the operator's log"))?;
    }
    Ok(())
}
