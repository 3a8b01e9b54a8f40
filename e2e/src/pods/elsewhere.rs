//! A service in another namespace than its database, on the real node:
//! nothing is delivered until that namespace opts in; then the owner's pod
//! there logs in with the delivered Secret, a pod with the same labels in a
//! third namespace and a pod of the database's namespace are refused by the
//! NetworkPolicy, and only the owner's ServiceAccount may read the copy.

use super::client::{ClientPod, exec, verdict};
use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, wait_for};
use servicedb::api::ACCEPT_CREDENTIALS_FROM_ANNOTATION;
use std::time::Duration;

const DELIVERED: &str = "orders-db-credentials.e2e-elsewhere-db";

pub async fn service_in_another_namespace(env: &PodEnv) -> Outcome {
    let db = env.namespace("e2e-elsewhere-db").await?;
    let app = env.namespace("e2e-elsewhere-app").await?;
    let third = env.namespace("e2e-elsewhere-third").await?;
    kubectl(&["-n", &app, "create", "serviceaccount", "orders"]).await?;
    let spec = sdb_yaml(&db, "orders", "  monitoring: {enabled: false}\n").replace(
        "    serviceAccountName: orders\n",
        &format!("    serviceAccountName: orders\n    namespace: {app}\n"),
    );
    kubectl_apply(&spec).await?;

    // Not opted in: a message that says what to run, and nothing delivered.
    let message = super::env::wait_ready_reason(env, &db, "orders", "InvalidSpec", Duration::from_secs(60)).await?;
    let annotate = format!("{ACCEPT_CREDENTIALS_FROM_ANNOTATION}={db}");
    ensure(message.contains("ServiceNamespaceNotOptedIn") && message.contains(&annotate), || {
        format!("the refusal should say how to opt in: {message}")
    })?;
    let delivered = kubectl(&["-n", &app, "get", "secrets,roles,rolebindings", "-o", "name"]).await?;
    ensure(delivered.trim().is_empty(), || format!("delivered before the opt-in: {delivered}"))?;
    let sts = kubectl(&["-n", &db, "get", "statefulsets", "-o", "name"]).await?;
    ensure(sts.trim().is_empty(), || format!("a child before the opt-in: {sts}"))?;

    // Opted in: seen within the recheck (namespaces are not watched).
    kubectl(&["annotate", "namespace", &app, &annotate]).await?;
    env.wait_ready(&db, "orders", Duration::from_secs(240)).await?;

    let owner = format!("system:serviceaccount:{app}:orders");
    let can_read = |user: String| {
        let app = app.clone();
        async move {
            kubectl(&["auth", "can-i", "get", &format!("secret/{DELIVERED}"), "-n", &app, "--as", &user]).await.is_ok()
        }
    };
    ensure(can_read(owner).await, || "the owner's ServiceAccount cannot read the delivered Secret".into())?;
    ensure(!can_read(format!("system:serviceaccount:{app}:default")).await, || {
        "another ServiceAccount of the owner's namespace can read the delivered Secret".into()
    })?;
    ensure(!can_read(format!("system:serviceaccount:{db}:orders")).await, || {
        "an `orders` ServiceAccount of the database's namespace can read it".into()
    })?;

    let labels = "{app.kubernetes.io/name: orders}";
    let owner_pod = ClientPod {
        namespace: &app,
        name: "orders-app",
        labels,
        service_account: Some("orders"),
        credentials: Some(DELIVERED),
    };
    let lookalike =
        ClientPod { namespace: &third, name: "orders-app", labels, service_account: None, credentials: None };
    let neighbour = ClientPod { namespace: &db, name: "orders-app", labels, service_account: None, credentials: None };
    for pod in [&owner_pod, &lookalike, &neighbour] {
        pod.start().await?;
    }
    let host = format!("orders-db.{db}.svc");
    let login = wait_for("the owner to log in with the delivered Secret", Duration::from_secs(30), || async {
        exec(&app, "orders-app", None, r#"psql "$DB_URI" -tAc "select current_user""#).await.ok()
    })
    .await?;
    ensure(login.trim().starts_with("orders"), || format!("logged in as {login:?}"))?;
    for (pod, ns) in [(&lookalike, &third), (&neighbour, &db)] {
        let open = verdict(ns, pod.name, &host, 5432, false).await;
        ensure(!open, || format!("{ns}/{} reached the database of a service in {app}", pod.name))?;
    }

    // Back home: the copy and its RBAC go.
    kubectl(&[
        "-n",
        &db,
        "patch",
        "sdb",
        "orders",
        "--type=json",
        "-p",
        r#"[{"op":"remove","path":"/spec/service/namespace"}]"#,
    ])
    .await?;
    wait_for("the delivered Secret, Role and RoleBinding to go", Duration::from_secs(60), || async {
        let left = kubectl(&["-n", &app, "get", "secrets,roles,rolebindings", "-o", "name"]).await.ok()?;
        left.trim().is_empty().then_some(())
    })
    .await
}
