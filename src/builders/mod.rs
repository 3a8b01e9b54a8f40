//! Pure builders: a ServiceDatabase in, its complete desired children out.
//! No client and no I/O here; everything is unit-tested from YAML fixtures.

pub mod backup;
pub mod backup_list;
pub mod delivery;
mod instance;
pub mod monitoring;
pub mod networkpolicy;
mod rbac;
pub mod restore;
pub mod secret;
mod service;
mod statefulset;

#[cfg(test)]
mod tests;

pub use delivery::DeliveredCredentials;
pub use instance::{
    ADMIN_SUFFIX, BACKUP_LOGIN_SUFFIX, CREDENTIALS_SUFFIX, DESIRED_HASH_ANNOTATION, ENGINE_VERSION_ANNOTATION,
    Instance, MANAGED_BY, NotStored,
};
pub use networkpolicy::OPERATOR_POD_LABELS;
pub use secret::{Passwords, Rotation, Slot};
pub use statefulset::{default_resources, serves_tls};

use crate::engine::InstanceImages;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};

/// Every child of one ServiceDatabase, in the order they are applied:
/// Secrets before the pods that read them, the NetworkPolicy before the pods
/// it protects.
#[derive(Clone, Debug)]
pub struct Desired {
    pub admin_secret: Secret,
    pub credentials_secret: Secret,
    pub credentials_access: Option<(Role, RoleBinding)>,
    /// Present when the owning service lives in another namespace.
    pub delivered_credentials: Option<DeliveredCredentials>,
    pub network_policy: NetworkPolicy,
    pub init_config: Option<ConfigMap>,
    pub headless_service: Service,
    pub client_service: Service,
    pub statefulset: StatefulSet,
    /// Present when `spec.backup` is.
    pub backup: Option<BackupChildren>,
    /// Present while an instance of a SQL engine is bootstrapped from a backup.
    pub restore: Option<RestoreChildren>,
    /// Present when monitoring is on.
    pub monitoring: Option<MonitoringChildren>,
}

/// What the restore of `spec.bootstrap` needs (SQL engines): its pods'
/// NetworkPolicy and the Job.
#[derive(Clone, Debug)]
pub struct RestoreChildren {
    pub network_policy: NetworkPolicy,
    pub job: Job,
}

/// What the builders need beside the ServiceDatabase, resolved by the
/// reconciler.
#[derive(Clone, Copy, Debug)]
pub struct Inputs<'a> {
    /// The images of the database and its exporter, resolved by validation
    /// from the spec and the operator's image source.
    pub images: &'a InstanceImages,
    /// Explained at [`statefulset::statefulset`].
    pub claim_size: &'a str,
    /// Image of backup and restore pods.
    pub tools_image: &'a str,
    /// The backup to start from, while the bootstrap is not done.
    pub restore: Option<&'a restore::RestoreSource>,
    /// Namespace whose pods (Prometheus) may scrape the exporters.
    pub monitoring_namespace: &'a str,
    /// The time the alert thresholds that follow the backup schedule are computed at.
    pub now: k8s_openapi::jiff::Timestamp,
}

/// For the Prometheus Operator, when its API is served.
#[derive(Clone, Debug)]
pub struct MonitoringChildren {
    pub pod_monitor: crate::api::prometheus::PodMonitor,
    pub prometheus_rule: crate::api::prometheus::PrometheusRule,
}

/// What scheduled backups need: their login and the claim first (when the
/// operator creates it), then the pods' NetworkPolicy, then the CronJob.
#[derive(Clone, Debug)]
pub struct BackupChildren {
    /// The read-only login the backup pods connect with.
    pub login_secret: Secret,
    pub claim: Option<PersistentVolumeClaim>,
    pub network_policy: NetworkPolicy,
    pub cronjob: CronJob,
}

/// Builds every child.
pub fn desired(instance: &Instance<'_>, passwords: &Passwords, inputs: Inputs<'_>) -> Desired {
    let Inputs { images, claim_size, tools_image, restore, monitoring_namespace, now } = inputs;
    let data_restore = restore.filter(|_| !restore::restores_with_job(instance));
    let credentials_secret = secret::credentials_secret(instance, passwords);
    let tls = passwords.tls.is_some();
    Desired {
        admin_secret: secret::admin_secret(instance, passwords),
        delivered_credentials: delivery::delivered_credentials(instance, &credentials_secret),
        credentials_secret,
        credentials_access: rbac::credentials_access(instance),
        network_policy: networkpolicy::network_policy(instance, monitoring_namespace),
        init_config: statefulset::init_config(instance, tls),
        headless_service: service::headless_service(instance),
        client_service: service::client_service(instance),
        statefulset: statefulset::statefulset(
            instance,
            images,
            claim_size,
            data_restore.map(|r| (r, tools_image)),
            tls,
        ),
        backup: instance.spec.backup.as_ref().map(|spec| BackupChildren {
            login_secret: secret::backup_login_secret(instance, passwords),
            claim: backup::backup_claim(instance, spec),
            network_policy: backup::backup_network_policy(instance, spec),
            cronjob: backup::cronjob(instance, spec, tools_image),
        }),
        restore: restore.filter(|_| restore::restores_with_job(instance)).map(|source| RestoreChildren {
            network_policy: restore::restore_network_policy(instance, source),
            job: restore::restore_job(instance, source, tools_image),
        }),
        monitoring: instance.spec.monitoring_enabled().then(|| MonitoringChildren {
            pod_monitor: monitoring::pod_monitor(instance),
            prometheus_rule: monitoring::prometheus_rule(instance, now),
        }),
    }
}
