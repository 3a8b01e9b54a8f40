//! `ServiceDatabaseBackup`: one backup, now. Its Job runs the same pod as
//! the schedule; its status follows the Job and, once it succeeded, the
//! manifest the backup pod left in its termination message.

use super::apply::merge_patch;
use super::backups::{explain_failure, job_pods, manifest_of, run_of};
use super::context::Context;
use super::error::Error;
use crate::api::{BackupPhase, ServiceDatabase, ServiceDatabaseBackup, ServiceDatabaseBackupStatus};
use crate::builders::Instance;
use crate::builders::backup::on_demand_job;
use k8s_openapi::api::batch::v1::Job;
use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::{Api, Resource, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Field manager of on-demand Jobs and of this kind's status.
const MANAGER: &str = "servicedb-backups";
const RECHECK: Duration = Duration::from_secs(60);

/// `<database>-db-backup-<first 8 of the uid>`: deterministic, and short
/// enough for the `job-name` label of its pods.
pub fn job_name(database: &str, uid: &str) -> String {
    format!("{database}-db-backup-{}", uid.get(..8).unwrap_or(uid))
}

fn waiting(message: String) -> ServiceDatabaseBackupStatus {
    ServiceDatabaseBackupStatus { phase: Some(BackupPhase::Pending), message: Some(message), ..Default::default() }
}

pub async fn reconcile(backup: Arc<ServiceDatabaseBackup>, ctx: Arc<Context>) -> Result<Action, Error> {
    let old = backup.status.clone().unwrap_or_default();
    if matches!(old.phase, Some(BackupPhase::Succeeded | BackupPhase::Failed)) {
        return Ok(Action::await_change()); // a backup runs once
    }
    let namespace = backup.namespace().unwrap_or_default();
    let name = backup.name_any();
    let database = &backup.spec.service_database;
    let sdbs: Api<ServiceDatabase> = Api::namespaced(ctx.client.clone(), &namespace);
    let sdb = sdbs.get_opt(database).await.map_err(Error::kube("get", format!("ServiceDatabase {database}")))?;
    let status =
        match sdb {
            None => waiting(format!("ServiceDatabase {database} does not exist in {namespace}")),
            Some(sdb) => match (&sdb.spec.backup, backup.controller_owner_ref(&())) {
                (None, _) => waiting(format!(
                    "ServiceDatabase {database} has no spec.backup: add a destination there, this backup then runs"
                )),
                (Some(_), None) => return Err(crate::builders::NotStored("uid").into()),
                (Some(spec), Some(owner)) => {
                    let instance = Instance::new(&sdb, &ctx.settings.operator_namespace)?;
                    let job_name = job_name(database, &owner.uid);
                    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), &namespace);
                    // From the cache the database controller's Job watch fills; a
                    // Job created a moment ago and not seen yet is applied again,
                    // unchanged.
                    let job =
                        match ctx.caches.get::<Job>(&namespace, &job_name) {
                            Some(job) => job,
                            // No backup starts while a person holds the instance; it starts on resume.
                            None if super::pause::is_paused(&sdb) => {
                                return publish(&ctx, &backup, &old, waiting(format!(
                            "ServiceDatabase {database} is paused ({}): this backup starts when it is resumed",
                            super::pause::PAUSED_BY
                        )))
                        .await;
                            }
                            None => {
                                let desired =
                                    on_demand_job(&instance, spec, &ctx.settings.tools_image, job_name.clone(), owner);
                                tracing::info!(backup = %name, job = %job_name, "starting an on-demand backup");
                                jobs.patch(&job_name, &PatchParams::apply(MANAGER).force(), &Patch::Apply(&desired))
                                    .await
                                    .map_err(Error::kube("create", format!("Job {job_name}")))?
                            }
                        };
                    status_of(&ctx, &namespace, &job).await?
                }
            },
        };
    publish(&ctx, &backup, &old, status).await
}

/// Writes the status when it changed; a finished backup waits for nothing.
async fn publish(
    ctx: &Context,
    backup: &ServiceDatabaseBackup,
    old: &ServiceDatabaseBackupStatus,
    status: ServiceDatabaseBackupStatus,
) -> Result<Action, Error> {
    if &status != old {
        let name = backup.name_any();
        let api: Api<ServiceDatabaseBackup> =
            Api::namespaced(ctx.client.clone(), &backup.namespace().unwrap_or_default());
        let to_json = |s: &ServiceDatabaseBackupStatus| serde_json::to_value(s).map_err(Error::Serialize);
        let patch = serde_json::json!({ "status": merge_patch(&to_json(old)?, &to_json(&status)?) });
        api.patch_status(&name, &PatchParams::apply(MANAGER), &Patch::Merge(&patch))
            .await
            .map_err(Error::kube("patch status of", format!("ServiceDatabaseBackup {name}")))?;
    }
    Ok(match status.phase {
        Some(BackupPhase::Succeeded | BackupPhase::Failed) => Action::await_change(),
        _ => Action::requeue(RECHECK),
    })
}

async fn status_of(ctx: &Context, namespace: &str, job: &Job) -> Result<ServiceDatabaseBackupStatus, Error> {
    let mut run = run_of(job).record;
    let manifest = match run.phase {
        BackupPhase::Succeeded => manifest_of(&job_pods(&ctx.client, namespace, &run.job).await?),
        BackupPhase::Failed => {
            explain_failure(&ctx.client, namespace, &mut run).await?;
            None
        }
        BackupPhase::Pending | BackupPhase::Running => None,
    };
    Ok(ServiceDatabaseBackupStatus {
        phase: Some(run.phase),
        job: Some(run.job),
        started_at: run.started_at,
        finished_at: run.finished_at,
        backup_id: manifest.as_ref().map(|m| m.id.clone()),
        location: manifest.as_ref().map(|m| m.location.clone()),
        size_bytes: manifest.as_ref().and_then(|m| i64::try_from(m.stored_bytes).ok()),
        sha256: manifest.map(|m| m.sha256),
        message: run.message,
    })
}

pub fn error_policy(backup: Arc<ServiceDatabaseBackup>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::warn!(backup = %backup.name_any(), %error, "on-demand backup reconcile failed");
    Action::requeue(Duration::from_secs(15))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_names_fit_a_label_value() {
        let name = job_name(&"a".repeat(40), "6f1c1d2e-0000-4000-8000-000000000001");
        assert_eq!(name, format!("{}-db-backup-6f1c1d2e", "a".repeat(40)));
        assert!(name.len() <= 63);
    }
}
