//! The isolation audit: whether anything other than the owning service (and
//! the operator) can reach the database or read its credentials, judged from
//! what the operator watches. Pure: the controller gathers the findings'
//! inputs (`controller/isolation_view.rs`), these functions judge them.
//!
//! Three kinds of finding, each named in the `Isolated` condition:
//! - a NetworkPolicy of the namespace that selects the database pod and
//!   admits more than ours (`policy.rs`);
//! - a subject other than the owner, the operator and the cluster's own
//!   components that may read the credentials Secret (`rbac.rs`, and
//!   SubjectAccessReviews for the namespace's ServiceAccounts);
//! - a pod that reads the credentials Secret but is not the service's
//!   (`pods.rs`).
//!
//! A finding the spec acknowledges (`spec.isolation.exceptions`) keeps the
//! condition True, with a note.

pub mod index;
pub mod pods;
pub mod policy;
pub mod rbac;
pub mod selector;

use crate::api::reasons::Reason;
use crate::api::{ExceptionKind, IsolationException};
use policy::WiderPolicy;
use rbac::{Reader, SubjectRef};

/// Findings named in a condition message; the rest are counted.
const NAMED_IN_MESSAGE: usize = 5;

/// One way the database is reachable or its credentials readable by others.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// In the database's namespace.
    Policy(WiderPolicy),
    /// `secret` is `namespace/name` of the credentials (or their delivered copy).
    Reader {
        secret: String,
        reader: Reader,
    },
    Pod {
        namespace: String,
        name: String,
        secret: String,
    },
}

impl Finding {
    fn reason(&self) -> Reason {
        match self {
            Finding::Policy(_) => Reason::NetworkPolicyWider,
            Finding::Reader { .. } => Reason::SecretReadableByOthers,
            Finding::Pod { .. } => Reason::SecretReadByOtherPods,
        }
    }

    /// Whether `exception` names this finding; namespaces default to the
    /// ServiceDatabase's own.
    fn acknowledged_by(&self, exception: &IsolationException, own_namespace: &str) -> bool {
        let namespace = exception.namespace.as_deref().unwrap_or(own_namespace);
        match (self, exception.kind) {
            (Finding::Policy(policy), ExceptionKind::NetworkPolicy) => {
                policy.name == exception.name && namespace == own_namespace
            }
            (Finding::Reader { reader, .. }, kind) => match (&reader.subject, kind) {
                (SubjectRef::User(name), ExceptionKind::User) | (SubjectRef::Group(name), ExceptionKind::Group) => {
                    *name == exception.name
                }
                (SubjectRef::ServiceAccount { namespace: ns, name }, ExceptionKind::ServiceAccount) => {
                    *name == exception.name && ns == namespace
                }
                _ => false,
            },
            (Finding::Pod { namespace: ns, name, .. }, ExceptionKind::Pod) => {
                let matches = match exception.name.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => *name == exception.name,
                };
                matches && ns == namespace
            }
            _ => false,
        }
    }
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Finding::Policy(p) => write!(f, "NetworkPolicy {} admits {}", p.name, p.admits),
            Finding::Reader { secret, reader } => {
                write!(f, "{} may read Secret {secret} through {}", reader.subject, reader.via)
            }
            Finding::Pod { namespace, name, secret } => {
                write!(f, "pod {namespace}/{name} reads Secret {secret} but is not the service's")
            }
        }
    }
}

/// The findings, split by whether the spec acknowledges them.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    pub open: Vec<Finding>,
    /// With the exception's reason.
    pub acknowledged: Vec<(Finding, String)>,
}

impl Verdict {
    pub fn judge(findings: Vec<Finding>, exceptions: &[IsolationException], own_namespace: &str) -> Verdict {
        let mut verdict = Verdict::default();
        for finding in findings {
            match exceptions.iter().find(|e| finding.acknowledged_by(e, own_namespace)) {
                Some(e) => verdict.acknowledged.push((finding, e.reason.clone())),
                None => verdict.open.push(finding),
            }
        }
        verdict
    }

    /// The `Isolated` condition: status, reason and message.
    pub fn condition(&self) -> (bool, Reason, String) {
        if let Some(first) = self.open.first() {
            let named = self.open.iter().take(NAMED_IN_MESSAGE).map(ToString::to_string).collect::<Vec<_>>();
            let more = self.open.len().saturating_sub(NAMED_IN_MESSAGE);
            let more = if more > 0 { format!("; and {more} more") } else { String::new() };
            let fix = "remove the access, or acknowledge it in spec.isolation.exceptions";
            return (false, first.reason(), format!("{}{more} ({fix})", named.join("; ")));
        }
        if self.acknowledged.is_empty() {
            return (
                true,
                Reason::Isolated,
                "only the service's pods can reach the database and read its credentials".into(),
            );
        }
        let notes = self.acknowledged.iter().map(|(f, why)| format!("{f} (acknowledged: {why})")).collect::<Vec<_>>();
        (
            true,
            Reason::AcknowledgedExceptions,
            format!("isolated but for acknowledged exceptions: {}", notes.join("; ")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reader(subject: SubjectRef) -> Finding {
        Finding::Reader {
            secret: "shop/orders-db-credentials".into(),
            reader: Reader { subject, via: "RoleBinding shop/x (ClusterRole admin)".into() },
        }
    }

    fn exception(kind: ExceptionKind, name: &str, namespace: Option<&str>) -> IsolationException {
        IsolationException { kind, name: name.into(), namespace: namespace.map(String::from), reason: "on-call".into() }
    }

    #[test]
    fn exceptions_acknowledge_exactly_what_they_name() {
        let sa = |ns: &str, name: &str| SubjectRef::ServiceAccount { namespace: ns.into(), name: name.into() };
        let policy =
            Finding::Policy(WiderPolicy { name: "allow-all".into(), admits: "any source on port 5432".into() });
        let pod = Finding::Pod { namespace: "shop".into(), name: "migrate-7f9c".into(), secret: "x".into() };
        let cases = [
            (reader(SubjectRef::Group("breakglass".into())), exception(ExceptionKind::Group, "breakglass", None), true),
            (reader(SubjectRef::Group("breakglass".into())), exception(ExceptionKind::User, "breakglass", None), false),
            (reader(SubjectRef::User("alice".into())), exception(ExceptionKind::User, "alice", None), true),
            (reader(sa("shop", "ci")), exception(ExceptionKind::ServiceAccount, "ci", None), true),
            (reader(sa("tools", "ci")), exception(ExceptionKind::ServiceAccount, "ci", None), false),
            (reader(sa("tools", "ci")), exception(ExceptionKind::ServiceAccount, "ci", Some("tools")), true),
            (policy.clone(), exception(ExceptionKind::NetworkPolicy, "allow-all", None), true),
            (policy, exception(ExceptionKind::NetworkPolicy, "allow-all", Some("other")), false),
            (pod.clone(), exception(ExceptionKind::Pod, "migrate-*", None), true),
            (pod.clone(), exception(ExceptionKind::Pod, "migrate", None), false),
            (pod, exception(ExceptionKind::Pod, "migrate-7f9c", Some("tools")), false),
        ];
        for (i, (finding, exception, expected)) in cases.into_iter().enumerate() {
            assert_eq!(finding.acknowledged_by(&exception, "shop"), expected, "case {i}: {finding}");
        }
    }

    #[test]
    fn the_condition_names_what_is_open_and_notes_what_is_acknowledged() {
        let open = Verdict::judge(
            vec![reader(SubjectRef::User("eve".into())), reader(SubjectRef::Group("breakglass".into()))],
            &[exception(ExceptionKind::Group, "breakglass", None)],
            "shop",
        );
        let (status, reason, message) = open.condition();
        assert!(!status);
        assert_eq!(reason, Reason::SecretReadableByOthers);
        assert_eq!(
            message,
            "User eve may read Secret shop/orders-db-credentials through RoleBinding shop/x (ClusterRole admin) (remove the access, or acknowledge it in spec.isolation.exceptions)"
        );
        let acknowledged = Verdict::judge(
            vec![reader(SubjectRef::Group("breakglass".into()))],
            &[exception(ExceptionKind::Group, "breakglass", None)],
            "shop",
        );
        let (status, reason, message) = acknowledged.condition();
        assert!(status);
        assert_eq!(reason, Reason::AcknowledgedExceptions);
        assert!(
            message.contains("Group breakglass may read") && message.contains("(acknowledged: on-call)"),
            "{message}"
        );
        assert_eq!(Verdict::default().condition().1, Reason::Isolated);
    }

    #[test]
    fn a_long_list_is_cut_and_counted() {
        let many = (0..8).map(|i| reader(SubjectRef::User(format!("u{i}")))).collect();
        let (_, _, message) = Verdict::judge(many, &[], "shop").condition();
        assert!(message.contains("User u4 ") && !message.contains("User u5 "), "{message}");
        assert!(message.contains("; and 3 more"), "{message}");
    }
}
