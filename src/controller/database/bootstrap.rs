//! `spec.bootstrap.fromBackup`: which backup to start from, and how far the
//! restore got. SQL engines restore with a Job once the instance and the
//! service's login exist; Ready waits for it. Redis restores in an init
//! container before the server starts, so its pod's readiness says it all.

use super::outcome::{Halt, Waiting};
use super::validate::Invalid;
use crate::api::conditions::{self, CREDENTIALS_READY};
use crate::api::reasons::{InvalidReason, Reason};
use crate::api::{BackupPhase, BackupRecord, ServiceDatabase, ServiceDatabaseBackup};
use crate::builders::restore::{RestoreSource, restores_with_job};
use crate::builders::{Instance, RestoreChildren};
use crate::controller::error::Error;
use kube::{Api, Client};
use std::time::Duration;

const RECHECK: Duration = Duration::from_secs(30);

fn done(sdb: &ServiceDatabase) -> bool {
    sdb.status.as_ref().and_then(|s| s.bootstrap.as_ref()).is_some_and(|b| b.phase == BackupPhase::Succeeded)
}

/// A reference the operator does not watch: looked at again soon.
fn not_found(message: String) -> Halt {
    Halt::Invalid(Invalid { reason: InvalidReason::BootstrapBackupNotFound, message, recheck: Some(RECHECK) })
}

/// The backup id to restore from the bootstrap's ServiceDatabaseBackup
/// `name`: waiting while it runs, invalid once it failed (it never runs again).
fn backup_id(name: &str, backup: &ServiceDatabaseBackup) -> Result<String, Halt> {
    let status = backup.status.clone().unwrap_or_default();
    match (status.phase, status.backup_id) {
        (Some(BackupPhase::Succeeded), Some(id)) => Ok(id),
        (Some(BackupPhase::Failed), _) => Err(Halt::Invalid(Invalid {
            reason: InvalidReason::BootstrapBackupFailed,
            message: format!(
                "ServiceDatabaseBackup {name} failed ({}); name another backup in bootstrap.fromBackup.backupName",
                status.message.as_deref().unwrap_or("no reason given")
            ),
            recheck: None,
        })),
        (phase, _) => Err(Halt::Waiting(Waiting {
            reason: Reason::WaitingForBackup,
            message: format!(
                "waiting for ServiceDatabaseBackup {name} to succeed with a backup id (phase {}) before restoring it",
                phase.map_or_else(|| "not set yet".to_string(), |p| format!("{p:?}"))
            ),
            recheck: RECHECK,
        })),
    }
}

/// The backup to restore, while the bootstrap is not done. Redis keeps its
/// source for good: the init container stays in the pod template (it leaves
/// existing data alone), so the pod does not restart after the bootstrap.
pub async fn source(
    client: &Client,
    sdb: &ServiceDatabase,
    instance: &Instance<'_>,
) -> Result<Result<Option<RestoreSource>, Halt>, Error> {
    let Some(bootstrap) = &sdb.spec.bootstrap else { return Ok(Ok(None)) };
    let from = &bootstrap.from_backup;
    let with_job = restores_with_job(instance);
    if with_job && done(sdb) {
        return Ok(Ok(None));
    }
    if let Some(location) = &from.location {
        return Ok(Ok(Some(RestoreSource::from(location))));
    }
    let Some(name) = &from.backup_name else { return Ok(Ok(None)) };
    if !with_job {
        return Ok(Err(Halt::Invalid(Invalid {
            reason: InvalidReason::InvalidBootstrap,
            message: format!(
                "{} restores before the server first starts, from bootstrap.fromBackup.location (the backup's instance, destination and id); use that instead of backupName",
                instance.spec.engine.as_str()
            ),
            recheck: None,
        })));
    }
    let namespace = instance.namespace;
    let backups: Api<ServiceDatabaseBackup> = Api::namespaced(client.clone(), namespace);
    let Some(backup) =
        backups.get_opt(name).await.map_err(Error::kube("get", format!("ServiceDatabaseBackup {name}")))?
    else {
        return Ok(Err(not_found(format!("ServiceDatabaseBackup {name} does not exist in {namespace}"))));
    };
    let id = match backup_id(name, &backup) {
        Ok(id) => id,
        Err(halt) => return Ok(Err(halt)),
    };
    let origin = &backup.spec.service_database;
    let sdbs: Api<ServiceDatabase> = Api::namespaced(client.clone(), namespace);
    let destination = sdbs
        .get_opt(origin)
        .await
        .map_err(Error::kube("get", format!("ServiceDatabase {origin}")))?
        .and_then(|o| o.spec.backup)
        .map(|b| b.destination);
    Ok(match destination {
        Some(destination) => {
            Ok(Some(RestoreSource { service_database: origin.clone(), destination, backup_id: Some(id) }))
        }
        None => Err(not_found(format!(
            "ServiceDatabase {origin}, whose backup {name} is, is gone or has no spec.backup; use bootstrap.fromBackup.location instead"
        ))),
    })
}

/// How far the bootstrap got, for the status (`None` without one). SQL
/// engines: the restore Job's run; Redis: its init container has restored
/// once the pod is ready. Once done, the record stays as the status has it.
pub fn record(
    sdb: &ServiceDatabase,
    instance: &Instance<'_>,
    restore_run: Option<&BackupRecord>,
    instance_ready: bool,
) -> Option<BackupRecord> {
    sdb.spec.bootstrap.as_ref()?;
    if done(sdb) {
        return sdb.status.as_ref().and_then(|s| s.bootstrap.clone());
    }
    let record = |job: String, phase| BackupRecord { job, phase, started_at: None, finished_at: None, message: None };
    if !restores_with_job(instance) {
        let pod = format!("{}-0 (init container restore)", instance.instance_name());
        return Some(record(pod, if instance_ready { BackupPhase::Succeeded } else { BackupPhase::Running }));
    }
    Some(restore_run.cloned().unwrap_or_else(|| record(instance.restore_name(), BackupPhase::Pending)))
}

/// The restore Job and its NetworkPolicy, while they are wanted: from when
/// the service's login exists (it owns what the restore loads; the last
/// status says so, or the Job already runs) until the status recorded the
/// bootstrap as done (then there is no source, and they are leftovers). A
/// succeeded Job stays until then, so that it never runs twice.
pub fn wanted(
    sdb: &ServiceDatabase,
    restore: Option<RestoreChildren>,
    restore_run: Option<&BackupRecord>,
) -> Option<RestoreChildren> {
    // While the restore is due, CredentialsReady is False with reason
    // Administered: the logins exist, the data does not yet.
    let administered = sdb
        .status
        .as_ref()
        .and_then(|s| conditions::find(&s.conditions, CREDENTIALS_READY))
        .is_some_and(|c| c.reason == Reason::Administered.as_str());
    if restore_run.is_some() || administered { restore } else { None }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(status: &str) -> ServiceDatabaseBackup {
        yaml_serde::from_str(&format!(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabaseBackup\nmetadata: {{name: nightly, namespace: shop}}\nspec: {{serviceDatabase: orders}}\nstatus: {status}"
        ))
        .unwrap()
    }

    #[test]
    fn a_backup_still_running_is_waited_for_not_an_invalid_spec() {
        for status in ["{}", "{phase: Pending}", "{phase: Running}"] {
            let Err(Halt::Waiting(waiting)) = backup_id("nightly", &backup(status)) else {
                panic!("{status}: not waiting")
            };
            assert_eq!(waiting.reason, Reason::WaitingForBackup, "{status}");
            assert_eq!(waiting.recheck, RECHECK, "nothing watched wakes the operator when it finishes");
            assert!(
                waiting.message.starts_with("waiting for ServiceDatabaseBackup nightly to succeed"),
                "{}",
                waiting.message
            );
        }
    }

    #[test]
    fn a_succeeded_backup_gives_its_id_and_a_failed_one_is_invalid() {
        assert_eq!(
            backup_id("nightly", &backup("{phase: Succeeded, backupId: '20261130T010000Z'}")),
            Ok("20261130T010000Z".into())
        );
        let Err(Halt::Invalid(invalid)) = backup_id("nightly", &backup("{phase: Failed, message: 'access denied'}"))
        else {
            panic!("a failed backup never runs again")
        };
        assert_eq!(invalid.reason, InvalidReason::BootstrapBackupFailed);
        assert_eq!(invalid.recheck, None, "waits for the spec to name another backup");
        assert!(invalid.message.contains("access denied"), "{}", invalid.message);
    }

    fn children() -> RestoreChildren {
        RestoreChildren { network_policy: Default::default(), job: Default::default() }
    }

    fn with_credentials(status: &str, reason: &str) -> ServiceDatabase {
        yaml_serde::from_str(&format!(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: copy, namespace: shop}}\nspec: {{engine: postgres, version: '16', service: {{name: copy}}, storage: {{size: 1Gi}}}}\nstatus: {{conditions: [{{type: CredentialsReady, status: '{status}', reason: {reason}, message: m, lastTransitionTime: '2026-01-01T00:00:00Z'}}]}}"
        ))
        .unwrap()
    }

    #[test]
    fn the_restore_starts_once_the_logins_exist_and_stays_while_it_runs() {
        // What the status says while a restore is due: logins in place, data not yet.
        let administered = with_credentials("False", "Administered");
        assert!(wanted(&administered, Some(children()), None).is_some(), "the logins exist: start the restore");
        let waiting = with_credentials("False", "WaitingForInstance");
        assert!(wanted(&waiting, Some(children()), None).is_none(), "no login to own the restored objects yet");
        let running = BackupRecord {
            job: "copy-db-restore".into(),
            phase: BackupPhase::Succeeded,
            started_at: None,
            finished_at: None,
            message: None,
        };
        assert!(
            wanted(&waiting, Some(children()), Some(&running)).is_some(),
            "an existing Job stays until the status recorded the bootstrap as done"
        );
        assert!(wanted(&administered, None, None).is_none(), "nothing to restore");
    }
}
