//! `deletionPolicy`: `Delete` leaves everything to garbage collection (the
//! StatefulSet hands its PVC over too). `Retain` needs a finalizer: before
//! the object goes, both Secrets lose their owner so they outlive it, and the
//! StatefulSet keeps its PVC. Re-creating the object adopts them again.
//! `Snapshot` holds the object with another finalizer until a final backup
//! Job has succeeded; then everything goes as with `Delete`.
//!
//! Credentials delivered to the service's namespace have no owner
//! reference, so garbage collection never takes them: `Delete` and
//! `Snapshot` remove them here (`Delete` gets a finalizer for that while
//! any exist or are wanted); `Retain` keeps them, like the Secrets here.

use crate::api::reasons::Reason;
use crate::api::{BackupPhase, DeletionPolicy, ServiceDatabase};
use crate::builders::Instance;
use crate::builders::backup::final_backup_job;
use crate::controller::apply;
use crate::controller::backups::{explain_failure, run_of};
use crate::controller::context::Context;
use crate::controller::error::Error;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::Secret;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use std::time::Duration;

pub const FINALIZER: &str = "servicedb.dev/retain-data";
pub const SNAPSHOT_FINALIZER: &str = "servicedb.dev/final-backup";
/// `Delete` with credentials delivered to another namespace: they are removed first.
pub const DELIVERED_FINALIZER: &str = "servicedb.dev/delivered-credentials";
const FINALIZER_MANAGER: &str = "servicedb-finalizer";
/// How long to wait before another attempt after a failed final backup.
const RETRY_FINAL_BACKUP: Duration = Duration::from_secs(300);

/// The finalizer a policy needs; `delivers`: credentials are (or may still
/// be) in another namespace, where garbage collection cannot reach them.
fn wanted_finalizer(policy: DeletionPolicy, delivers: bool) -> Option<&'static str> {
    match policy {
        DeletionPolicy::Retain => Some(FINALIZER),
        DeletionPolicy::Snapshot => Some(SNAPSHOT_FINALIZER),
        DeletionPolicy::Delete if delivers => Some(DELIVERED_FINALIZER),
        DeletionPolicy::Delete => None,
    }
}

fn ours(f: &str) -> bool {
    f == FINALIZER || f == SNAPSHOT_FINALIZER || f == DELIVERED_FINALIZER
}

/// Whether credentials are delivered to another namespace, by the spec or
/// as the caches still show them (a move back home not yet swept).
fn delivers(ctx: &Context, sdb: &ServiceDatabase) -> bool {
    Instance::new(sdb, &ctx.settings.operator_namespace).is_ok_and(|instance| {
        instance.service_elsewhere().is_some() || !apply::delivered(&ctx.caches, instance.owner_uid()).is_empty()
    })
}

fn has_finalizer(sdb: &ServiceDatabase) -> bool {
    sdb.finalizers().iter().any(|f| ours(f))
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

/// Keeps exactly the finalizer the policy needs; writes nothing when it is
/// already right.
pub async fn sync_finalizer(ctx: &Context, sdb: &ServiceDatabase) -> Result<(), Error> {
    let client = &ctx.client;
    // Only `Delete` asks (the caches are scanned for delivered copies).
    let policy = sdb.spec.deletion_policy;
    let want = wanted_finalizer(policy, policy == DeletionPolicy::Delete && delivers(ctx, sdb));
    let have: Vec<&String> = sdb.finalizers().iter().filter(|f| ours(f)).collect();
    if have.len() == usize::from(want.is_some()) && have.iter().all(|f| Some(f.as_str()) == want) {
        return Ok(());
    }
    let mut finalizers: Vec<String> = sdb.finalizers().iter().filter(|f| !ours(f)).cloned().collect();
    finalizers.extend(want.map(String::from));
    set_finalizers(client, sdb, finalizers).await
}

/// Runs on a deleted object, by its policy now: a final backup first under
/// `Snapshot`, the Secrets orphaned under `Retain`, delivered credentials
/// removed unless `Retain`; then lets it go.
pub async fn finalize(ctx: &Context, sdb: &ServiceDatabase) -> Result<Action, Error> {
    if !has_finalizer(sdb) {
        return Ok(Action::await_change());
    }
    let client = &ctx.client;
    let operator_namespace = &ctx.settings.operator_namespace;
    if sdb.spec.deletion_policy == DeletionPolicy::Snapshot
        && let Some(wait) = final_backup(ctx, sdb).await?
    {
        return Ok(wait);
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
    } else {
        let instance = Instance::new(sdb, operator_namespace)?;
        let mut delivered = apply::delivered(&ctx.caches, instance.owner_uid());
        // Also where the spec delivers now, in case its Role is gone (the
        // Secret is not cached); only where the operator may look.
        if let Some(namespace) = instance.service_elsewhere().filter(|ns| ctx.caches.watches(ns)) {
            delivered.insert((namespace.to_string(), instance.delivered_credentials_name()));
        }
        apply::remove_delivered(client, &ctx.caches, instance.owner_uid(), &delivered).await?;
    }
    let rest: Vec<String> = sdb.finalizers().iter().filter(|f| !ours(f)).cloned().collect();
    set_finalizers(client, sdb, rest).await?;
    Ok(Action::await_change())
}

/// Starts the final backup Job or follows it: `None` once it succeeded,
/// otherwise when to look again. A failed attempt is reported, removed and
/// tried again later; nothing is deleted without a final backup.
async fn final_backup(ctx: &Context, sdb: &ServiceDatabase) -> Result<Option<Action>, Error> {
    let instance = Instance::new(sdb, &ctx.settings.operator_namespace)?;
    let Some(spec) = &sdb.spec.backup else {
        // CEL requires spec.backup for Snapshot; an object from before that rule waits.
        event(
            ctx,
            sdb,
            EventType::Warning,
            Reason::FinalBackupImpossible,
            "deletionPolicy Snapshot needs spec.backup: add one, or set deletionPolicy Delete or Retain",
        )
        .await;
        return Ok(Some(Action::await_change()));
    };
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), instance.namespace);
    let name = instance.final_backup_name();
    let Some(job) = jobs.get_opt(&name).await.map_err(Error::kube("get", format!("Job {name}")))? else {
        let desired = final_backup_job(&instance, spec, &ctx.settings.tools_image);
        jobs.patch(&name, &PatchParams::apply(FINALIZER_MANAGER).force(), &Patch::Apply(&desired))
            .await
            .map_err(Error::kube("create", format!("Job {name}")))?;
        tracing::info!(job = %name, "deletionPolicy Snapshot: taking the final backup before deleting");
        event(
            ctx,
            sdb,
            EventType::Normal,
            Reason::FinalBackup,
            &format!("taking the final backup (Job {name}) before deleting"),
        )
        .await;
        return Ok(Some(Action::requeue(Duration::from_secs(15))));
    };
    let mut run = run_of(&job).record;
    match run.phase {
        BackupPhase::Succeeded => {
            tracing::info!(job = %name, "final backup succeeded; deleting");
            Ok(None)
        }
        BackupPhase::Failed => {
            explain_failure(&ctx.client, instance.namespace, &mut run).await?;
            let why = run.message.unwrap_or_default();
            event(ctx, sdb, EventType::Warning, Reason::FinalBackupFailed, &format!(
                "the final backup (Job {name}) failed: {why}; nothing was deleted, another attempt follows in 5 minutes (or set deletionPolicy Delete to delete without one)"
            )).await;
            jobs.delete(&name, &DeleteParams::background())
                .await
                .map_err(Error::kube("delete", format!("Job {name}")))?;
            Ok(Some(Action::requeue(RETRY_FINAL_BACKUP)))
        }
        BackupPhase::Pending | BackupPhase::Running => Ok(Some(Action::requeue(Duration::from_secs(15)))),
    }
}

async fn event(ctx: &Context, sdb: &ServiceDatabase, type_: EventType, reason: Reason, note: &str) {
    let event = Event {
        type_,
        reason: reason.as_str().into(),
        note: Some(note.into()),
        action: "Delete".into(),
        secondary: None,
    };
    if let Err(e) = ctx.recorder.publish(&event, &sdb.object_ref(&())).await {
        tracing::warn!(error = %e, "could not record an Event");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_needs_a_finalizer_only_for_credentials_in_another_namespace() {
        assert_eq!(wanted_finalizer(DeletionPolicy::Delete, false), None, "garbage collection does it all");
        assert_eq!(wanted_finalizer(DeletionPolicy::Delete, true), Some(DELIVERED_FINALIZER));
        for delivers in [false, true] {
            assert_eq!(wanted_finalizer(DeletionPolicy::Retain, delivers), Some(FINALIZER));
            assert_eq!(wanted_finalizer(DeletionPolicy::Snapshot, delivers), Some(SNAPSHOT_FINALIZER));
        }
        assert!([FINALIZER, SNAPSHOT_FINALIZER, DELIVERED_FINALIZER].iter().all(|f| ours(f)));
    }
}
