//! The isolation audit of one instance: the findings' inputs from the
//! isolation view (and SubjectAccessReviews), judged by `crate::isolation`.

use crate::builders::Instance;
use crate::builders::backup::backup_pod_labels;
use crate::builders::networkpolicy::network_policy;
use crate::controller::context::Context;
use crate::controller::isolation_view::Seen;
use crate::isolation::pods::PodSecrets;
use crate::isolation::policy::{ANY_INSTANCE, Target, wider};
use crate::isolation::rbac::{Reader, SubjectRef};
use crate::isolation::selector::selects;
use crate::isolation::{Finding, Verdict};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

/// What the audit concluded.
#[derive(Clone, Debug, PartialEq)]
pub enum Isolation {
    Judged(Verdict),
    /// The audit could not be made; the message says why.
    Unknown(String),
}

/// The subjects whose access is the design: the service's ServiceAccount
/// (to its credentials) and the operator's (to every Secret of the instance).
struct Exempt {
    owner: Option<SubjectRef>,
    operator: SubjectRef,
}

impl Exempt {
    fn of(instance: &Instance<'_>, ctx: &Context) -> Exempt {
        let owner = instance.spec.service.service_account_name.as_ref().map(|name| SubjectRef::ServiceAccount {
            namespace: instance.service_namespace().to_string(),
            name: name.clone(),
        });
        let operator = SubjectRef::ServiceAccount {
            namespace: ctx.settings.operator_namespace.clone(),
            name: ctx.settings.service_account.clone(),
        };
        Exempt { owner, operator }
    }

    fn may_read_credentials(&self, subject: &SubjectRef) -> bool {
        *subject == self.operator || self.owner.as_ref() == Some(subject)
    }
}

pub async fn audit(ctx: &Context, instance: &Instance<'_>) -> Isolation {
    // Where the credentials are: here, and delivered to the service's namespace.
    let mut secrets = vec![(instance.namespace.to_string(), instance.credentials_secret_name())];
    if let Some(ns) = instance.service_elsewhere().filter(|ns| ctx.caches.watches(ns)) {
        secrets.push((ns.to_string(), instance.delivered_credentials_name()));
    }
    let mut reviewed = Vec::new();
    for (ns, _) in &secrets {
        match ctx.isolation.reviewed_readers(&ctx.client, ns).await {
            Ok(readers) => reviewed.push(readers),
            Err(error) => {
                return Isolation::Unknown(format!(
                    "SubjectAccessReviews for the ServiceAccounts of namespace {ns} failed: {error}"
                ));
            }
        }
    }
    let exempt = Exempt::of(instance, ctx);
    let monitoring = &ctx.settings.monitoring_namespace;
    let findings = ctx.isolation.read(|seen| {
        let mut found = findings(instance, monitoring, seen, &secrets, reviewed, &exempt);
        found.extend(own_secret_findings(instance, seen, &found, &exempt));
        found
    });
    let exceptions = instance.spec.isolation.as_ref().map(|i| i.exceptions.as_slice()).unwrap_or_default();
    Isolation::Judged(Verdict::judge(findings, exceptions, instance.namespace))
}

/// Everything that reaches the database or reads `secrets` (each with what
/// the reviews of its namespace found) beyond the design, sorted.
fn findings(
    instance: &Instance<'_>,
    monitoring_namespace: &str,
    seen: &Seen<'_>,
    secrets: &[(String, String)],
    reviewed: Vec<Vec<Reader>>,
    exempt: &Exempt,
) -> Vec<Finding> {
    let home = instance.namespace;
    let ours = network_policy(instance, monitoring_namespace);
    let labels = instance.selector_labels();
    let (db_port, port_name) = instance.engine.port();
    let mut ports = vec![(i32::from(db_port), port_name)];
    if instance.spec.monitoring_enabled() {
        ports.push((i32::from(instance.engine.exporter("", false).port), "metrics"));
    }
    let target = Target { namespace: home, labels: &labels, ports: &ports };
    let policies = seen.policies.with_term(home, instance.name).chain(seen.policies.with_term(home, ANY_INSTANCE));
    let policies = policies.map(|(_, p)| p);
    let mut wider_policies: Vec<_> = policies.filter_map(|p| wider(&ours, p, &target)).collect();
    wider_policies.sort_by(|a, b| a.name.cmp(&b.name));
    let mut findings: Vec<Finding> = wider_policies.into_iter().map(Finding::Policy).collect();

    let owner_pods = LabelSelector { match_labels: Some(instance.spec.service.pod_selector()), ..Default::default() };
    for ((ns, secret), reviewed) in secrets.iter().zip(reviewed) {
        let mut readers = seen.rbac.readers(ns, secret);
        let unknown: Vec<_> =
            reviewed.into_iter().filter(|r| !readers.iter().any(|known| known.subject == r.subject)).collect();
        readers.extend(unknown);
        let at = format!("{ns}/{secret}");
        findings.extend(
            readers
                .into_iter()
                .filter(|r| !r.subject.is_control_plane() && !exempt.may_read_credentials(&r.subject))
                .map(|reader| Finding::Reader { secret: at.clone(), reader }),
        );
        // The service's own pods read the copy in their namespace.
        let owners_here = ns == instance.service_namespace();
        let mut pods: Vec<Finding> = seen
            .pods
            .with_term(ns, secret)
            .filter(|(_, pod)| !(owners_here && selects(&owner_pods, &pod.labels)))
            // The instance's own pod reads the credentials here.
            .filter(|(name, pod)| !(ns == home && is_database_pod(instance, name, pod)))
            .map(|(name, _)| Finding::Pod { namespace: ns.clone(), name: name.to_string(), secret: at.clone() })
            .collect();
        pods.sort_by_key(ToString::to_string);
        findings.extend(pods);
    }
    findings
}

/// The instance's database pod: its name, of its StatefulSet (a name alone
/// anyone can take).
fn is_database_pod(instance: &Instance<'_>, name: &str, pod: &PodSecrets) -> bool {
    name == instance.pod_name()
        && pod.controller.as_deref() == Some(format!("StatefulSet/{}", instance.instance_name()).as_str())
}

/// Who else reads the operator's own Secrets of the instance: the admin
/// Secret is for the database pod (of its StatefulSet) and the restore Job,
/// the backup login for the pods of backup Jobs (a Job's pods labelled as
/// this instance's backups); no one else, the service included. Subjects
/// already named for the credentials (a reader of every Secret) are not
/// named again.
fn own_secret_findings(instance: &Instance<'_>, seen: &Seen<'_>, found: &[Finding], exempt: &Exempt) -> Vec<Finding> {
    let home = instance.namespace;
    let named: Vec<&SubjectRef> = found
        .iter()
        .filter_map(|f| match f {
            Finding::Reader { reader, .. } => Some(&reader.subject),
            _ => None,
        })
        .collect();
    let restore = format!("Job/{}", instance.restore_name());
    let admin = instance.admin_secret_name();
    let backup_pods = LabelSelector { match_labels: Some(backup_pod_labels(instance)), ..Default::default() };
    let may_read = |secret: &str, name: &str, pod: &PodSecrets| {
        let controller = pod.controller.as_deref().unwrap_or_default();
        if secret == admin {
            is_database_pod(instance, name, pod) || controller == restore
        } else {
            controller.starts_with("Job/") && selects(&backup_pods, &pod.labels)
        }
    };
    let mut findings = Vec::new();
    for secret in [admin.clone(), instance.backup_login_secret_name()] {
        let at = format!("{home}/{secret}");
        let readers =
            seen.rbac.readers(home, &secret).into_iter().filter(|r| {
                !r.subject.is_control_plane() && r.subject != exempt.operator && !named.contains(&&r.subject)
            });
        findings.extend(readers.map(|reader| Finding::Reader { secret: at.clone(), reader }));
        let mut pods: Vec<Finding> = seen
            .pods
            .with_term(home, &secret)
            .filter(|(name, pod)| !may_read(&secret, name, pod))
            .map(|(name, _)| Finding::Pod { namespace: home.to_string(), name: name.to_string(), secret: at.clone() })
            .collect();
        pods.sort_by_key(ToString::to_string);
        findings.extend(pods);
    }
    findings
}
