//! The baseline: a bare kube-rs client that writes exactly the children the
//! operator would (`servicedb::builders::desired`), by server-side apply, in
//! the operator's order per instance, instances in parallel, into its own
//! namespace. No reads, no status, no database administration: the least
//! any operator must do to get the same objects.

use futures::StreamExt;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use servicedb::api::ServiceDatabase;
use servicedb::builders::{self, Desired, Instance, Passwords, Rotation};
use servicedb::engine::{Images, Logins, generate_password};
use std::fmt::Debug;

/// The bare client's field manager, so its objects are told apart.
const MANAGER: &str = "servicedb-bench-bare";

/// Every child of one ServiceDatabase as the operator would build it, with
/// fresh passwords. Owner references are dropped: their owner does not
/// exist in this namespace, and the garbage collector would delete them.
pub fn children(sdb: &ServiceDatabase) -> Result<Desired, String> {
    let instance = Instance::new(sdb, "servicedb-system").map_err(|e| e.to_string())?;
    let images = Images::Official.for_spec(&sdb.spec).map_err(|e| e.to_string())?;
    let fresh = || generate_password().map_err(|e| e.to_string());
    let (admin, app, monitor, backup) = (fresh()?, fresh()?, fresh()?, fresh()?);
    let engine = instance.engine;
    let app_username = instance.login_name(builders::Slot::A);
    let derived = engine.derived_admin_keys(Logins {
        admin_username: engine.admin_username(),
        admin_password: &admin,
        app_username: &app_username,
        app_password: &app,
    });
    let passwords =
        Passwords { admin, app, app_b: None, monitor, backup, rotation: Rotation::default(), derived, tls: None };
    let inputs = builders::Inputs {
        images: &images,
        claim_size: &sdb.spec.storage.size,
        tools_image: "ghcr.io/servicedb/servicedb-tools:bench",
        restore: None,
        monitoring_namespace: "monitoring",
        now: k8s_openapi::jiff::Timestamp::now(),
    };
    Ok(builders::desired(&instance, &passwords, inputs))
}

async fn apply<K>(client: &Client, namespace: &str, mut object: K) -> Result<(), String>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()> + Serialize + DeserializeOwned + Clone + Debug,
{
    object.meta_mut().owner_references = None;
    let name = object.name_any();
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    api.patch(&name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&object))
        .await
        .map(|_| ())
        .map_err(|e| format!("{} {name}: {e}", K::kind(&())))
}

/// Writes one instance's children in the operator's order (admin Secret,
/// credentials Secret, Role, RoleBinding, NetworkPolicy, init ConfigMap,
/// Services, StatefulSet). Backup, restore, monitoring and delivered
/// children are not built for the bench's specs.
async fn write(client: &Client, namespace: &str, desired: Desired) -> Result<usize, String> {
    let Desired {
        admin_secret,
        credentials_secret,
        credentials_access,
        delivered_credentials: _,
        network_policy,
        init_config,
        headless_service,
        client_service,
        statefulset,
        backup: _,
        restore: _,
        monitoring: _,
    } = desired;
    let mut writes = 0;
    for secret in [admin_secret, credentials_secret] {
        apply::<Secret>(client, namespace, secret).await?;
        writes += 1;
    }
    if let Some((role, binding)) = credentials_access {
        apply(client, namespace, role).await?;
        apply(client, namespace, binding).await?;
        writes += 2;
    }
    apply(client, namespace, network_policy).await?;
    writes += 1;
    if let Some(config) = init_config {
        apply(client, namespace, config).await?;
        writes += 1;
    }
    apply(client, namespace, headless_service).await?;
    apply(client, namespace, client_service).await?;
    apply(client, namespace, statefulset).await?;
    Ok(writes + 3)
}

/// Writes the children of every `sdbs` with at most `concurrency` instances
/// in flight; returns the number of objects written and the failures.
pub async fn write_all(
    client: &Client,
    namespace: &str,
    sdbs: Vec<ServiceDatabase>,
    concurrency: usize,
) -> (usize, Vec<String>) {
    let mut built = Vec::new();
    let mut failures = Vec::new();
    for sdb in &sdbs {
        match children(sdb) {
            Ok(desired) => built.push(desired),
            Err(e) => failures.push(e),
        }
    }
    let results: Vec<Result<usize, String>> = futures::stream::iter(built)
        .map(|desired| write(client, namespace, desired))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
    let mut objects = 0;
    for result in results {
        match result {
            Ok(n) => objects += n,
            Err(e) => failures.push(e),
        }
    }
    (objects, failures)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bare_client_builds_the_operators_children_for_a_redis_instance() {
        let sdb = crate::plan::service_database("bench-bare", "sdb-00001", Some("0b0e7b3e-1")).unwrap();
        let desired = children(&sdb).unwrap();
        assert_eq!(desired.statefulset.name_any(), "sdb-00001-db");
        assert_eq!(desired.admin_secret.name_any(), "sdb-00001-db-admin");
        assert!(desired.credentials_access.is_some(), "a named ServiceAccount gets a Role and RoleBinding");
        assert!(desired.backup.is_none() && desired.restore.is_none());
        let acl = desired.admin_secret.data.as_ref().unwrap().get("users.acl").unwrap();
        assert!(crate::standin::admin_hash(&String::from_utf8_lossy(&acl.0)).is_some());
    }
}
