//! `kubectl servicedb backup NAME`: a ServiceDatabaseBackup, followed to its end.

use super::failure::Failure;
use super::follow::{Progress, until};
use super::target::Target;
use crate::api::{BackupPhase, ServiceDatabaseBackup, ServiceDatabaseBackupSpec, ServiceDatabaseBackupStatus};
use crate::controller::pause::is_paused;
use crate::units::human_bytes;
use kube::ResourceExt;
use kube::api::{ObjectMeta, PostParams};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What a followed backup shows, and where it ended.
pub fn line(status: &ServiceDatabaseBackupStatus) -> String {
    let phase = status.phase.map_or("Pending".to_string(), |p| format!("{p:?}"));
    let job = status.job.as_ref().map(|j| format!(" (Job {j})")).unwrap_or_default();
    let why = status.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
    format!("{phase}{job}{why}")
}

/// Ok(summary) once it succeeded, Err once it failed, None meanwhile.
pub fn outcome(name: &str, status: &ServiceDatabaseBackupStatus) -> Option<Result<String, Failure>> {
    match status.phase? {
        BackupPhase::Succeeded => {
            let id = status.backup_id.as_deref().unwrap_or("unknown");
            let size = status.size_bytes.and_then(|b| u64::try_from(b).ok());
            let size = size.map_or("unknown size".into(), |b| format!("{} ({b} bytes)", human_bytes(b)));
            let location = status.location.as_deref().map(|l| format!("\nlocation: {l}")).unwrap_or_default();
            Some(Ok(format!("backup {id} succeeded: {size}{location}\nServiceDatabaseBackup: {name}")))
        }
        BackupPhase::Failed => Some(Err(Failure::Failed(format!(
            "backup failed (ServiceDatabaseBackup {name}): {}",
            status.message.as_deref().unwrap_or("no reason given")
        )))),
        BackupPhase::Pending | BackupPhase::Running => None,
    }
}

pub async fn run(target: &Target, name: &str, timeout: Duration) -> Result<(), Failure> {
    let sdb = target.instance(name).await?;
    super::store::backup_store(&sdb, "back up to")?;
    if is_paused(&sdb) {
        return Err(Failure::Failed(format!(
            "ServiceDatabase {name} is paused: the operator starts no backup until `kubectl servicedb resume {name}`"
        )));
    }
    let api = target.api::<ServiceDatabaseBackup>();
    let request = ServiceDatabaseBackup {
        metadata: ObjectMeta { generate_name: Some(format!("{name}-")), ..ObjectMeta::default() },
        spec: ServiceDatabaseBackupSpec { service_database: name.to_string() },
        status: None,
    };
    let created = api
        .create(&PostParams { field_manager: Some(super::FIELD_MANAGER.into()), ..PostParams::default() }, &request)
        .await
        .map_err(Failure::kube("create", &format!("a ServiceDatabaseBackup in {}", target.namespace)))?;
    let backup = created.name_any();
    println!("created ServiceDatabaseBackup {backup}; following it (timeout {}s)", timeout.as_secs());
    let progress = Progress::default();
    let result = until(timeout, &format!("ServiceDatabaseBackup {backup} to finish"), || {
        let api = api.clone();
        let backup = backup.clone();
        let progress = &progress;
        async move {
            let status = api
                .get(&backup)
                .await
                .map_err(Failure::kube("get", &format!("ServiceDatabaseBackup {backup}")))?
                .status
                .unwrap_or_default();
            progress.show(&line(&status));
            Ok(outcome(&backup, &status))
        }
    })
    .await?;
    println!("{}", result?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_followed_backup_ends_with_its_id_and_size_or_its_reason() {
        let running = ServiceDatabaseBackupStatus {
            phase: Some(BackupPhase::Running),
            job: Some("orders-db-backup-1".into()),
            ..Default::default()
        };
        assert_eq!(line(&running), "Running (Job orders-db-backup-1)");
        assert!(outcome("b", &running).is_none());
        assert_eq!(line(&ServiceDatabaseBackupStatus::default()), "Pending");
        let done = ServiceDatabaseBackupStatus {
            phase: Some(BackupPhase::Succeeded),
            backup_id: Some("20261130T010000Z-ab12".into()),
            size_bytes: Some(2048),
            ..running.clone()
        };
        let text = outcome("orders-x", &done).unwrap().unwrap();
        assert!(text.starts_with("backup 20261130T010000Z-ab12 succeeded: 2.0 KiB (2048 bytes)"), "{text}");
        let failed = ServiceDatabaseBackupStatus {
            phase: Some(BackupPhase::Failed),
            message: Some("cannot reach s3".into()),
            ..running
        };
        let failure = outcome("orders-x", &failed).unwrap().unwrap_err();
        assert_eq!(failure.code(), 1);
        assert!(failure.to_string().ends_with("cannot reach s3"));
    }
}
