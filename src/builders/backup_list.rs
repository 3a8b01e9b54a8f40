//! The short-lived Job of `kubectl servicedb backups`: `servicedb backup
//! list --output json` in the instance's namespace, because the store (a
//! claim, or S3 reachable only from inside) is often out of the user's reach.
//!
//! Its pods look like the instance's backup pods (same tools image,
//! destination env and volume, same pod labels), so the backup
//! NetworkPolicy lets them reach the store. The Job itself carries other
//! labels: the operator finds backup runs by the Job's labels
//! (`backup_pod_labels` on Jobs, controller/backups.rs) and watches only
//! Jobs labelled `managed-by: servicedb`, so a listing is never taken for a
//! backup run nor wakes the instance.

use super::Instance;
use super::backup::{backup_pod_labels, destination_access, tmp_mount, tools_container, tools_pod};
use crate::api::BackupSpec;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// `component` label of listing Jobs (the pods keep `backup`).
pub const LIST_COMPONENT: &str = "backup-list";

/// Labels of the listing Job object: the instance, and not a backup run.
pub fn listing_job_labels(instance: &Instance<'_>) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_string(), "servicedb-backup-list".to_string()),
        ("app.kubernetes.io/instance".to_string(), instance.name.to_string()),
        ("app.kubernetes.io/component".to_string(), LIST_COMPONENT.to_string()),
        ("app.kubernetes.io/created-by".to_string(), "kubectl-servicedb".to_string()),
    ])
}

/// One listing run named `name`: no retry, a short deadline, and a TTL in
/// case the caller is gone before it deletes the Job.
pub fn listing_job(instance: &Instance<'_>, spec: &BackupSpec, tools_image: &str, name: String) -> Job {
    let (env, volume) = destination_access(instance.namespace, instance.name, &spec.destination);
    let (volumes, mounts): (Vec<_>, Vec<_>) = volume.into_iter().unzip();
    let mut container = tools_container("list", tools_image, "backup", env, [vec![tmp_mount()], mounts].concat());
    container.args = Some(["backup", "list", "--output", "json"].map(String::from).to_vec());
    Job {
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(instance.namespace.to_string()),
            labels: Some(listing_job_labels(instance)),
            ..ObjectMeta::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: Some(300),
            ttl_seconds_after_finished: Some(600),
            template: tools_pod(backup_pod_labels(instance), container, volumes),
            ..JobSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceDatabase;

    fn sdb(destination: &str) -> ServiceDatabase {
        yaml_serde::from_str(&format!(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: shop, uid: u1}}\nspec: {{engine: postgres, version: '16', service: {{name: orders}}, storage: {{size: 1Gi}}, backup: {{schedule: '0 3 * * *', destination: {destination}}}}}"
        ))
        .unwrap()
    }

    #[test]
    fn the_listing_pod_looks_like_a_backup_pod_but_the_job_is_not_a_backup_run() {
        let sdb = sdb("{s3: {bucket: b, endpoint: 'http://10.0.0.5:9000', tls: false, credentialsSecret: s3}}");
        let instance = Instance::new(&sdb, "ops").unwrap();
        let spec = sdb.spec.backup.as_ref().unwrap();
        let job = listing_job(&instance, spec, "tools:1", "orders-db-list-x".into());
        let pod = job.spec.as_ref().unwrap().template.clone();
        assert_eq!(pod.metadata.unwrap().labels.unwrap(), backup_pod_labels(&instance), "the backup policy applies");
        let labels = job.metadata.labels.clone().unwrap();
        let run_selector = backup_pod_labels(&instance);
        assert!(run_selector.iter().any(|(k, v)| labels.get(k) != Some(v)), "not found as a backup run");
        assert!(!labels.contains_key("app.kubernetes.io/managed-by"), "not watched by the operator");
        let pod_spec = pod.spec.unwrap();
        let container = &pod_spec.containers[0];
        assert_eq!(container.args.as_deref().unwrap(), ["backup", "list", "--output", "json"]);
        assert_eq!(container.image.as_deref(), Some("tools:1"));
        let env: Vec<&str> = container.env.as_ref().unwrap().iter().map(|e| e.name.as_str()).collect();
        assert!(env.contains(&"SERVICEDB_S3_PREFIX") && env.contains(&"AWS_SECRET_ACCESS_KEY"), "{env:?}");
        assert!(!env.contains(&"SERVICEDB_DB_PASSWORD"), "a listing needs no database login");
        assert_eq!(pod_spec.automount_service_account_token, Some(false));
    }

    #[test]
    fn a_volume_store_is_mounted() {
        let sdb = sdb("{volume: {}}");
        let instance = Instance::new(&sdb, "ops").unwrap();
        let job = listing_job(&instance, sdb.spec.backup.as_ref().unwrap(), "tools:1", "j".into());
        let pod = job.spec.unwrap().template.spec.unwrap();
        let claims: Vec<String> =
            pod.volumes.unwrap().into_iter().filter_map(|v| v.persistent_volume_claim.map(|c| c.claim_name)).collect();
        assert_eq!(claims, ["orders-db-backups"]);
    }
}
