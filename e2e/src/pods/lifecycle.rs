//! Creation on the real node: every child, owned and labelled, a pod that
//! runs in a `restricted` namespace, and RBAC on the credentials.

use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, event_reasons, kubectl, kubectl_apply, sdb_yaml};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::ResourceExt;
use std::time::Duration;

pub async fn create(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-create").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    let sdb = env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let uid = sdb.uid().unwrap_or_default();
    let status = sdb.status.clone().unwrap_or_default();
    ensure(status.observed_generation == sdb.metadata.generation, || {
        format!("observedGeneration {:?}", status.observed_generation)
    })?;
    ensure(status.credentials_secret.as_deref() == Some("orders-db-credentials"), || format!("{status:?}"))?;
    let credentials_ready = status.conditions.iter().any(|c| c.type_ == "CredentialsReady" && c.status == "True");
    ensure(credentials_ready, || format!("CredentialsReady is not True: {:?}", status.conditions))?;
    let endpoint = status.endpoint.ok_or("no endpoint in status")?;
    ensure(endpoint.host == format!("orders-db.{ns}.svc") && endpoint.port == 5432, || format!("{endpoint:?}"))?;

    let owned = |meta: &kube::api::ObjectMeta| {
        meta.owner_references.iter().flatten().any(|o| o.uid == uid && o.controller == Some(true))
            && meta.labels.as_ref().and_then(|l| l.get("app.kubernetes.io/managed-by")).map(String::as_str)
                == Some("servicedb")
    };
    let sts = env.api::<StatefulSet>(&ns).get("orders-db").await.map_err(|e| e.to_string())?;
    ensure(owned(&sts.metadata), || "StatefulSet not owned/labelled".into())?;
    ensure(sts.spec.as_ref().and_then(|s| s.replicas) == Some(1), || "replicas != 1".into())?;
    for name in ["orders-db", "orders-db-headless"] {
        let svc = env.api::<Service>(&ns).get(name).await.map_err(|e| format!("Service {name}: {e}"))?;
        ensure(owned(&svc.metadata), || format!("Service {name} not owned"))?;
    }
    for name in ["orders-db-admin", "orders-db-credentials"] {
        let secret = env.api::<Secret>(&ns).get(name).await.map_err(|e| format!("Secret {name}: {e}"))?;
        ensure(owned(&secret.metadata), || format!("Secret {name} not owned"))?;
        let keys: Vec<String> = secret.data.unwrap_or_default().into_keys().collect();
        for key in ["username", "password", "host", "port", "database", "uri", "jdbc-uri"] {
            ensure(keys.iter().any(|k| k == key), || format!("Secret {name} lacks {key}: {keys:?}"))?;
        }
    }
    let np = env.api::<NetworkPolicy>(&ns).get("orders-db").await.map_err(|e| e.to_string())?;
    ensure(owned(&np.metadata), || "NetworkPolicy not owned".into())?;
    let role = env.api::<Role>(&ns).get("orders-db-credentials").await.map_err(|e| e.to_string())?;
    let binding = env.api::<RoleBinding>(&ns).get("orders-db-credentials").await.map_err(|e| e.to_string())?;
    ensure(owned(&role.metadata) && owned(&binding.metadata), || "RBAC not owned".into())?;
    let init = env.api::<ConfigMap>(&ns).get("orders-db-init").await.map_err(|e| e.to_string())?;
    ensure(owned(&init.metadata), || "init ConfigMap not owned".into())?;

    // The pod exists in a namespace enforcing `restricted`: admission accepted it.
    let pod = env.api::<Pod>(&ns).get("orders-db-0").await.map_err(|e| format!("pod: {e}"))?;
    let phase = pod.status.and_then(|s| s.phase).unwrap_or_default();
    ensure(phase == "Running", || format!("pod phase {phase}"))?;
    // ...and the same namespace refuses a pod that is not restricted, so the check means something.
    let refused = kubectl_apply(&format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: unrestricted, namespace: {ns}}}\nspec:\n  containers: [{{name: c, image: busybox}}]\n"
    ))
    .await;
    ensure(refused.as_ref().is_err_and(|e| e.contains("violates PodSecurity \"restricted")), || {
        format!("unrestricted pod: {refused:?}")
    })?;

    // Events tell the story.
    let events = event_reasons(&ns, "orders").await?;
    ensure(events.iter().any(|r| r == "Available"), || format!("no Ready event: {events:?}"))
}

/// Its own namespace and instance: it must not rely on `create` having run.
pub async fn credentials_access(env: &PodEnv) -> Outcome {
    let ns = &env.namespace("e2e-credentials").await?;
    kubectl_apply(&sdb_yaml(ns, "orders", "")).await?;
    env.wait_ready(ns, "orders", Duration::from_secs(240)).await?;
    let can = |user: String, secret: &'static str| async move {
        kubectl(&["auth", "can-i", "get", &format!("secret/{secret}"), "-n", ns, "--as", &user])
            .await
            .map(|o| o.trim().to_string())
            .unwrap_or_else(|e| e.trim().to_string())
    };
    let owner = format!("system:serviceaccount:{ns}:orders");
    let other = format!("system:serviceaccount:{ns}:billing");
    ensure(can(owner.clone(), "orders-db-credentials").await == "yes", || "owner cannot read its Secret".into())?;
    ensure(can(owner, "orders-db-admin").await == "no", || "owner can read the admin Secret".into())?;
    ensure(can(other, "orders-db-credentials").await == "no", || "another ServiceAccount can read the Secret".into())
}
