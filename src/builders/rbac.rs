//! A Role and RoleBinding that let only the owning service's ServiceAccount
//! read its credentials Secret.

use super::Instance;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// The Role and its binding in the database's namespace, when the spec
/// names a ServiceAccount there. An account in another namespace gets them
/// beside its delivered copy instead (`delivery.rs`): granting this Secret
/// to a same-named account of this namespace would let the wrong one in.
pub fn credentials_access(instance: &Instance<'_>) -> Option<(Role, RoleBinding)> {
    if instance.service_elsewhere().is_some() {
        return None;
    }
    let account = instance.spec.service.service_account_name.as_ref()?;
    let name = instance.credentials_secret_name();
    Some(secret_access(|| instance.child_meta(name.clone()), &name, account, instance.namespace))
}

/// `get` on exactly Secret `secret` for exactly ServiceAccount
/// `account_namespace/account`; both objects named after the Secret.
pub(super) fn secret_access(
    meta: impl Fn() -> ObjectMeta,
    secret: &str,
    account: &str,
    account_namespace: &str,
) -> (Role, RoleBinding) {
    let role = Role {
        metadata: meta(),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".to_string()]),
            resource_names: Some(vec![secret.to_string()]),
            verbs: vec!["get".to_string()],
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: meta(),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "Role".to_string(),
            name: secret.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: account.to_string(),
            namespace: Some(account_namespace.to_string()),
            ..Subject::default()
        }]),
    };
    (role, binding)
}
