//! The observe step: everything a reconcile decides from, gathered once.
//! Children come from the watch caches; what is read from the API server
//! is named here, with why:
//! - the two Secrets of the instance, by name: Secrets are never listed or
//!   watched (an operator able to list every Secret of the cluster is what
//!   security scanners flag), and the passwords are needed to build them;
//! - objects the spec names that the operator does not watch (a
//!   StorageClass, the S3 and CA Secrets), only until the object was Ready
//!   at its current generation;
//! - the bootstrap's backup and its ServiceDatabase, only until the
//!   bootstrap is done;
//! - the pods of a failed backup or restore Job, once per failed Job, for
//!   the reason it printed;
//! - when the owning service is in another namespace: that Namespace (for
//!   its opt-in annotation) and the credentials Secret delivered there, by
//!   name (see `delivery.rs`).

use super::bootstrap;
use super::delivery::{self, ServiceNamespace};
use super::outcome::Halt;
use super::validate::{self, Invalid};
use crate::api::conditions::{self, READY};
use crate::api::{BackupPhase, BackupRecord, ServiceDatabase};
use crate::builders::Instance;
use crate::builders::backup::BACKUP_COMPONENT;
use crate::builders::restore::RestoreSource;
use crate::controller::backups::{Run, explain_failure, run_of};
use crate::controller::context::Context;
use crate::controller::error::Error;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::Api;

pub struct Observed {
    /// As cached before this reconcile writes it.
    pub statefulset: Option<StatefulSet>,
    /// The data volume exists, so the database was (or is being) initialised
    /// with the passwords of that time.
    pub data_claim_exists: bool,
    pub admin_secret: Option<Secret>,
    pub credentials_secret: Option<Secret>,
    /// Read only when the spec has backups: no other step needs it.
    pub backup_login_secret: Option<Secret>,
    /// What is wrong with the objects the spec names outside the operator's children.
    pub references: Result<(), Invalid>,
    /// The backup to start from while a bootstrap is due.
    pub bootstrap_source: Result<Option<RestoreSource>, Halt>,
    /// The instance's backup Jobs, scheduled and on demand.
    pub backup_runs: Vec<Run>,
    /// The bootstrap's restore Job, while it exists.
    pub restore_run: Option<BackupRecord>,
    /// The owning service's namespace, when it is not this one.
    pub service_namespace: Option<ServiceNamespace>,
}

/// Whether the last status said Ready for the current generation: then the
/// references it checked are taken as still there.
fn ready_at_generation(sdb: &ServiceDatabase) -> bool {
    let Some(status) = &sdb.status else { return false };
    conditions::find(&status.conditions, READY)
        .is_some_and(|c| c.status == "True" && c.observed_generation == sdb.metadata.generation)
}

pub async fn observe(ctx: &Context, sdb: &ServiceDatabase, instance: &Instance<'_>) -> Result<Observed, Error> {
    let (caches, ns) = (&ctx.caches, instance.namespace);
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), ns);
    let read = |name: String| {
        let secrets = secrets.clone();
        async move { secrets.get_opt(&name).await.map_err(Error::kube("get", format!("Secret {name}"))) }
    };
    let backup_login = async {
        match sdb.spec.backup {
            Some(_) => read(instance.backup_login_secret_name()).await,
            None => Ok(None),
        }
    };
    let (admin_secret, credentials_secret, backup_login_secret) =
        futures::try_join!(read(instance.admin_secret_name()), read(instance.credentials_secret_name()), backup_login)?;
    let references = if ready_at_generation(sdb) { Ok(()) } else { validate::references(&ctx.client, sdb).await? };
    let previous = sdb.status.as_ref();
    let jobs = caches.labelled::<Job>(ns, instance.name, BACKUP_COMPONENT);
    let mut backup_runs: Vec<Run> = jobs.iter().map(run_of).collect();
    if let Some(newest) = backup_runs.iter_mut().max_by_key(|r| r.at) {
        let known = previous.and_then(|s| s.last_backup.as_ref());
        explain(ctx, ns, &mut newest.record, known).await?;
    }
    let mut restore_run = caches.get::<Job>(ns, &instance.restore_name()).map(|job| run_of(&job).record);
    if let Some(run) = restore_run.as_mut() {
        explain(ctx, ns, run, previous.and_then(|s| s.bootstrap.as_ref())).await?;
    }
    Ok(Observed {
        statefulset: caches.get::<StatefulSet>(ns, &instance.instance_name()),
        data_claim_exists: caches.contains::<PersistentVolumeClaim>(ns, &instance.data_claim_name()),
        admin_secret,
        credentials_secret,
        backup_login_secret,
        references,
        bootstrap_source: bootstrap::source(&ctx.client, sdb, instance).await?,
        backup_runs,
        restore_run,
        service_namespace: delivery::observe(ctx, instance).await?,
    })
}

/// Puts the failed pod's own words (`servicedb backup`'s error) into a
/// failed run's record: from the last status when it already told this
/// Job's, otherwise from its pods' termination messages.
async fn explain(ctx: &Context, ns: &str, run: &mut BackupRecord, known: Option<&BackupRecord>) -> Result<(), Error> {
    if run.phase != BackupPhase::Failed {
        return Ok(());
    }
    if let Some(known) = known.filter(|k| k.job == run.job && k.phase == BackupPhase::Failed) {
        run.message = known.message.clone().or(run.message.take());
        return Ok(());
    }
    explain_failure(&ctx.client, ns, run).await
}
