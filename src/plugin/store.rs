//! What `backup`, `backups` and `restore` need first: the instance's
//! backup store (`spec.backup`). Without it they stop here, exit 3 ("what
//! the command needs" is not there), and say what to add.

use super::failure::Failure;
use crate::api::{BackupSpec, ServiceDatabase};
use kube::ResourceExt;

/// The instance's `spec.backup`, or a refusal naming the namespace, the
/// instance and the patch that gives it a store. `purpose` completes "no
/// backup store to ...".
pub fn backup_store<'a>(sdb: &'a ServiceDatabase, purpose: &str) -> Result<&'a BackupSpec, Failure> {
    sdb.spec.backup.as_ref().ok_or_else(|| {
        let (name, ns) = (sdb.name_any(), sdb.namespace().unwrap_or_default());
        Failure::NotFound(format!(
            "ServiceDatabase {ns}/{name} has no spec.backup, so no backup store to {purpose}: add one, e.g. \
             kubectl -n {ns} patch sdb {name} --type merge -p \
             '{{\"spec\":{{\"backup\":{{\"schedule\":\"0 3 * * *\",\"destination\":{{\"volume\":{{}}}}}}}}}}' \
             (a claim {name}-db-backups), or destination.s3 (bucket, endpoint, credentialsSecret)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_spec_backup_the_refusal_exits_3_and_says_what_to_add() {
        let sdb: ServiceDatabase = yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: cache, namespace: shop}\nspec: {engine: redis, version: '7.2', service: {name: cache}, storage: {size: 1Gi}}",
        )
        .unwrap();
        let refused = backup_store(&sdb, "list").unwrap_err();
        assert_eq!(refused.code(), 3);
        let text = refused.to_string();
        assert!(
            text.starts_with("ServiceDatabase shop/cache has no spec.backup, so no backup store to list"),
            "{text}"
        );
        assert!(text.contains(r#"kubectl -n shop patch sdb cache --type merge -p '{"spec":{"backup":{"schedule":"0 3 * * *","destination":{"volume":{}}}}}'"#), "{text}");
        // The suggested patch is a valid spec.backup.
        let patch: serde_json::Value = serde_json::from_str(text.split('\'').nth(1).unwrap()).unwrap();
        let spec: BackupSpec = serde_json::from_value(patch["spec"]["backup"].clone()).unwrap();
        assert!(spec.destination.volume.is_some());
    }
}
