//! Credentials delivered into the owning service's namespace when it is not
//! the ServiceDatabase's own: a copy of the credentials Secret (same keys,
//! same values, built from the same passwords every reconcile) and a Role
//! and RoleBinding that let exactly the named ServiceAccount read it.
//!
//! An owner reference cannot point into another namespace, so garbage
//! collection never removes these. They carry the usual labels plus the
//! ServiceDatabase's namespace and uid instead: apply finds leftovers by
//! that uid in the caches, and deletion finds what to remove.

use super::Instance;
use super::rbac::secret_access;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// Label of a delivered child: the namespace of the ServiceDatabase that delivered it.
pub const SOURCE_NAMESPACE_LABEL: &str = "servicedb.dev/source-namespace";
/// Label of a delivered child: the uid of the ServiceDatabase that delivered it.
pub const SOURCE_UID_LABEL: &str = "servicedb.dev/source-uid";

/// What is delivered, in the order it is applied: the Role first, so that
/// a delivered Secret is never without the cached object that finds it.
#[derive(Clone, Debug)]
pub struct DeliveredCredentials {
    pub role: Role,
    pub secret: Secret,
    pub binding: RoleBinding,
}

/// Metadata of a delivered child: in the service's namespace, labelled
/// with its source instead of an owner reference.
fn delivered_meta(instance: &Instance<'_>, namespace: &str, name: &str) -> ObjectMeta {
    let mut labels: BTreeMap<String, String> = instance.labels();
    labels.insert(SOURCE_NAMESPACE_LABEL.to_string(), instance.namespace.to_string());
    labels.insert(SOURCE_UID_LABEL.to_string(), instance.owner_uid().to_string());
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(namespace.to_string()),
        labels: Some(labels),
        ..ObjectMeta::default()
    }
}

/// The copy of `credentials` and its access in the service's namespace,
/// when that is another namespace (validation requires a ServiceAccount then).
pub fn delivered_credentials(instance: &Instance<'_>, credentials: &Secret) -> Option<DeliveredCredentials> {
    let namespace = instance.service_elsewhere()?;
    let account = instance.spec.service.service_account_name.as_deref()?;
    let name = instance.delivered_credentials_name();
    let meta = || delivered_meta(instance, namespace, &name);
    let secret = Secret { metadata: meta(), ..credentials.clone() };
    let (role, binding) = secret_access(meta, &name, account, namespace);
    Some(DeliveredCredentials { role, secret, binding })
}

/// Whether a live object with these labels was delivered by this
/// instance's ServiceDatabase, whatever its uid: one re-created with the
/// same name takes over what its predecessor left under Retain.
pub fn delivered_by(labels: &BTreeMap<String, String>, instance: &Instance<'_>) -> bool {
    let is = |key: &str, value: &str| labels.get(key).is_some_and(|v| v == value);
    is("app.kubernetes.io/managed-by", super::MANAGED_BY)
        && is("app.kubernetes.io/instance", instance.name)
        && is(SOURCE_NAMESPACE_LABEL, instance.namespace)
}
