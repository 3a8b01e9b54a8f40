//! `kubectl servicedb restore NAME --backup ID --into NEW`: a new
//! ServiceDatabase like NAME, bootstrapped from one of NAME's backups,
//! followed until Ready.

use super::failure::Failure;
use super::follow::{Progress, until};
use super::target::Target;
use crate::api::reasons::Reason;
use crate::api::{BackupLocation, Bootstrap, FromBackup, ServiceDatabase, ServiceDatabaseSpec};
use kube::ResourceExt;
use kube::api::{ObjectMeta, PostParams};
use std::time::Duration;

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The new instance: NAME's engine, version, service, storage, resources,
/// monitoring and backup spec, bootstrapped from backup `id` in NAME's
/// destination. An explicit S3 prefix is dropped from the new instance's own
/// backups (it defaults to `<namespace>/<NEW>`), so that two instances never
/// prune each other's backups.
pub fn restored(source: &ServiceDatabase, into: &str, id: &str) -> Result<ServiceDatabase, Failure> {
    let name = source.name_any();
    let backup = super::store::backup_store(source, "restore from")?.clone();
    let location = BackupLocation {
        service_database: name,
        destination: backup.destination.clone(),
        backup_id: Some(id.to_string()),
    };
    let mut own = backup;
    if let Some(s3) = own.destination.s3.as_mut() {
        s3.prefix = None;
    }
    let spec = &source.spec;
    Ok(ServiceDatabase {
        metadata: ObjectMeta { name: Some(into.to_string()), namespace: source.namespace(), ..ObjectMeta::default() },
        spec: ServiceDatabaseSpec {
            engine: spec.engine,
            version: spec.version.clone(),
            service: spec.service.clone(),
            storage: spec.storage.clone(),
            resources: spec.resources.clone(),
            credentials: None,
            backup: Some(own),
            monitoring: spec.monitoring.clone(),
            // The same service, the same known exceptions.
            isolation: spec.isolation.clone(),
            tls: spec.tls.clone(),
            bootstrap: Some(Bootstrap { from_backup: FromBackup { backup_name: None, location: Some(location) } }),
            deletion_policy: Default::default(),
        },
        status: None,
    })
}

/// Ready reasons after which waiting is pointless.
const HOPELESS: [Reason; 3] = [Reason::RestoreFailed, Reason::InvalidSpec, Reason::ApplyRejected];

/// The line to show and whether the restore is over.
pub fn progress(sdb: &ServiceDatabase) -> (String, Option<Result<(), Failure>>) {
    let status = sdb.status.clone().unwrap_or_default();
    let phase = status.phase.map_or("Pending".into(), |p| format!("{p:?}"));
    let bootstrap = status.bootstrap.as_ref().map_or("not started".into(), |b| format!("{:?}", b.phase));
    let ready = status.conditions.iter().find(|c| c.type_ == "Ready");
    let line = match ready {
        Some(c) if c.status != "True" => format!("{phase}, bootstrap {bootstrap}: {}: {}", c.reason, c.message),
        _ => format!("{phase}, bootstrap {bootstrap}"),
    };
    let current = status.observed_generation.is_some() && status.observed_generation == sdb.metadata.generation;
    let done = match ready {
        Some(c) if c.status == "True" && current => Some(Ok(())),
        Some(c) if HOPELESS.iter().any(|r| r.as_str() == c.reason) => {
            Some(Err(Failure::Failed(format!("the restore failed: {}: {}", c.reason, c.message))))
        }
        _ => None,
    };
    (line, done)
}

pub async fn run(target: &Target, name: &str, id: &str, into: &str, timeout: Duration) -> Result<(), Failure> {
    let source = target.instance(name).await?;
    let api = target.api::<ServiceDatabase>();
    if api.get_opt(into).await.map_err(Failure::kube("get", &format!("ServiceDatabase {into}")))?.is_some() {
        return Err(Failure::Failed(format!(
            "ServiceDatabase {into} already exists in {}: restore only into a new one (choose another --into)",
            target.namespace
        )));
    }
    let new = restored(&source, into, id)?;
    api.create(&PostParams { field_manager: Some(super::FIELD_MANAGER.into()), ..PostParams::default() }, &new)
        .await
        .map_err(Failure::kube("create", &format!("ServiceDatabase {into}")))?;
    println!(
        "created ServiceDatabase {into} from backup {id} of {name}; following it until Ready (timeout {}s)",
        timeout.as_secs()
    );
    let shown = Progress::default();
    until(timeout, &format!("ServiceDatabase {into} to be Ready"), || {
        let api = api.clone();
        let shown = &shown;
        async move {
            let sdb = api.get(into).await.map_err(Failure::kube("get", &format!("ServiceDatabase {into}")))?;
            let (line, done) = progress(&sdb);
            shown.show(&line);
            done.transpose()
        }
    })
    .await?;
    println!("restored: {into} is Ready with the data of backup {id}; its service reads Secret {into}-db-credentials");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> ServiceDatabase {
        yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop, uid: u1}\nspec: {engine: postgres, version: '15', service: {name: orders}, storage: {size: 2Gi}, backup: {schedule: '0 3 * * *', destination: {s3: {bucket: b, prefix: shop/orders, credentialsSecret: s3}}}, credentials: {rotation: {intervalHours: 24}}}",
        )
        .unwrap()
    }

    #[test]
    fn the_new_instance_is_like_the_old_one_and_starts_from_the_backup() {
        let new = restored(&source(), "orders-copy", "20261130T010000Z-ab12").unwrap();
        assert_eq!(new.metadata.name.as_deref(), Some("orders-copy"));
        assert_eq!(new.metadata.namespace.as_deref(), Some("shop"));
        assert_eq!((new.spec.engine, new.spec.version.as_str()), (source().spec.engine, "15"));
        assert_eq!(new.spec.storage.size, "2Gi");
        let location = new.spec.bootstrap.unwrap().from_backup.location.unwrap();
        assert_eq!(location.service_database, "orders");
        assert_eq!(location.backup_id.as_deref(), Some("20261130T010000Z-ab12"));
        assert_eq!(location.destination.s3.unwrap().prefix.as_deref(), Some("shop/orders"), "read from the source's");
        let own = new.spec.backup.unwrap().destination.s3.unwrap();
        assert_eq!(own.prefix, None, "its own backups go to shop/orders-copy");
    }

    #[test]
    fn no_backup_spec_no_restore() {
        let mut s = source();
        s.spec.backup = None;
        assert_eq!(restored(&s, "x", "y").unwrap_err().code(), 3);
    }

    fn with_status(yaml: &str) -> ServiceDatabase {
        let mut s = source();
        s.metadata.generation = Some(1);
        s.status = Some(yaml_serde::from_str(yaml).unwrap());
        s
    }

    #[test]
    fn restore_progress_ends_on_ready_or_on_a_failure() {
        let restoring = with_status(
            "{phase: Provisioning, observedGeneration: 1, bootstrap: {job: orders-copy-db-restore, phase: Running}, conditions: [{type: Ready, status: 'False', reason: Restoring, message: 'restoring the bootstrap backup', lastTransitionTime: '2026-11-30T01:00:00Z'}]}",
        );
        let (line, done) = progress(&restoring);
        assert_eq!(line, "Provisioning, bootstrap Running: Restoring: restoring the bootstrap backup");
        assert!(done.is_none());
        let ready = with_status(
            "{phase: Ready, observedGeneration: 1, bootstrap: {job: j, phase: Succeeded}, conditions: [{type: Ready, status: 'True', reason: Available, message: ok, lastTransitionTime: '2026-11-30T01:00:00Z'}]}",
        );
        assert_eq!(progress(&ready), ("Ready, bootstrap Succeeded".to_string(), Some(Ok(()))));
        let failed = with_status(
            "{phase: Degraded, observedGeneration: 1, conditions: [{type: Ready, status: 'False', reason: RestoreFailed, message: 'no backup x', lastTransitionTime: '2026-11-30T01:00:00Z'}]}",
        );
        assert_eq!(progress(&failed).1.unwrap().unwrap_err().code(), 1);
    }

    #[test]
    fn a_backup_still_running_is_waited_for() {
        let waiting = with_status(
            "{phase: Pending, observedGeneration: 1, conditions: [{type: Ready, status: 'False', reason: WaitingForBackup, message: 'waiting for ServiceDatabaseBackup nightly', lastTransitionTime: '2026-11-30T01:00:00Z'}]}",
        );
        let (line, done) = progress(&waiting);
        assert_eq!(line, "Pending, bootstrap not started: WaitingForBackup: waiting for ServiceDatabaseBackup nightly");
        assert!(done.is_none(), "not hopeless: the backup may still succeed");
    }
}
