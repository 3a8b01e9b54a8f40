//! A Role and RoleBinding that let only the owning service's ServiceAccount
//! read its credentials Secret.

use super::Instance;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

/// The Role and its binding, when the spec names a ServiceAccount.
pub fn credentials_access(instance: &Instance<'_>) -> Option<(Role, RoleBinding)> {
    let account = instance.spec.service.service_account_name.as_ref()?;
    let name = instance.credentials_secret_name();
    let role = Role {
        metadata: instance.child_meta(name.clone()),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["secrets".to_string()]),
            resource_names: Some(vec![name.clone()]),
            verbs: vec!["get".to_string()],
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: instance.child_meta(name.clone()),
        role_ref: RoleRef { api_group: "rbac.authorization.k8s.io".to_string(), kind: "Role".to_string(), name },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: account.clone(),
            namespace: Some(instance.namespace.to_string()),
            ..Subject::default()
        }]),
    };
    Some((role, binding))
}
