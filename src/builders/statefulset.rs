//! The StatefulSet running one database instance.

use super::restore::{RestoreSource, restore_init_container};
use super::{ENGINE_VERSION_ANNOTATION, Instance};
use crate::api::DeletionPolicy;
use crate::engine::{CA_KEY, InstanceImages, SecretNames, TLS_CERT_KEY, TLS_DIR, TLS_KEY_KEY};
use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec};
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, KeyToPath,
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use std::collections::BTreeMap;
use std::ops::Not;

const DATA_VOLUME: &str = "data";
const INIT_VOLUME: &str = "init";
const ADMIN_FILES_VOLUME: &str = "admin-files";
const TLS_VOLUME: &str = "tls";
/// The exporter's: the CA (and its config), never the server's key.
const EXPORTER_TLS_VOLUME: &str = "exporter-tls";

pub(super) fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs.iter().map(|(k, v)| (k.to_string(), Quantity(v.to_string()))).collect()
}

/// Small but safe defaults: a memory limit protects the node, no CPU limit
/// avoids throttling a database under load.
pub fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(quantities(&[("cpu", "100m"), ("memory", "256Mi")])),
        limits: Some(quantities(&[("memory", "512Mi")])),
        ..ResourceRequirements::default()
    }
}

/// Pod Security Standards `restricted`, plus a read-only root filesystem.
pub(super) fn container_security_context() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities { drop: Some(vec!["ALL".to_string()]), add: None }),
        privileged: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_string(), ..SeccompProfile::default() }),
        ..SecurityContext::default()
    }
}

pub(super) fn pod_security_context(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        fs_group_change_policy: Some("OnRootMismatch".to_string()),
        seccomp_profile: Some(SeccompProfile { type_: "RuntimeDefault".to_string(), ..SeccompProfile::default() }),
        ..PodSecurityContext::default()
    }
}

/// An engine's health check with the operator's timings.
fn timed(check: Probe, period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        period_seconds: Some(period_seconds),
        timeout_seconds: Some(5),
        failure_threshold: Some(failure_threshold),
        ..check
    }
}

fn scratch_volume_name(index: usize) -> String {
    format!("scratch-{index}")
}

/// A volume of the admin Secret's `keys`, read-only to the pod's group, and
/// its mount at [`TLS_DIR`].
fn tls_files(instance: &Instance<'_>, volume: &str, keys: &[&str]) -> (Volume, VolumeMount) {
    let items = keys.iter().map(|key| KeyToPath { key: key.to_string(), path: key.to_string(), mode: None }).collect();
    let volume = Volume {
        name: volume.to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(instance.admin_secret_name()),
            items: Some(items),
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    };
    let mount = VolumeMount {
        name: volume.name.clone(),
        mount_path: TLS_DIR.into(),
        read_only: Some(true),
        ..Default::default()
    };
    (volume, mount)
}

/// The engine's exporter, restricted like the database container, serving
/// the named port `metrics`; with `tls`, the CA to verify the server with.
fn exporter(instance: &Instance<'_>, image: &str, tls: bool) -> (Container, Option<Volume>) {
    let exporter = instance.engine.exporter(&instance.admin_secret_name(), tls);
    let files = tls.then(|| {
        let config = exporter.config.as_ref().map(|c| c.file);
        let keys: Vec<&str> = [CA_KEY].into_iter().chain(config).collect();
        tls_files(instance, EXPORTER_TLS_VOLUME, &keys)
    });
    let (volume, mount) = files.unzip();
    let container = Container {
        name: "exporter".into(),
        image: Some(image.to_string()),
        args: (!exporter.args.is_empty()).then_some(exporter.args),
        env: Some(exporter.env),
        ports: Some(vec![ContainerPort {
            name: Some("metrics".into()),
            container_port: i32::from(exporter.port),
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        security_context: Some(container_security_context()),
        resources: Some(ResourceRequirements {
            requests: Some(quantities(&[("cpu", "10m"), ("memory", "32Mi")])),
            limits: Some(quantities(&[("memory", "128Mi")])),
            ..ResourceRequirements::default()
        }),
        volume_mounts: mount.map(|m| vec![m]),
        ..Container::default()
    };
    (container, volume)
}

/// The StatefulSet `<name>-db`, with an exporter beside the database when
/// `images` has one. `claim_size` is the data volume size of the
/// claim template: the spec's on creation, the live one afterwards, because a
/// StatefulSet's claim templates are immutable (growth resizes the PVC).
/// `restore`: the backup to put into an empty data directory first, and the
/// tools image that does it. `tls`: the server serves TLS only, with the
/// certificate and key of the admin Secret.
pub fn statefulset(
    instance: &Instance<'_>,
    images: &InstanceImages,
    claim_size: &str,
    restore: Option<(&RestoreSource, &str)>,
    tls: bool,
) -> StatefulSet {
    let engine = instance.engine;
    let (port, port_name) = engine.port();
    let admin = instance.admin_secret_name();
    let credentials = instance.credentials_secret_name();

    let mut mounts = vec![VolumeMount {
        name: DATA_VOLUME.to_string(),
        mount_path: engine.data_mount_path().to_string(),
        ..VolumeMount::default()
    }];
    let mut volumes = Vec::new();
    for (i, dir) in engine.scratch_dirs().iter().enumerate() {
        mounts.push(VolumeMount {
            name: scratch_volume_name(i),
            mount_path: dir.to_string(),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name: scratch_volume_name(i),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Volume::default()
        });
    }
    if let Some(files) = engine.admin_secret_files() {
        mounts.push(VolumeMount {
            name: ADMIN_FILES_VOLUME.to_string(),
            mount_path: files.mount_path.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name: ADMIN_FILES_VOLUME.to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(instance.admin_secret_name()),
                items: Some(
                    files
                        .files
                        .iter()
                        .map(|(key, path)| KeyToPath { key: key.to_string(), path: path.to_string(), mode: None })
                        .collect(),
                ),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    if tls {
        let (volume, mount) = tls_files(instance, TLS_VOLUME, &[TLS_CERT_KEY, TLS_KEY_KEY, CA_KEY]);
        volumes.push(volume);
        mounts.push(mount);
    }
    if let Some(scripts) = engine.init_scripts(tls) {
        mounts.push(VolumeMount {
            name: INIT_VOLUME.to_string(),
            mount_path: scripts.mount_path.to_string(),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name: INIT_VOLUME.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: instance.init_config_name(),
                default_mode: Some(0o555),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        });
    }

    let container = Container {
        name: instance.spec.engine.as_str().to_string(),
        image: Some(images.database.clone()),
        image_pull_policy: Some("IfNotPresent".to_string()),
        args: engine.args(tls),
        ports: Some(vec![ContainerPort {
            name: Some(port_name.to_string()),
            container_port: i32::from(port),
            protocol: Some("TCP".to_string()),
            ..ContainerPort::default()
        }]),
        env: Some(engine.env(SecretNames { admin: &admin, credentials: &credentials })),
        readiness_probe: Some(timed(engine.health_check(), 5, 3)),
        liveness_probe: Some(timed(engine.health_check(), 10, 6)),
        // The first start (initdb and the like) may take minutes on slow volumes.
        startup_probe: Some(timed(engine.health_check(), 5, 120)),
        resources: Some(instance.spec.resources.clone().unwrap_or_else(default_resources)),
        security_context: Some(container_security_context()),
        volume_mounts: Some(mounts),
        ..Container::default()
    };

    let claim = PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(DATA_VOLUME.to_string()),
            labels: Some(instance.selector_labels()),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            storage_class_name: instance.spec.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(quantities(&[("storage", claim_size)])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };

    let mut containers = vec![container];
    if let Some(image) = images.exporter.as_deref() {
        let (exporter, volume) = exporter(instance, image, tls);
        containers.push(exporter);
        volumes.extend(volume);
    }
    let mut init_containers = Vec::new();
    if let Some((source, tools_image)) = restore {
        let data = VolumeMount {
            name: DATA_VOLUME.to_string(),
            mount_path: engine.data_mount_path().to_string(),
            ..VolumeMount::default()
        };
        let (init, extra) = restore_init_container(instance, source, tools_image, data);
        init_containers.push(init);
        volumes.extend(extra);
    }

    // `Delete` hands the PVC to the StatefulSet controller's garbage collection.
    let when_deleted = match instance.spec.deletion_policy {
        DeletionPolicy::Retain => "Retain",
        DeletionPolicy::Delete | DeletionPolicy::Snapshot => "Delete",
    };

    let mut metadata = instance.child_meta(instance.instance_name());
    metadata.annotations =
        Some(BTreeMap::from([(ENGINE_VERSION_ANNOTATION.to_string(), instance.spec.version.clone())]));
    StatefulSet {
        metadata,
        spec: Some(StatefulSetSpec {
            replicas: Some(1),
            service_name: Some(instance.headless_service_name()),
            selector: LabelSelector { match_labels: Some(instance.selector_labels()), ..LabelSelector::default() },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta { labels: Some(instance.labels()), ..ObjectMeta::default() }),
                spec: Some(PodSpec {
                    init_containers: init_containers.is_empty().not().then_some(init_containers),
                    containers,
                    volumes: Some(volumes),
                    security_context: Some(pod_security_context(engine.run_as_user())),
                    // The database needs no Kubernetes API access.
                    automount_service_account_token: Some(false),
                    enable_service_links: Some(false),
                    termination_grace_period_seconds: Some(60),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![claim]),
            persistent_volume_claim_retention_policy: Some(StatefulSetPersistentVolumeClaimRetentionPolicy {
                when_deleted: Some(when_deleted.to_string()),
                when_scaled: Some("Retain".to_string()),
            }),
            pod_management_policy: Some("OrderedReady".to_string()),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// Whether the StatefulSet (as applied) serves TLS: its pod mounts the
/// server's certificate.
pub fn serves_tls(sts: &StatefulSet) -> bool {
    let pod = sts.spec.as_ref().and_then(|s| s.template.spec.as_ref());
    pod.and_then(|p| p.volumes.as_ref()).is_some_and(|volumes| volumes.iter().any(|v| v.name == TLS_VOLUME))
}

/// The ConfigMap of first-start scripts, when the engine has any.
pub fn init_config(instance: &Instance<'_>, tls: bool) -> Option<k8s_openapi::api::core::v1::ConfigMap> {
    let scripts = instance.engine.init_scripts(tls)?;
    Some(k8s_openapi::api::core::v1::ConfigMap {
        metadata: instance.child_meta(instance.init_config_name()),
        data: Some(scripts.files),
        ..Default::default()
    })
}
