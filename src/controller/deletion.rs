//! `deletionPolicy`: `Delete` leaves everything to garbage collection (the
//! StatefulSet hands its PVC over too). `Retain` needs a finalizer: before
//! the object goes, both Secrets lose their owner so they outlive it, and the
//! StatefulSet keeps its PVC. Re-creating the object adopts them again.

use super::error::Error;
use crate::api::{DeletionPolicy, ServiceDatabase};
use crate::build::Instance;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::json;

pub const FINALIZER: &str = "servicedb.dev/retain-data";
const FINALIZER_MANAGER: &str = "servicedb-finalizer";

fn has_finalizer(sdb: &ServiceDatabase) -> bool {
    sdb.finalizers().iter().any(|f| f == FINALIZER)
}

/// Sets the finalizer list to `finalizers`, failing with a conflict if the
/// object changed meanwhile (the resourceVersion guards other finalizers).
async fn set_finalizers(client: &Client, sdb: &ServiceDatabase, finalizers: Vec<String>) -> Result<(), Error> {
    let api: Api<ServiceDatabase> = Api::namespaced(client.clone(), &sdb.namespace().unwrap_or_default());
    let patch = json!({"metadata": {"finalizers": finalizers, "resourceVersion": sdb.resource_version()}});
    api.patch(
        &sdb.name_any(),
        &PatchParams { field_manager: Some(FINALIZER_MANAGER.into()), ..PatchParams::default() },
        &Patch::Merge(&patch),
    )
    .await
    .map_err(Error::kube("set finalizers of", format!("ServiceDatabase {}", sdb.name_any())))?;
    Ok(())
}

/// Adds the finalizer for `Retain`, removes it for `Delete`; writes nothing
/// when it is already right.
pub async fn sync_finalizer(client: &Client, sdb: &ServiceDatabase) -> Result<(), Error> {
    let want = sdb.spec.deletion_policy == DeletionPolicy::Retain;
    if want == has_finalizer(sdb) {
        return Ok(());
    }
    let mut finalizers: Vec<String> = sdb.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    if want {
        finalizers.push(FINALIZER.to_string());
    }
    set_finalizers(client, sdb, finalizers).await
}

/// Runs on a deleted object: orphans the Secrets under `Retain`, then lets it go.
pub async fn finalize(client: &Client, sdb: &ServiceDatabase, operator_namespace: &str) -> Result<(), Error> {
    if !has_finalizer(sdb) {
        return Ok(());
    }
    if sdb.spec.deletion_policy == DeletionPolicy::Retain {
        let instance = Instance::new(sdb, operator_namespace)?;
        let secrets: Api<Secret> = Api::namespaced(client.clone(), instance.namespace);
        let orphan = json!({"metadata": {"ownerReferences": null}});
        for name in [instance.admin_secret_name(), instance.credentials_secret_name()] {
            match secrets
                .patch(
                    &name,
                    &PatchParams { field_manager: Some(FINALIZER_MANAGER.into()), ..PatchParams::default() },
                    &Patch::Merge(&orphan),
                )
                .await
            {
                Ok(_) => tracing::info!(secret = %name, "kept Secret after deletion (deletionPolicy Retain)"),
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(Error::kube("orphan", format!("Secret {name}"))(e)),
            }
        }
    }
    let rest: Vec<String> = sdb.finalizers().iter().filter(|f| *f != FINALIZER).cloned().collect();
    set_finalizers(client, sdb, rest).await
}
