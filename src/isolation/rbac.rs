//! Who may read a Secret, from the RBAC objects: the Roles and ClusterRoles
//! whose rules let a subject get, list or watch it, and the RoleBindings
//! and ClusterRoleBindings that grant them. Kept as small projections (the
//! secret-reading part of each role, the subjects of each binding).

use super::index::{Indexed, Terms};
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, PolicyRule, RoleBinding, Subject};
use kube::ResourceExt;
use std::collections::{BTreeSet, HashMap};

/// Verbs that return a Secret's content.
const READ_VERBS: [&str; 4] = ["get", "list", "watch", "*"];

/// One rule's reach over Secrets: every Secret of its scope (`None`), or these names.
pub type SecretGrant = Option<Vec<String>>;

fn reads_secrets(rule: &PolicyRule) -> bool {
    let core = rule.api_groups.iter().flatten().any(|g| g.is_empty() || g == "*");
    let secrets = rule.resources.iter().flatten().any(|r| r == "secrets" || r == "*");
    let reads = rule.verbs.iter().any(|v| READ_VERBS.contains(&v.as_str()));
    core && secrets && reads
}

/// The secret-reading grants of a role's rules (empty: it reads none).
pub fn secret_grants(rules: Option<&Vec<PolicyRule>>) -> Vec<SecretGrant> {
    rules
        .into_iter()
        .flatten()
        .filter(|r| reads_secrets(r))
        .map(|r| r.resource_names.clone().filter(|names| !names.is_empty()))
        .collect()
}

/// A RoleBinding (with its namespace) or a ClusterRoleBinding, reduced to
/// what it grants to whom.
#[derive(Clone, Debug, PartialEq)]
pub struct Binding {
    /// `RoleBinding shop/name` or `ClusterRoleBinding name`, for messages.
    pub describe: String,
    /// The binding's namespace; `None` for a ClusterRoleBinding.
    pub namespace: Option<String>,
    /// `Role` or `ClusterRole`, and its name.
    pub role_kind: String,
    pub role_name: String,
    pub subjects: Vec<Subject>,
}

impl Binding {
    pub fn of_role_binding(b: &RoleBinding) -> Binding {
        let namespace = b.namespace().unwrap_or_default();
        Binding {
            describe: format!("RoleBinding {namespace}/{}", b.name_any()),
            namespace: Some(namespace),
            role_kind: b.role_ref.kind.clone(),
            role_name: b.role_ref.name.clone(),
            subjects: b.subjects.clone().unwrap_or_default(),
        }
    }

    pub fn of_cluster_role_binding(b: &ClusterRoleBinding) -> Binding {
        Binding {
            describe: format!("ClusterRoleBinding {}", b.name_any()),
            namespace: None,
            role_kind: b.role_ref.kind.clone(),
            role_name: b.role_ref.name.clone(),
            subjects: b.subjects.clone().unwrap_or_default(),
        }
    }
}

/// The term of a grant of every Secret (no Secret is named `*`).
const EVERY_SECRET: &str = "*";

/// A role is found by the Secrets it lets read.
impl Terms for Vec<SecretGrant> {
    fn terms(&self) -> Vec<String> {
        self.iter()
            .flat_map(|grant| match grant {
                Some(names) => names.clone(),
                None => vec![EVERY_SECRET.to_string()],
            })
            .collect()
    }
}

/// A binding is found by the role it names.
impl Terms for Binding {
    fn terms(&self) -> Vec<String> {
        vec![format!("{}/{}", self.role_kind, self.role_name)]
    }
}

/// Everything RBAC says about reading Secrets, in the watched scope.
pub struct Rbac<'a> {
    /// The secret-reading grants of Roles, and of ClusterRoles under `""`.
    pub roles: &'a Indexed<Vec<SecretGrant>>,
    /// RoleBindings, and ClusterRoleBindings under `""`.
    pub bindings: &'a Indexed<Binding>,
}

impl Rbac<'_> {
    /// The subjects that may read Secret `name` in `namespace`, each with
    /// the binding that lets it (the first one found), sorted. Only the
    /// roles that grant that Secret (or every Secret) are looked at, and
    /// only the bindings that name them.
    pub fn readers(&self, namespace: &str, name: &str) -> Vec<Reader> {
        let granting = |ns: &str| -> BTreeSet<&str> {
            self.roles.with_term(ns, name).chain(self.roles.with_term(ns, EVERY_SECRET)).map(|(role, _)| role).collect()
        };
        let mut bindings: Vec<&Binding> = Vec::new();
        for role in granting(namespace) {
            bindings.extend(self.bindings.with_term(namespace, &format!("Role/{role}")).map(|(_, b)| b));
        }
        // A ClusterRole grants in a namespace through a RoleBinding there,
        // and everywhere through a ClusterRoleBinding.
        for role in granting("") {
            let term = format!("ClusterRole/{role}");
            for ns in [namespace, ""] {
                bindings.extend(self.bindings.with_term(ns, &term).map(|(_, b)| b));
            }
        }
        let mut found: HashMap<String, Reader> = HashMap::new();
        for binding in bindings {
            for subject in &binding.subjects {
                let reader = Reader {
                    subject: SubjectRef::of(subject, binding.namespace.as_deref()),
                    via: format!("{} ({} {})", binding.describe, binding.role_kind, binding.role_name),
                };
                found.entry(reader.subject.to_string()).or_insert(reader);
            }
        }
        let mut readers: Vec<Reader> = found.into_values().collect();
        readers.sort_by_key(|r| r.subject.to_string());
        readers
    }
}

/// A subject as users name it in exceptions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SubjectRef {
    User(String),
    Group(String),
    ServiceAccount { namespace: String, name: String },
}

impl SubjectRef {
    /// A binding's subject; a ServiceAccount without a namespace is in the
    /// binding's own.
    pub fn of(subject: &Subject, binding_namespace: Option<&str>) -> SubjectRef {
        match subject.kind.as_str() {
            "ServiceAccount" => SubjectRef::ServiceAccount {
                namespace: subject.namespace.clone().or(binding_namespace.map(String::from)).unwrap_or_default(),
                name: subject.name.clone(),
            },
            "Group" => SubjectRef::Group(subject.name.clone()),
            // A ServiceAccount may be bound by its user name.
            _ => match subject.name.strip_prefix("system:serviceaccount:").and_then(|s| s.split_once(':')) {
                Some((namespace, name)) => {
                    SubjectRef::ServiceAccount { namespace: namespace.into(), name: name.into() }
                }
                None => SubjectRef::User(subject.name.clone()),
            },
        }
    }

    /// The cluster's own components, which can read every Secret by design
    /// and are not reported: the `system:masters` and `system:nodes` groups,
    /// `system:` users (the controller manager, the scheduler, nodes) but
    /// `system:anonymous`, and the ServiceAccounts of `kube-system` (the
    /// controllers). Groups such as `system:authenticated` or
    /// `system:serviceaccounts` are everyone, and always reported.
    pub fn is_control_plane(&self) -> bool {
        match self {
            SubjectRef::Group(name) => name == "system:masters" || name == "system:nodes",
            SubjectRef::User(name) => {
                name.starts_with("system:") && name != "system:anonymous" && !name.starts_with("system:serviceaccount:")
            }
            SubjectRef::ServiceAccount { namespace, .. } => namespace == "kube-system",
        }
    }
}

impl std::fmt::Display for SubjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectRef::User(name) => write!(f, "User {name}"),
            SubjectRef::Group(name) => write!(f, "Group {name}"),
            SubjectRef::ServiceAccount { namespace, name } => write!(f, "ServiceAccount {namespace}/{name}"),
        }
    }
}

/// A subject that may read a Secret, and what lets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    pub subject: SubjectRef,
    pub via: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::{ClusterRole, Role};
    use serde_json::json;

    type Maps = (Indexed<Vec<SecretGrant>>, Indexed<Binding>);

    fn rbac(roles: &[serde_json::Value], bindings: &[serde_json::Value]) -> Maps {
        let (mut role_map, mut binding_map) = Maps::default();
        for role in roles {
            let (ns, name, grants) = if role["kind"] == "Role" {
                let role: Role = serde_json::from_value(role.clone()).unwrap();
                (role.namespace().unwrap_or_default(), role.name_any(), secret_grants(role.rules.as_ref()))
            } else {
                let role: ClusterRole = serde_json::from_value(role.clone()).unwrap();
                (String::new(), role.name_any(), secret_grants(role.rules.as_ref()))
            };
            role_map.set(&ns, &name, Some(grants));
        }
        for b in bindings {
            let (binding, name) = if b["kind"] == "RoleBinding" {
                let b: RoleBinding = serde_json::from_value(b.clone()).unwrap();
                (Binding::of_role_binding(&b), b.name_any())
            } else {
                let b: ClusterRoleBinding = serde_json::from_value(b.clone()).unwrap();
                (Binding::of_cluster_role_binding(&b), b.name_any())
            };
            binding_map.set(&binding.namespace.clone().unwrap_or_default(), &name, Some(binding));
        }
        (role_map, binding_map)
    }

    fn role(kind: &str, ns: &str, name: &str, rules: serde_json::Value) -> serde_json::Value {
        json!({"kind": kind, "metadata": {"name": name, "namespace": ns}, "rules": rules})
    }

    fn binding(kind: &str, ns: &str, name: &str, role: (&str, &str), subjects: serde_json::Value) -> serde_json::Value {
        json!({"kind": kind, "metadata": {"name": name, "namespace": ns},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role.0, "name": role.1}, "subjects": subjects})
    }

    fn names(readers: &[Reader]) -> Vec<String> {
        readers.iter().map(|r| r.subject.to_string()).collect()
    }

    #[test]
    fn readers_are_found_through_roles_and_cluster_roles() {
        let (roles, bindings) = rbac(
            &[
                role(
                    "Role",
                    "shop",
                    "owner",
                    json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["orders-db-credentials"]}]),
                ),
                role(
                    "Role",
                    "shop",
                    "carts",
                    json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["carts-db-credentials"]}]),
                ),
                role(
                    "Role",
                    "shop",
                    "lister",
                    json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["list"]}]),
                ),
                role(
                    "Role",
                    "shop",
                    "configmaps",
                    json!([{"apiGroups": [""], "resources": ["configmaps", "pods"], "verbs": ["*"]}]),
                ),
                role(
                    "ClusterRole",
                    "",
                    "everything",
                    json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]),
                ),
                role(
                    "ClusterRole",
                    "",
                    "writer",
                    json!([{"apiGroups": [""], "resources": ["secrets"], "verbs": ["create", "update"]}]),
                ),
            ],
            &[
                binding(
                    "RoleBinding",
                    "shop",
                    "owner",
                    ("Role", "owner"),
                    json!([{"kind": "ServiceAccount", "name": "orders"}]),
                ),
                binding(
                    "RoleBinding",
                    "shop",
                    "carts",
                    ("Role", "carts"),
                    json!([{"kind": "ServiceAccount", "name": "carts"}]),
                ),
                binding("RoleBinding", "shop", "ci", ("Role", "lister"), json!([{"kind": "User", "name": "ci-bot"}])),
                binding(
                    "RoleBinding",
                    "shop",
                    "cm",
                    ("Role", "configmaps"),
                    json!([{"kind": "Group", "name": "devs"}]),
                ),
                binding(
                    "RoleBinding",
                    "shop",
                    "breakglass",
                    ("ClusterRole", "everything"),
                    json!([{"kind": "Group", "name": "breakglass"}]),
                ),
                binding(
                    "RoleBinding",
                    "billing",
                    "elsewhere",
                    ("ClusterRole", "everything"),
                    json!([{"kind": "User", "name": "bob"}]),
                ),
                binding(
                    "ClusterRoleBinding",
                    "",
                    "all-sa",
                    ("ClusterRole", "everything"),
                    json!([{"kind": "Group", "name": "system:serviceaccounts"}]),
                ),
                binding(
                    "ClusterRoleBinding",
                    "",
                    "writers",
                    ("ClusterRole", "writer"),
                    json!([{"kind": "User", "name": "eve"}]),
                ),
                binding(
                    "RoleBinding",
                    "shop",
                    "dangling",
                    ("Role", "gone"),
                    json!([{"kind": "User", "name": "mallory"}]),
                ),
            ],
        );
        let rbac = Rbac { roles: &roles, bindings: &bindings };
        let readers = rbac.readers("shop", "orders-db-credentials");
        assert_eq!(
            names(&readers),
            ["Group breakglass", "Group system:serviceaccounts", "ServiceAccount shop/orders", "User ci-bot"],
            "named grants for other Secrets, other verbs, other namespaces and missing roles give nothing"
        );
        let ci = readers.iter().find(|r| r.subject == SubjectRef::User("ci-bot".into())).unwrap();
        assert_eq!(ci.via, "RoleBinding shop/ci (Role lister)");
    }

    #[test]
    fn the_cluster_itself_is_not_reported_but_everyone_is() {
        let sa = |ns: &str| SubjectRef::ServiceAccount { namespace: ns.into(), name: "x".into() };
        assert!(SubjectRef::Group("system:masters".into()).is_control_plane());
        assert!(SubjectRef::User("system:kube-controller-manager".into()).is_control_plane());
        assert!(sa("kube-system").is_control_plane());
        assert!(!sa("shop").is_control_plane());
        assert!(!SubjectRef::Group("system:authenticated".into()).is_control_plane());
        assert!(!SubjectRef::Group("system:serviceaccounts".into()).is_control_plane());
        assert!(!SubjectRef::User("system:anonymous".into()).is_control_plane());
        let by_user_name =
            Subject { kind: "User".into(), name: "system:serviceaccount:shop:x".into(), ..Subject::default() };
        assert_eq!(SubjectRef::of(&by_user_name, None), sa("shop"), "a ServiceAccount bound by its user name");
    }
}
