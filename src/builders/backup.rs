//! Backup children: the CronJob (and on-demand Jobs from the same pod
//! template) running `servicedb backup` from the tools image, the claim it
//! writes to, and the NetworkPolicy that lets its pods reach only the
//! database and the destination.

use super::Instance;
use super::networkpolicy::{dns_egress, port, selector};
use super::statefulset::{container_security_context, pod_security_context, quantities};
use crate::api::{BackupDestination, BackupSpec, CaBundle, S3Destination, VolumeDestination};
use crate::engine::CA_KEY;
use crate::engine::env::{env_from_secret, env_value, optional_env_from_secret};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, Job, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    Container, EmptyDirVolumeSource, EnvVar, KeyToPath, PersistentVolumeClaim, PersistentVolumeClaimSpec,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ResourceRequirements, SecretVolumeSource, Volume,
    VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    IPBlock, NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyPeer, NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use std::collections::BTreeMap;

/// UID of the tools image's non-root user (distroless `nonroot`).
const TOOLS_UID: i64 = 65532;
const BACKUP_MOUNT: &str = "/backups";
/// Where the S3 CA bundle is mounted, and its file there.
const S3_CA_MOUNT: &str = "/etc/servicedb/s3-ca";
const S3_CA_FILE: &str = "ca.crt";
const S3_CA_VOLUME: &str = "s3-ca";
pub const DEFAULT_BACKUP_CLAIM_SIZE: &str = "10Gi";

/// Labels of an instance's `tool` pods (`backup` or `restore`): they select
/// them in the NetworkPolicies and never match the database's own selector.
pub fn tool_pod_labels(instance: &Instance<'_>, tool: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), format!("servicedb-{tool}")),
        ("app.kubernetes.io/instance".to_string(), instance.name.to_string()),
        ("app.kubernetes.io/component".to_string(), tool.to_string()),
        ("app.kubernetes.io/managed-by".to_string(), super::MANAGED_BY.to_string()),
    ])
}

/// The component label of backup pods and Jobs.
pub const BACKUP_COMPONENT: &str = "backup";

pub fn backup_pod_labels(instance: &Instance<'_>) -> BTreeMap<String, String> {
    tool_pod_labels(instance, BACKUP_COMPONENT)
}

/// The claim holding the backups of instance `owner`.
pub fn backup_claim_name(owner: &str, volume: &VolumeDestination) -> String {
    volume.claim_name.clone().unwrap_or_else(|| format!("{owner}-db-backups"))
}

/// The environment and volume that point `servicedb backup` or `restore`
/// at the backups of instance `owner` in `destination`: the backup claim,
/// or the S3 CA bundle's Secret when there is one.
pub fn destination_access(
    namespace: &str,
    owner: &str,
    destination: &BackupDestination,
) -> (Vec<EnvVar>, Option<(Volume, VolumeMount)>) {
    match (&destination.volume, &destination.s3) {
        (Some(volume), _) => (
            vec![env_value("SERVICEDB_BACKUP_DIR", &format!("{BACKUP_MOUNT}/{owner}"))],
            Some((
                Volume {
                    name: "backups".into(),
                    persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                        claim_name: backup_claim_name(owner, volume),
                        // false is the default, which the API server drops: leaving it
                        // out keeps the live object equal to the desired one.
                        read_only: None,
                    }),
                    ..Volume::default()
                },
                VolumeMount { name: "backups".into(), mount_path: BACKUP_MOUNT.into(), ..VolumeMount::default() },
            )),
        ),
        (None, Some(s3)) => {
            let mut env = s3_env(namespace, owner, s3);
            let ca = s3.ca_bundle.as_ref().map(ca_bundle_volume);
            env.extend(ca.is_some().then(|| env_value("SERVICEDB_S3_CA_FILE", &format!("{S3_CA_MOUNT}/{S3_CA_FILE}"))));
            (env, ca)
        }
        (None, None) => (Vec::new(), None),
    }
}

/// The CA bundle's Secret, only its one key, mounted read-only.
fn ca_bundle_volume(ca: &CaBundle) -> (Volume, VolumeMount) {
    (
        Volume {
            name: S3_CA_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(ca.secret_name.clone()),
                items: Some(vec![KeyToPath { key: ca.key.clone(), path: S3_CA_FILE.into(), mode: None }]),
                default_mode: Some(0o444),
                optional: Some(false),
            }),
            ..Volume::default()
        },
        VolumeMount {
            name: S3_CA_VOLUME.into(),
            mount_path: S3_CA_MOUNT.into(),
            read_only: Some(true),
            ..VolumeMount::default()
        },
    )
}

fn s3_env(namespace: &str, owner: &str, s3: &S3Destination) -> Vec<EnvVar> {
    let prefix = s3.prefix.clone().unwrap_or_else(|| format!("{namespace}/{owner}"));
    let mut env = vec![
        env_value("SERVICEDB_S3_BUCKET", &s3.bucket),
        env_value("SERVICEDB_S3_PREFIX", &prefix),
        env_value("SERVICEDB_S3_REGION", &s3.region),
        env_value("SERVICEDB_S3_TLS", if s3.tls { "true" } else { "false" }),
        env_from_secret("AWS_ACCESS_KEY_ID", &s3.credentials_secret, "AWS_ACCESS_KEY_ID"),
        env_from_secret("AWS_SECRET_ACCESS_KEY", &s3.credentials_secret, "AWS_SECRET_ACCESS_KEY"),
    ];
    if let Some(endpoint) = &s3.endpoint {
        env.push(env_value("SERVICEDB_S3_ENDPOINT", endpoint));
    }
    env
}

/// The connection to this instance's database, with the login of Secret
/// `login` (the backup login's for backups, the admin's for restores).
pub fn database_env(instance: &Instance<'_>, login: &str) -> Vec<EnvVar> {
    let (port, _) = instance.engine.port();
    vec![
        env_value("SERVICEDB_ENGINE", instance.spec.engine.as_str()),
        env_value("SERVICEDB_DB_HOST", &instance.host()),
        env_value("SERVICEDB_DB_PORT", &port.to_string()),
        env_value("SERVICEDB_DB_NAME", &instance.engine.app_database(&instance.app_identifier())),
        env_from_secret("SERVICEDB_DB_USERNAME", login, "username"),
        env_from_secret("SERVICEDB_DB_PASSWORD", login, "password"),
        // Present when the instance serves TLS: the tools then verify it.
        optional_env_from_secret("SERVICEDB_DB_CA", login, CA_KEY),
        env_value("SERVICEDB_LOG_FORMAT", "json"),
    ]
}

/// A container of the tools image running `servicedb <command>`.
pub fn tools_container(
    name: &str,
    tools_image: &str,
    command: &str,
    env: Vec<EnvVar>,
    mounts: Vec<VolumeMount>,
) -> Container {
    Container {
        name: name.into(),
        image: Some(tools_image.to_string()),
        args: Some(vec![command.into()]),
        env: Some(env),
        volume_mounts: Some(mounts),
        security_context: Some(container_security_context()),
        termination_message_policy: Some("File".into()),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&[("cpu", "100m"), ("memory", "64Mi")])),
            limits: Some(quantities(&[("memory", "256Mi")])),
            ..ResourceRequirements::default()
        }),
        ..Container::default()
    }
}

/// A one-shot pod of the tools image: no API token, restricted, /tmp writable.
pub fn tools_pod(
    labels: BTreeMap<String, String>,
    container: Container,
    extra_volumes: Vec<Volume>,
) -> PodTemplateSpec {
    let mut volumes =
        vec![Volume { name: "tmp".into(), empty_dir: Some(EmptyDirVolumeSource::default()), ..Volume::default() }];
    volumes.extend(extra_volumes);
    PodTemplateSpec {
        metadata: Some(ObjectMeta { labels: Some(labels), ..ObjectMeta::default() }),
        spec: Some(PodSpec {
            restart_policy: Some("Never".into()),
            automount_service_account_token: Some(false),
            enable_service_links: Some(false),
            security_context: Some(pod_security_context(TOOLS_UID)),
            containers: vec![container],
            volumes: Some(volumes),
            ..PodSpec::default()
        }),
    }
}

pub fn tmp_mount() -> VolumeMount {
    VolumeMount { name: "tmp".into(), mount_path: "/tmp".into(), ..VolumeMount::default() }
}

/// The pod that runs one backup: `servicedb backup` as the read-only backup
/// login, the manifest in the termination message.
pub fn backup_pod(instance: &Instance<'_>, spec: &BackupSpec, tools_image: &str) -> PodTemplateSpec {
    let mut env = database_env(instance, &instance.backup_login_secret_name());
    env.push(env_value("SERVICEDB_ENGINE_VERSION", &instance.spec.version));
    env.push(env_value("SERVICEDB_TERMINATION_LOG", "/dev/termination-log"));
    if let Some(retention) = &spec.retention {
        env.extend(retention.keep_last.map(|n| env_value("SERVICEDB_KEEP_LAST", &n.to_string())));
        env.extend(retention.max_age_days.map(|d| env_value("SERVICEDB_MAX_AGE_DAYS", &d.to_string())));
    }
    let (destination_env, volume) = destination_access(instance.namespace, instance.name, &spec.destination);
    env.extend(destination_env);
    let (volumes, mounts): (Vec<Volume>, Vec<VolumeMount>) = volume.into_iter().unzip();
    let container = tools_container("backup", tools_image, "backup", env, [vec![tmp_mount()], mounts].concat());
    tools_pod(backup_pod_labels(instance), container, volumes)
}

fn job_spec(instance: &Instance<'_>, spec: &BackupSpec, tools_image: &str) -> JobSpec {
    JobSpec {
        // A failed backup is retried twice; each attempt starts a fresh dump.
        backoff_limit: Some(2),
        active_deadline_seconds: Some(6 * 3600),
        template: backup_pod(instance, spec, tools_image),
        ..JobSpec::default()
    }
}

/// `<name>-db-backup`: the schedule, one run at a time, a short history.
pub fn cronjob(instance: &Instance<'_>, spec: &BackupSpec, tools_image: &str) -> CronJob {
    CronJob {
        metadata: instance.child_meta(instance.backup_name()),
        spec: Some(CronJobSpec {
            schedule: spec.schedule.clone(),
            time_zone: Some("Etc/UTC".into()),
            concurrency_policy: Some("Forbid".into()),
            starting_deadline_seconds: Some(3600),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(backup_pod_labels(instance)), ..ObjectMeta::default() }),
                spec: Some(job_spec(instance, spec, tools_image)),
            },
            ..CronJobSpec::default()
        }),
        status: None,
    }
}

/// A Job for one on-demand backup, owned by its ServiceDatabaseBackup.
pub fn on_demand_job(
    instance: &Instance<'_>,
    spec: &BackupSpec,
    tools_image: &str,
    name: String,
    owner: OwnerReference,
) -> Job {
    backup_job(instance, job_spec(instance, spec, tools_image), name, Some(owner))
}

/// The Job of the final backup under deletionPolicy Snapshot. It has no
/// owner, so that it outlives the ServiceDatabase (for a week) to show what
/// it did.
pub fn final_backup_job(instance: &Instance<'_>, spec: &BackupSpec, tools_image: &str) -> Job {
    let spec = JobSpec { ttl_seconds_after_finished: Some(7 * 24 * 3600), ..job_spec(instance, spec, tools_image) };
    backup_job(instance, spec, instance.final_backup_name(), None)
}

fn backup_job(instance: &Instance<'_>, spec: JobSpec, name: String, owner: Option<OwnerReference>) -> Job {
    let mut labels = instance.labels();
    labels.extend(backup_pod_labels(instance));
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(instance.namespace.to_string()),
            labels: Some(labels),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}

/// The claim the operator creates when the volume destination names none.
/// It has no owner: backups outlive the ServiceDatabase.
pub fn backup_claim(instance: &Instance<'_>, spec: &BackupSpec) -> Option<PersistentVolumeClaim> {
    let volume = spec.destination.volume.as_ref()?;
    if volume.claim_name.is_some() {
        return None;
    }
    let mut meta = instance.child_meta(backup_claim_name(instance.name, volume));
    meta.owner_references = None;
    let size = volume.size.clone().unwrap_or_else(|| DEFAULT_BACKUP_CLAIM_SIZE.to_string());
    Some(PersistentVolumeClaim {
        metadata: meta,
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: volume.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(quantities(&[("storage", &size)])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

/// Host and port of an S3 endpoint URL (`https://host:port`).
fn endpoint_host_port(endpoint: &str, tls: bool) -> (String, i32) {
    let rest = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest).trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) if port.parse::<i32>().is_ok() => (host.to_string(), port.parse().unwrap_or(443)),
        _ => (rest.to_string(), if tls { 443 } else { 80 }),
    }
}

/// `<name>-db-backup`: backup pods take no connections, and may reach only
/// DNS, the database port of their instance, and the destination.
pub fn backup_network_policy(instance: &Instance<'_>, spec: &BackupSpec) -> NetworkPolicy {
    tool_network_policy(instance, instance.backup_name(), backup_pod_labels(instance), &spec.destination)
}

/// The NetworkPolicy of tool pods (backup or restore) selected by `labels`:
/// no ingress; egress to DNS, this instance's database port, and the
/// destination: an endpoint given as an IP address by that address and
/// port, a host name by its port (a NetworkPolicy cannot match names).
pub fn tool_network_policy(
    instance: &Instance<'_>,
    name: String,
    labels: BTreeMap<String, String>,
    destination: &BackupDestination,
) -> NetworkPolicy {
    let (db_port, _) = instance.engine.port();
    let mut egress = vec![
        dns_egress(),
        NetworkPolicyEgressRule {
            to: Some(vec![NetworkPolicyPeer {
                pod_selector: selector(instance.selector_labels()),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(vec![port(i32::from(db_port), "TCP")]),
        },
    ];
    if let Some(s3) = &destination.s3 {
        let (host, s3_port) = s3.endpoint.as_deref().map_or(("".to_string(), 443), |e| endpoint_host_port(e, s3.tls));
        let to = host.parse::<std::net::Ipv4Addr>().ok().map(|ip| {
            vec![NetworkPolicyPeer {
                ip_block: Some(IPBlock { cidr: format!("{ip}/32"), except: None }),
                ..NetworkPolicyPeer::default()
            }]
        });
        egress.push(NetworkPolicyEgressRule { to, ports: Some(vec![port(s3_port, "TCP")]) });
    }
    NetworkPolicy {
        metadata: instance.child_meta(name),
        spec: Some(NetworkPolicySpec {
            pod_selector: selector(labels),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ingress: None,
            egress: Some(egress),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn destination(yaml: &str) -> BackupDestination {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn an_s3_ca_bundle_is_mounted_read_only_and_named_in_the_env() {
        let with_ca = destination("{s3: {bucket: b, credentialsSecret: c, caBundle: {secretName: store-ca}}}");
        let (env, volume) = destination_access("shop", "orders", &with_ca);
        let (volume, mount) = volume.expect("the CA bundle's volume");
        let secret = volume.secret.expect("a Secret volume");
        assert_eq!(secret.secret_name.as_deref(), Some("store-ca"));
        let items = secret.items.unwrap();
        assert_eq!((items[0].key.as_str(), items[0].path.as_str()), ("ca.crt", "ca.crt"), "the default key");
        assert_eq!(secret.optional, Some(false));
        assert_eq!((mount.name, mount.read_only), (volume.name, Some(true)));
        let file = env.iter().find(|e| e.name == "SERVICEDB_S3_CA_FILE").expect("SERVICEDB_S3_CA_FILE");
        assert_eq!(file.value.as_deref(), Some(format!("{}/ca.crt", mount.mount_path).as_str()));

        let other_key =
            destination("{s3: {bucket: b, credentialsSecret: c, caBundle: {secretName: s, key: bundle.pem}}}");
        let (_, volume) = destination_access("shop", "orders", &other_key);
        let items = volume.unwrap().0.secret.unwrap().items.unwrap();
        assert_eq!((items[0].key.as_str(), items[0].path.as_str()), ("bundle.pem", "ca.crt"));

        let (env, volume) =
            destination_access("shop", "orders", &destination("{s3: {bucket: b, credentialsSecret: c}}"));
        assert!(volume.is_none() && env.iter().all(|e| e.name != "SERVICEDB_S3_CA_FILE"), "no CA, no mount");
    }

    #[test]
    fn endpoints_split_into_host_and_port() {
        assert_eq!(endpoint_host_port("https://minio.storage:9000", true), ("minio.storage".into(), 9000));
        assert_eq!(endpoint_host_port("https://s3.amazonaws.com/", true), ("s3.amazonaws.com".into(), 443));
        assert_eq!(endpoint_host_port("http://10.0.0.5", false), ("10.0.0.5".into(), 80));
    }
}
