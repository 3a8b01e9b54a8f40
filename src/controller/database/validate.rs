//! Semantic checks the API server's schema and CEL rules cannot make.
//! An invalid spec touches no child; the reason and message go to status
//! and an Event.

use crate::api::reasons::InvalidReason;
use crate::api::{MAX_NAME_LENGTH, RESERVED_NAMES, ServiceDatabase, ServiceDatabaseSpec, quantity};
use crate::builders::ENGINE_VERSION_ANNOTATION;
use crate::controller::error::Error;
use crate::engine::{self, Images, InstanceImages, NoImage};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::{Api, Client, ResourceExt};
use std::time::Duration;

/// What is wrong with a spec, for `Ready=False, reason=InvalidSpec`.
#[derive(Clone, Debug, PartialEq)]
pub struct Invalid {
    /// What is wrong: leads the message and the log line.
    pub reason: InvalidReason,
    /// What was wrong and what to do, for humans.
    pub message: String,
    /// When to look again. `None`: only when the object changes. References
    /// to objects the operator does not watch are checked again later.
    pub recheck: Option<Duration>,
}

impl Invalid {
    fn spec(reason: InvalidReason, message: String) -> Self {
        Self { reason, message, recheck: None }
    }
}

/// What validation resolved for the build step.
#[derive(Clone, Debug, PartialEq)]
pub struct Valid {
    pub images: InstanceImages,
}

fn no_image_reason(no_image: &NoImage) -> InvalidReason {
    match no_image {
        NoImage::UnsupportedVersion { .. } => InvalidReason::UnsupportedVersion,
        NoImage::NotInCatalog { .. } => InvalidReason::ImageNotInCatalog,
        NoImage::NoExporter { .. } => InvalidReason::ExporterNotInCatalog,
    }
}

fn is_label_name(s: &str) -> bool {
    let (prefix, name) = s.rsplit_once('/').map_or((None, s), |(p, n)| (Some(p), n));
    prefix.is_none_or(|p| !p.is_empty() && p.len() <= 253 && p.split('.').all(is_dns_label))
        && is_label_value(name)
        && !name.is_empty()
}

fn is_label_value(s: &str) -> bool {
    let inner_ok = s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    let ends_ok = s.bytes().next().is_none_or(|b| b.is_ascii_alphanumeric())
        && s.bytes().last().is_none_or(|b| b.is_ascii_alphanumeric());
    s.len() <= 63 && inner_ok && ends_ok
}

fn is_dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Checks of the spec alone; the same rules as the CRD's CEL, again in code,
/// plus the images of its version (official or from the catalogue) and label syntax.
pub fn spec(sdb: &ServiceDatabase, images: &Images) -> Result<Valid, Invalid> {
    let name = sdb.name_any();
    let name_ok =
        name.len() <= MAX_NAME_LENGTH && is_dns_label(&name) && name.starts_with(|c: char| c.is_ascii_lowercase());
    if !name_ok {
        return Err(Invalid::spec(
            InvalidReason::InvalidName,
            format!(
                "name {name:?} must be at most {MAX_NAME_LENGTH} lower-case letters, digits and '-', starting with a letter"
            ),
        ));
    }
    if RESERVED_NAMES.contains(&name.as_str()) {
        return Err(Invalid::spec(
            InvalidReason::InvalidName,
            format!("name {name:?} is reserved by the database engines; choose another"),
        ));
    }
    let spec = &sdb.spec;
    let images =
        images.for_spec(spec).map_err(|no_image| Invalid::spec(no_image_reason(&no_image), no_image.to_string()))?;
    if !quantity::parse(&spec.storage.size).is_some_and(|bytes| bytes >= 1.0) {
        return Err(Invalid::spec(
            InvalidReason::InvalidStorageSize,
            format!("storage.size {:?} must be a positive quantity such as 10Gi", spec.storage.size),
        ));
    }
    if !is_dns_label(&spec.service.name) {
        return Err(Invalid::spec(
            InvalidReason::InvalidService,
            format!("service.name {:?} must be a DNS label", spec.service.name),
        ));
    }
    if let Some(namespace) = &spec.service.namespace {
        if !is_dns_label(namespace) {
            return Err(Invalid::spec(
                InvalidReason::InvalidService,
                format!("service.namespace {namespace:?} must be a namespace name (a DNS label)"),
            ));
        }
        if spec.service.service_account_name.is_none() {
            return Err(Invalid::spec(
                InvalidReason::InvalidService,
                "service.namespace needs service.serviceAccountName: the credentials delivered to another namespace are readable by exactly that ServiceAccount there".into(),
            ));
        }
    }
    for (key, value) in spec.service.pod_selector() {
        if !is_label_name(&key) || !is_label_value(&value) {
            return Err(Invalid::spec(
                InvalidReason::InvalidService,
                format!(
                    "service.selector {key}={value} is not a valid label; keys are [prefix/]name, values at most 63 of [A-Za-z0-9-_.]"
                ),
            ));
        }
    }
    if let Some(backup) = &spec.backup {
        backup_spec(backup)?;
    }
    Ok(Valid { images })
}

/// The schedule must parse as cron, and exactly one destination be given.
fn backup_spec(backup: &crate::api::BackupSpec) -> Result<(), Invalid> {
    if let Err(e) = <croner::Cron as std::str::FromStr>::from_str(&backup.schedule) {
        return Err(Invalid::spec(
            InvalidReason::InvalidBackupSchedule,
            format!(
                "backup.schedule {:?} is not a cron expression ({e}); e.g. \"0 3 * * *\" runs daily at 03:00 UTC",
                backup.schedule
            ),
        ));
    }
    let destination = &backup.destination;
    if destination.volume.is_some() == destination.s3.is_some() {
        return Err(Invalid::spec(
            InvalidReason::InvalidBackupDestination,
            "backup.destination needs exactly one of volume or s3".into(),
        ));
    }
    Ok(())
}

/// A running instance keeps its major version: the data directory of one
/// major version does not start under another. The StatefulSet names its
/// version; one applied before it did is known by its official image. The
/// image of the same version may change (a catalogue, a mirror).
pub fn against_live(live: Option<&StatefulSet>, spec: &ServiceDatabaseSpec) -> Result<(), Invalid> {
    let Some(sts) = live else { return Ok(()) };
    let image = sts
        .spec
        .as_ref()
        .and_then(|spec| spec.template.spec.as_ref())
        .and_then(|pod| pod.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default();
    let engine = engine::for_kind(spec.engine);
    let named = sts.metadata.annotations.as_ref().and_then(|a| a.get(ENGINE_VERSION_ANNOTATION)).cloned();
    let running = named.or_else(|| {
        engine
            .supported_versions()
            .iter()
            .find(|v| engine.image(v).as_deref() == Some(image.as_str()))
            .map(|v| v.to_string())
    });
    match running {
        Some(version) if version != spec.version => Err(Invalid::spec(
            InvalidReason::VersionChange,
            format!(
                "the instance runs {} {version} ({image}); changing the major version needs a dump and restore into a new ServiceDatabase, so set spec.version back",
                spec.engine.as_str()
            ),
        )),
        _ => Ok(()),
    }
}

/// How long to wait before checking a missing reference again.
const RECHECK_REFERENCES: Duration = Duration::from_secs(120);

/// Checks of references to objects the operator does not watch.
pub async fn references(client: &Client, sdb: &ServiceDatabase) -> Result<Result<(), Invalid>, Error> {
    if let Some(class) = &sdb.spec.storage.storage_class_name {
        let classes: Api<StorageClass> = Api::all(client.clone());
        let found = classes.get_opt(class).await.map_err(Error::kube("get", format!("StorageClass {class}")))?;
        if found.is_none() {
            return Ok(Err(Invalid {
                reason: InvalidReason::StorageClassNotFound,
                message: format!(
                    "storage.storageClassName {class:?} does not exist; create it or omit the field to use the default class"
                ),
                recheck: Some(RECHECK_REFERENCES),
            }));
        }
    }
    if let Some(s3) = sdb.spec.backup.as_ref().and_then(|b| b.destination.s3.as_ref()) {
        let namespace = sdb.namespace().unwrap_or_default();
        let name = &s3.credentials_secret;
        let missing = missing_keys(client, &namespace, name, &S3_KEYS).await?;
        if !missing.is_empty() {
            return Ok(Err(Invalid {
                reason: InvalidReason::BackupCredentialsNotFound,
                message: format!(
                    "backup.destination.s3.credentialsSecret {name:?} must exist in this namespace with the keys {}; missing: {}",
                    S3_KEYS.join(" and "),
                    missing.join(", ")
                ),
                recheck: Some(RECHECK_REFERENCES),
            }));
        }
        if let Some(ca) = &s3.ca_bundle {
            // A missing bundle would otherwise show only as a backup pod that cannot mount it.
            if !missing_keys(client, &namespace, &ca.secret_name, &[ca.key.as_str()]).await?.is_empty() {
                return Ok(Err(Invalid {
                    reason: InvalidReason::BackupCABundleNotFound,
                    message: format!(
                        "backup.destination.s3.caBundle: Secret {:?} must exist in this namespace with the key {:?} (PEM certificates)",
                        ca.secret_name, ca.key
                    ),
                    recheck: Some(RECHECK_REFERENCES),
                }));
            }
        }
    }
    Ok(Ok(()))
}

/// Which of `keys` Secret `name` lacks (all of them when it does not exist).
/// Only the key names are looked at, never the values.
async fn missing_keys<'k>(
    client: &Client,
    namespace: &str,
    name: &str,
    keys: &[&'k str],
) -> Result<Vec<&'k str>, Error> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let secret = secrets.get_opt(name).await.map_err(Error::kube("get", format!("Secret {name}")))?;
    let present = secret.and_then(|s| s.data).unwrap_or_default();
    Ok(keys.iter().copied().filter(|k| !present.contains_key(*k)).collect())
}

const S3_KEYS: [&str; 2] = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"];

#[cfg(test)]
mod tests {
    use super::*;

    fn sdb(yaml_spec: &str, name: &str) -> ServiceDatabase {
        let mut sdb: ServiceDatabase = yaml_serde::from_str(&format!(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: {name}, namespace: ns}}\nspec:\n{yaml_spec}"
        ))
        .unwrap();
        sdb.metadata.uid = Some("u".into());
        sdb
    }

    const GOOD: &str = "  engine: postgres\n  version: '16'\n  service: {name: orders}\n  storage: {size: 1Gi}\n";

    fn spec(sdb: &ServiceDatabase) -> Result<Valid, Invalid> {
        super::spec(sdb, &Images::Official)
    }

    #[test]
    fn a_good_spec_resolves_the_images() {
        let images = spec(&sdb(GOOD, "orders")).unwrap().images;
        assert_eq!(images.database, "docker.io/library/postgres:16");
        assert!(images.exporter.is_some(), "monitoring is on by default");
    }

    #[test]
    fn a_version_missing_from_the_image_catalogue_is_an_invalid_spec() {
        let path = std::path::Path::new("/etc/servicedb/image-catalog.yaml");
        let catalog = engine::ImageCatalog::parse(path, "engines: {postgres: {'15': localhost/servicedb/postgres:15}}");
        let images = Images::Catalog(catalog.unwrap());
        let err = super::spec(&sdb(GOOD, "orders"), &images).unwrap_err();
        assert_eq!(err.reason, InvalidReason::ImageNotInCatalog);
        assert_eq!(
            err.message,
            "postgres 16 has no image in the image catalogue /etc/servicedb/image-catalog.yaml (--image-catalog); add one there or use a version it lists: 15"
        );
        assert_eq!(err.recheck, None, "waits for a change");
        let err = super::spec(&sdb(&GOOD.replace("'16'", "'15'"), "orders"), &images).unwrap_err();
        assert_eq!(err.reason, InvalidReason::ExporterNotInCatalog);
        let off = GOOD.replace("'16'", "'15'") + "  monitoring: {enabled: false}\n";
        let valid = super::spec(&sdb(&off, "orders"), &images).unwrap();
        assert_eq!(valid.images.database, "localhost/servicedb/postgres:15");
        assert_eq!(valid.images.exporter, None);
    }

    #[test]
    fn an_unsupported_version_says_which_are_supported() {
        let err = spec(&sdb(&GOOD.replace("'16'", "'9'"), "orders")).unwrap_err();
        assert_eq!(err.reason, InvalidReason::UnsupportedVersion);
        assert_eq!(err.message, "postgres version \"9\" is not supported; use one of: 15, 16, 17, 18");
        assert_eq!(err.recheck, None, "waits for a change, no requeue loop");
    }

    fn live(image: &str, version: Option<&str>) -> StatefulSet {
        let mut sts = StatefulSet::default();
        let mut spec = k8s_openapi::api::apps::v1::StatefulSetSpec::default();
        let mut pod = k8s_openapi::api::core::v1::PodSpec::default();
        pod.containers.push(k8s_openapi::api::core::v1::Container { image: Some(image.into()), ..Default::default() });
        spec.template.spec = Some(pod);
        sts.spec = Some(spec);
        sts.metadata.annotations =
            version.map(|v| [(ENGINE_VERSION_ANNOTATION.to_string(), v.to_string())].into_iter().collect());
        sts
    }

    #[test]
    fn a_running_instance_keeps_its_major_version() {
        let v16 = sdb(GOOD, "orders").spec;
        let v17 = sdb(&GOOD.replace("'16'", "'17'"), "orders").spec;
        let sts = live("docker.io/library/postgres:16", Some("16"));
        let err = against_live(Some(&sts), &v17).unwrap_err();
        assert_eq!(err.reason, InvalidReason::VersionChange);
        assert!(
            err.message.starts_with("the instance runs postgres 16 (docker.io/library/postgres:16); "),
            "{}",
            err.message
        );
        assert!(against_live(Some(&sts), &v16).is_ok());
        assert!(against_live(None, &v17).is_ok(), "a new instance takes any supported version");
    }

    #[test]
    fn the_image_of_a_running_version_may_change() {
        let v16 = sdb(GOOD, "orders").spec;
        let v17 = sdb(&GOOD.replace("'16'", "'17'"), "orders").spec;
        let mirrored = live("mirror.example/postgres:16-custom", Some("16"));
        assert!(against_live(Some(&mirrored), &v16).is_ok(), "same version, another image");
        assert_eq!(against_live(Some(&mirrored), &v17).unwrap_err().reason, InvalidReason::VersionChange);
        // Applied before the StatefulSet named its version: the official image tells it.
        let legacy = live("docker.io/library/postgres:16", None);
        assert!(against_live(Some(&legacy), &v16).is_ok());
        assert_eq!(against_live(Some(&legacy), &v17).unwrap_err().reason, InvalidReason::VersionChange);
    }

    #[test]
    fn names_are_checked_again_in_code() {
        assert_eq!(spec(&sdb(GOOD, "postgres")).unwrap_err().reason, InvalidReason::InvalidName);
        assert_eq!(spec(&sdb(GOOD, &"a".repeat(41))).unwrap_err().reason, InvalidReason::InvalidName);
        assert_eq!(spec(&sdb(GOOD, "9lives")).unwrap_err().reason, InvalidReason::InvalidName);
        assert!(spec(&sdb(GOOD, &"a".repeat(40))).is_ok());
    }

    #[test]
    fn backup_schedules_must_be_cron() {
        let with =
            |schedule: &str| format!("{GOOD}  backup: {{schedule: '{schedule}', destination: {{volume: {{}}}}}}\n");
        assert!(spec(&sdb(&with("0 3 * * *"), "o")).is_ok());
        let err = spec(&sdb(&with("0 25 * * *"), "o")).unwrap_err();
        assert_eq!(err.reason, InvalidReason::InvalidBackupSchedule);
        assert!(err.message.contains("\"0 25 * * *\""), "{}", err.message);
    }

    #[test]
    fn sizes_and_selectors_are_checked() {
        assert_eq!(spec(&sdb(&GOOD.replace("1Gi", "0"), "o")).unwrap_err().reason, InvalidReason::InvalidStorageSize);
        assert_eq!(
            spec(&sdb(&GOOD.replace("1Gi", "lots"), "o")).unwrap_err().reason,
            InvalidReason::InvalidStorageSize
        );
        let bad_selector = GOOD.replace("{name: orders}", "{name: orders, selector: {'bad key!': x}}");
        assert_eq!(spec(&sdb(&bad_selector, "o")).unwrap_err().reason, InvalidReason::InvalidService);
        let elsewhere = GOOD.replace("{name: orders}", "{name: orders, namespace: storefront}");
        let err = spec(&sdb(&elsewhere, "o")).unwrap_err();
        assert_eq!(err.reason, InvalidReason::InvalidService);
        assert!(err.message.starts_with("service.namespace needs service.serviceAccountName"), "{}", err.message);
        let bad_namespace = GOOD.replace("{name: orders}", "{name: orders, namespace: Shop_1, serviceAccountName: o}");
        assert_eq!(spec(&sdb(&bad_namespace, "o")).unwrap_err().reason, InvalidReason::InvalidService);
        let good_selector =
            GOOD.replace("{name: orders}", "{name: orders, selector: {'example.com/tier': back-end_1.0}}");
        assert!(spec(&sdb(&good_selector, "o")).is_ok());
    }
}
