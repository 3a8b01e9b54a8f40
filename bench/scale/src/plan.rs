//! What the bench creates: N `engine: redis` ServiceDatabases with a named
//! ServiceAccount (so every child kind is there, the Role and RoleBinding
//! included), and the namespaces they live in, placed on the kwok nodes.
//! Without TLS: one stand-in server answers every instance, in clear.

use k8s_openapi::api::core::v1::{Namespace, ServiceAccount};
use kube::api::PostParams;
use kube::{Api, Client};
use servicedb::api::ServiceDatabase;
use std::time::Duration;

pub fn names(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("sdb-{i:05}")).collect()
}

/// One ServiceDatabase; `uid` only for objects that are never sent (the
/// bare client builds children from it).
pub fn service_database(namespace: &str, name: &str, uid: Option<&str>) -> Result<ServiceDatabase, String> {
    let value = serde_json::json!({
        "apiVersion": "servicedb.dev/v1alpha1",
        "kind": "ServiceDatabase",
        "metadata": {"name": name, "namespace": namespace, "uid": uid},
        "spec": {
            "engine": "redis",
            "version": "7.2",
            "service": {"name": name, "serviceAccountName": name},
            "storage": {"size": "1Gi"},
            // The shared stand-in server speaks plain Redis.
            "tls": {"enabled": false},
        },
    });
    serde_json::from_value(value).map_err(|e| format!("the bench's ServiceDatabase does not parse: {e}"))
}

/// A namespace enforcing Pod Security `restricted` whose pods go to the
/// tainted kwok nodes (as `KWOK_PLACEMENT` in e2e/src/harness.rs), once its
/// default ServiceAccount exists.
pub async fn namespace(client: &Client, name: &str) -> Result<(), String> {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "metadata": {
            "name": name,
            "labels": {
                "pod-security.kubernetes.io/enforce": "restricted",
                "pod-security.kubernetes.io/enforce-version": "latest",
            },
            "annotations": {
                "scheduler.alpha.kubernetes.io/node-selector": "type=kwok",
                "scheduler.alpha.kubernetes.io/defaultTolerations":
                    "[{\"key\": \"kwok.x-k8s.io/node\", \"operator\": \"Exists\", \"effect\": \"NoSchedule\"}]",
            },
        },
    }))
    .map_err(|e| e.to_string())?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.create(&PostParams::default(), &ns).await {
        Ok(_) => {}
        Err(kube::Error::Api(s)) if s.is_already_exists() => {}
        Err(e) => return Err(format!("namespace {name}: {e}")),
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), name);
    for _ in 0..120 {
        if accounts.get_opt("default").await.ok().flatten().is_some() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(format!("namespace {name} got no default ServiceAccount within 30s"))
}
