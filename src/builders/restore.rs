//! A new instance from a backup (`spec.bootstrap.fromBackup`): SQL engines
//! load it into the running server with a Job; Redis gets it in its data
//! directory from an init container before the server first starts.

use super::Instance;
use super::backup::{
    database_env, destination_access, tmp_mount, tool_network_policy, tool_pod_labels, tools_container, tools_pod,
};
use super::secret::Slot;
use crate::api::{BackupDestination, BackupLocation};
use crate::engine::RestoreMethod;
use crate::engine::env::env_value;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{Container, EnvVar, Volume, VolumeMount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::collections::BTreeMap;

/// Which backups to restore, resolved from the spec.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoreSource {
    /// The instance the backups were taken of.
    pub service_database: String,
    pub destination: BackupDestination,
    /// The newest complete backup when `None`.
    pub backup_id: Option<String>,
}

impl From<&BackupLocation> for RestoreSource {
    fn from(location: &BackupLocation) -> Self {
        RestoreSource {
            service_database: location.service_database.clone(),
            destination: location.destination.clone(),
            backup_id: location.backup_id.clone(),
        }
    }
}

/// Whether this instance's engine restores with a Job (into the running
/// server) rather than before the server starts.
pub fn restores_with_job(instance: &Instance<'_>) -> bool {
    matches!(instance.engine.restore_method(&crate::engine::Connection::NONE, ""), RestoreMethod::Stream(_))
}

pub fn restore_pod_labels(instance: &Instance<'_>) -> BTreeMap<String, String> {
    tool_pod_labels(instance, "restore")
}

fn source_env(instance: &Instance<'_>, source: &RestoreSource) -> (Vec<EnvVar>, Vec<Volume>, Vec<VolumeMount>) {
    let (mut env, volume) = destination_access(instance.namespace, &source.service_database, &source.destination);
    env.extend(source.backup_id.as_deref().map(|id| env_value("SERVICEDB_BACKUP_ID", id)));
    let (volumes, mounts) = volume.into_iter().unzip();
    (env, volumes, mounts)
}

/// `<name>-db-restore`: loads the backup into the new instance once, as the
/// admin, leaving the service's login owner of what it creates.
pub fn restore_job(instance: &Instance<'_>, source: &RestoreSource, tools_image: &str) -> Job {
    let (source, volumes, mounts) = source_env(instance, source);
    let mut env = database_env(instance, &instance.admin_secret_name());
    env.push(env_value("SERVICEDB_RESTORE_OWNER", &instance.login_name(Slot::A)));
    env.extend(source);
    let container = tools_container("restore", tools_image, "restore", env, [vec![tmp_mount()], mounts].concat());
    let mut meta = instance.child_meta(instance.restore_name());
    meta.labels.get_or_insert_default().extend(restore_pod_labels(instance));
    Job {
        metadata: meta,
        spec: Some(JobSpec {
            backoff_limit: Some(2),
            active_deadline_seconds: Some(12 * 3600),
            template: tools_pod(restore_pod_labels(instance), container, volumes),
            ..JobSpec::default()
        }),
        status: None,
    }
}

pub fn restore_network_policy(instance: &Instance<'_>, source: &RestoreSource) -> NetworkPolicy {
    tool_network_policy(instance, instance.restore_name(), restore_pod_labels(instance), &source.destination)
}

/// The init container that puts the backup into the data directory when
/// it is empty (it leaves existing data alone, so restarts are safe), with
/// the volumes it needs beside the data volume.
pub fn restore_init_container(
    instance: &Instance<'_>,
    source: &RestoreSource,
    tools_image: &str,
    data: VolumeMount,
) -> (Container, Vec<Volume>) {
    let (source, volumes, mounts) = source_env(instance, source);
    let mut env = vec![
        env_value("SERVICEDB_ENGINE", instance.spec.engine.as_str()),
        env_value("SERVICEDB_RESTORE_INTO_DIR", &data.mount_path),
        env_value("SERVICEDB_RESTORE_SKIP_IF_PRESENT", "true"),
        env_value("SERVICEDB_LOG_FORMAT", "json"),
    ];
    env.extend(source);
    (tools_container("restore", tools_image, "restore", env, [vec![data], mounts].concat()), volumes)
}
