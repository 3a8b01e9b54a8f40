//! Status: computed only from what was applied and observed, written only
//! when it changed, with an Event for every condition that changed (see
//! `changed`).

use super::instance_pod::PodFailure;
use super::isolation::Isolation;
use super::outcome::{Credentials, Outcome};
use crate::api::conditions::{self, CREDENTIALS_READY, DEGRADED, ISOLATED, PROGRESSING, READY, condition};
use crate::api::reasons::Reason;
use crate::api::{BackupPhase, Endpoint, Phase, ServiceDatabase, ServiceDatabaseStatus};
use crate::builders::Instance;
use crate::controller::apply::merge_patch;
use crate::controller::backups::BACKUP_HEALTHY;
use crate::controller::error::Error;
use crate::controller::events::EventRecorder;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use kube::api::{Patch, PatchParams};
use kube::runtime::events::{Event, EventType};
use kube::{Api, Client, Resource, ResourceExt};

/// Field manager of status writes, apart from the children's.
const STATUS_MANAGER: &str = "servicedb-status";

/// Whether the single instance pod is ready on the current revision, and why not.
pub fn instance_readiness(sts: &StatefulSet) -> Result<(), String> {
    let status = sts.status.clone().unwrap_or_default();
    let generation_seen = status.observed_generation >= sts.metadata.generation;
    let ready = status.ready_replicas.unwrap_or(0);
    let want = sts.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let rolled_out = status.update_revision.is_none() || status.current_revision == status.update_revision;
    // A StatefulSet its controller has not looked at yet is new, not rolling
    // out: the message stays the same until the pod is ready (one status write).
    let new = status.observed_generation.is_none();
    if generation_seen && ready >= want && rolled_out {
        Ok(())
    } else if !rolled_out || !(generation_seen || new) {
        Err(format!("rolling out StatefulSet {}: {ready}/{want} pods ready", sts.name_any()))
    } else {
        Err(format!("waiting for pod {}-0 to be ready: {ready}/{want} pods ready", sts.name_any()))
    }
}

/// Why an applied instance is not ready, each with its condition reason.
enum Blocker<'a> {
    /// The pod is not ready yet: scheduled, starting, rolling out.
    Provisioning(String),
    /// A container of the pod keeps failing.
    InstanceFailing(&'a PodFailure),
    /// The database refused the operator's administration.
    CredentialsNotReady(&'a str),
    Restoring(String),
    RestoreFailed(String),
}

impl Blocker<'_> {
    /// The reason of Ready (and of Degraded, for a fault).
    fn reason(&self) -> Reason {
        match self {
            Blocker::Provisioning(_) => Reason::Provisioning,
            Blocker::InstanceFailing(_) => Reason::InstanceFailing,
            Blocker::CredentialsNotReady(_) => Reason::CredentialsNotReady,
            Blocker::Restoring(_) => Reason::Restoring,
            Blocker::RestoreFailed(_) => Reason::RestoreFailed,
        }
    }

    fn message(&self) -> String {
        match self {
            Blocker::InstanceFailing(failure) => failure.to_string(),
            Blocker::CredentialsNotReady(message) => message.to_string(),
            Blocker::Provisioning(message) | Blocker::Restoring(message) | Blocker::RestoreFailed(message) => {
                message.clone()
            }
        }
    }

    /// A fault that needs a person: Degraded even before the first Ready.
    fn is_fault(&self) -> bool {
        matches!(self, Blocker::InstanceFailing(_) | Blocker::RestoreFailed(_))
    }

    /// The reason of CredentialsReady meanwhile.
    fn credentials_reason(&self) -> Reason {
        match self {
            Blocker::Provisioning(_) | Blocker::InstanceFailing(_) => Reason::WaitingForInstance,
            Blocker::CredentialsNotReady(_) => Reason::AdministrationFailed,
            Blocker::Restoring(_) | Blocker::RestoreFailed(_) => Reason::Administered,
        }
    }
}

/// The status for an outcome. `old` supplies what a failure does not change
/// (the endpoint of an existing instance) and whether the instance was ready.
pub fn compute(
    sdb: &ServiceDatabase,
    instance: &Instance<'_>,
    outcome: &Outcome<'_>,
    now: Time,
) -> ServiceDatabaseStatus {
    let old = sdb.status.clone().unwrap_or_default();
    let generation = sdb.metadata.generation;
    let was_ready = conditions::is_true(&old.conditions, READY);
    let c = |t: &str, s: bool, r: Reason, m: &str| condition(t, s, r, m, generation);
    let (phase, new) = match outcome {
        Outcome::Invalid(invalid) => (
            Phase::Invalid,
            vec![
                c(READY, false, Reason::InvalidSpec, &format!("{}: {}", invalid.reason, invalid.message)),
                c(PROGRESSING, false, Reason::InvalidSpec, "waiting for the spec to be fixed"),
                c(DEGRADED, false, Reason::InvalidSpec, "no child was changed"),
                c(CREDENTIALS_READY, false, Reason::InvalidSpec, "no child was changed"),
            ],
        ),
        // Not a fault: Degraded stays False, and nothing is provisioned yet.
        Outcome::Waiting(waiting) => (
            Phase::Pending,
            vec![
                c(READY, false, waiting.reason, &waiting.message),
                c(PROGRESSING, true, waiting.reason, &waiting.message),
                c(DEGRADED, false, Reason::AsExpected, "no fault observed"),
                c(CREDENTIALS_READY, false, Reason::WaitingForInstance, "no child was changed yet"),
            ],
        ),
        Outcome::Rejected(message) => (
            Phase::Degraded,
            vec![
                c(
                    READY,
                    was_ready,
                    if was_ready { Reason::Available } else { Reason::NotReady },
                    "the last change could not be applied",
                ),
                c(PROGRESSING, false, Reason::ApplyRejected, message),
                c(DEGRADED, true, Reason::ApplyRejected, message),
                conditions::find(&old.conditions, CREDENTIALS_READY).cloned().unwrap_or_else(|| {
                    c(CREDENTIALS_READY, false, Reason::NotReady, "the instance was not provisioned")
                }),
            ],
        ),
        Outcome::Applied { statefulset, pod_failure, credentials, bootstrap, .. } => {
            let restoring = bootstrap.filter(|b| b.phase != BackupPhase::Succeeded).map(|b| match b.phase {
                BackupPhase::Failed => Blocker::RestoreFailed(format!(
                    "restoring the bootstrap backup failed (Job {}): {}; delete the Job to try again",
                    b.job,
                    b.message.as_deref().unwrap_or("no reason given")
                )),
                _ => Blocker::Restoring(format!("restoring the bootstrap backup (Job {})", b.job)),
            });
            let blocker = match (instance_readiness(statefulset), credentials) {
                (Err(waiting), _) => Some(pod_failure.map_or(Blocker::Provisioning(waiting), Blocker::InstanceFailing)),
                (Ok(()), Credentials::NotYet) => Some(Blocker::Provisioning("waiting for the instance".into())),
                (Ok(()), Credentials::Failed(message)) => Some(Blocker::CredentialsNotReady(message)),
                (Ok(()), Credentials::Ready) => restoring,
            };
            match blocker {
                None => (
                    Phase::Ready,
                    vec![
                        c(READY, true, Reason::Available, "the database accepts connections from its service"),
                        c(PROGRESSING, false, Reason::Available, "every child is up to date"),
                        c(DEGRADED, false, Reason::AsExpected, "no fault observed"),
                        c(
                            CREDENTIALS_READY,
                            true,
                            Reason::Administered,
                            "the service's login and database and the monitoring login are in place",
                        ),
                    ],
                ),
                Some(blocker) => {
                    let (reason, message) = (blocker.reason(), blocker.message());
                    let (phase, progressing, degraded) = if was_ready {
                        (Phase::Degraded, Reason::Recovering, c(DEGRADED, true, reason, &message))
                    } else if blocker.is_fault() {
                        (Phase::Degraded, reason, c(DEGRADED, true, reason, &message))
                    } else {
                        (Phase::Provisioning, reason, c(DEGRADED, false, Reason::AsExpected, "no fault observed"))
                    };
                    (
                        phase,
                        vec![
                            c(READY, false, reason, &message),
                            c(PROGRESSING, true, progressing, &message),
                            degraded,
                            c(CREDENTIALS_READY, false, blocker.credentials_reason(), &message),
                        ],
                    )
                }
            }
        }
    };
    let provisioned = matches!(outcome, Outcome::Applied { .. });
    let serves_tls = match outcome {
        Outcome::Applied { statefulset, .. } => crate::builders::serves_tls(statefulset),
        _ => false,
    };
    // Backups are judged only when the children were applied; otherwise the
    // last judgement stands.
    let bootstrap = match outcome {
        Outcome::Applied { bootstrap, .. } => bootstrap.cloned(),
        _ => old.bootstrap.clone(),
    };
    let (backup_condition, last_backup, last_successful_backup) = match outcome {
        Outcome::Applied { backups: Some(h), .. } => {
            (Some(h.condition.clone()), h.last.clone(), h.last_successful.clone())
        }
        Outcome::Applied { backups: None, .. } => (None, None, None),
        _ => (conditions::find(&old.conditions, BACKUP_HEALTHY).cloned(), old.last_backup, old.last_successful_backup),
    };
    // Judged when the children were applied; otherwise the last judgement stands.
    let isolated = match outcome {
        Outcome::Applied { isolation, .. } => Some(isolated_condition(isolation, generation)),
        _ => conditions::find(&old.conditions, ISOLATED).cloned(),
    };
    let mut new = new;
    new.extend(backup_condition);
    new.extend(isolated);
    ServiceDatabaseStatus {
        conditions: conditions::with_transition_times(&old.conditions, new, now),
        observed_generation: generation,
        phase: Some(phase),
        endpoint: if provisioned {
            Some(Endpoint { host: instance.host(), port: i32::from(instance.engine.port().0), tls: serves_tls })
        } else {
            old.endpoint
        },
        credentials_secret: if provisioned { Some(instance.credentials_secret_name()) } else { old.credentials_secret },
        last_backup,
        last_successful_backup,
        bootstrap,
    }
}

/// The `Isolated` condition of an audit.
fn isolated_condition(isolation: &Isolation, generation: Option<i64>) -> Condition {
    match isolation {
        Isolation::Judged(verdict) => {
            let (status, reason, message) = verdict.condition();
            condition(ISOLATED, status, reason, message, generation)
        }
        Isolation::Unknown(message) => Condition {
            status: "Unknown".into(),
            ..condition(ISOLATED, false, Reason::IsolationUnknown, message.as_str(), generation)
        },
    }
}

/// A condition that calls for a person: a Warning Event.
fn is_warning(c: &Condition) -> bool {
    (c.type_ == DEGRADED && c.status == "True")
        || (c.type_ == ISOLATED && c.status == "False")
        || c.reason == Reason::InvalidSpec.as_str()
}

/// Conditions worth an Event: those whose status or reason changed, and a
/// first appearance only when it is a warning. A new object's first status
/// (not ready, provisioning, no fault) is what everyone expects; an Event
/// each would triple the writes of a creation.
fn changed<'a>(old: &[Condition], new: &'a [Condition]) -> Vec<&'a Condition> {
    new.iter()
        .filter(|n| match conditions::find(old, &n.type_) {
            Some(o) => o.status != n.status || o.reason != n.reason,
            None => is_warning(n),
        })
        .filter(|n| n.type_ != PROGRESSING)
        .collect()
}

/// Writes the status if it differs from the live one and records an Event
/// per changed condition. Returns whether anything was written.
pub async fn publish(
    client: &Client,
    recorder: &EventRecorder,
    sdb: &ServiceDatabase,
    status: ServiceDatabaseStatus,
) -> Result<bool, Error> {
    let old = sdb.status.clone().unwrap_or_default();
    if old == status {
        return Ok(false);
    }
    let api: Api<ServiceDatabase> = Api::namespaced(client.clone(), &sdb.namespace().unwrap_or_default());
    let name = sdb.name_any();
    let to_json = |s: &ServiceDatabaseStatus| serde_json::to_value(s).map_err(Error::Serialize);
    let patch = serde_json::json!({ "status": merge_patch(&to_json(&old)?, &to_json(&status)?) });
    api.patch_status(&name, &PatchParams::apply(STATUS_MANAGER), &Patch::Merge(&patch))
        .await
        .map_err(Error::kube("patch status of", format!("ServiceDatabase {name}")))?;
    let reference = sdb.object_ref(&());
    for c in changed(&old.conditions, &status.conditions) {
        let event = Event {
            type_: if is_warning(c) { EventType::Warning } else { EventType::Normal },
            reason: c.reason.clone(),
            note: Some(format!("{} is {}: {}", c.type_, c.status, c.message)),
            action: "Reconcile".into(),
            secondary: None,
        };
        // An Event is a courtesy: failing to record one must not fail the reconcile.
        if let Err(e) = recorder.publish(&event, &reference).await {
            tracing::warn!(error = %e, "could not record an Event");
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::super::outcome::Waiting;
    use super::super::validate::Invalid;
    use super::*;
    use crate::api::reasons::InvalidReason;
    use k8s_openapi::api::apps::v1::StatefulSetStatus;

    static ISOLATED_OK: Isolation =
        Isolation::Judged(crate::isolation::Verdict { open: Vec::new(), acknowledged: Vec::new() });

    fn sdb() -> ServiceDatabase {
        let mut s: ServiceDatabase = yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop, uid: u1, generation: 3}\nspec: {engine: postgres, version: '16', service: {name: orders}, storage: {size: 1Gi}}",
        )
        .unwrap();
        s.status = None;
        s
    }

    fn sts(ready: i32) -> StatefulSet {
        let mut sts = StatefulSet::default();
        sts.metadata.name = Some("orders-db".into());
        sts.metadata.generation = Some(2);
        sts.spec = Some(Default::default());
        sts.spec.as_mut().unwrap().replicas = Some(1);
        sts.status = Some(StatefulSetStatus {
            observed_generation: Some(2),
            ready_replicas: Some(ready),
            current_revision: Some("r1".into()),
            update_revision: Some("r1".into()),
            ..Default::default()
        });
        sts
    }

    fn applied(sts: &StatefulSet) -> Outcome<'_> {
        Outcome::Applied {
            statefulset: sts,
            pod_failure: None,
            credentials: &Credentials::Ready,
            backups: None,
            bootstrap: None,
            isolation: &ISOLATED_OK,
        }
    }

    #[test]
    fn ready_needs_the_database_side_done() {
        let mut sdb = sdb();
        let template = sdb.clone();
        let instance = Instance::new(&template, "op").unwrap();
        let failed = Credentials::Failed("cannot connect to orders-db.shop.svc:5432: timed out".into());
        let s = compute(
            &sdb,
            &instance,
            &Outcome::Applied {
                statefulset: &sts(1),
                pod_failure: None,
                credentials: &failed,
                backups: None,
                bootstrap: None,
                isolation: &ISOLATED_OK,
            },
            now(),
        );
        assert_eq!(get(&s, READY).status, "False");
        assert_eq!(get(&s, READY).reason, "CredentialsNotReady");
        assert_eq!(get(&s, CREDENTIALS_READY).reason, "AdministrationFailed");
        assert_eq!(s.phase, Some(Phase::Provisioning));
        sdb.status = Some(compute(&sdb, &instance, &applied(&sts(1)), now()));
        assert_eq!(get(sdb.status.as_ref().unwrap(), CREDENTIALS_READY).status, "True");
        let s = compute(
            &sdb,
            &instance,
            &Outcome::Applied {
                statefulset: &sts(1),
                pod_failure: None,
                credentials: &failed,
                backups: None,
                bootstrap: None,
                isolation: &ISOLATED_OK,
            },
            now(),
        );
        assert_eq!(
            (s.phase, get(&s, DEGRADED).status.as_str()),
            (Some(Phase::Degraded), "True"),
            "lost after being ready"
        );
    }

    fn now() -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(1_800_000_000).unwrap())
    }

    fn get<'a>(s: &'a ServiceDatabaseStatus, t: &str) -> &'a Condition {
        conditions::find(&s.conditions, t).unwrap()
    }

    #[test]
    fn a_ready_pod_makes_the_database_ready_with_its_endpoint() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let s = compute(&sdb, &instance, &applied(&sts(1)), now());
        assert_eq!(s.phase, Some(Phase::Ready));
        assert_eq!(get(&s, READY).status, "True");
        assert_eq!(get(&s, READY).observed_generation, Some(3));
        assert_eq!(s.observed_generation, Some(3));
        assert_eq!(s.endpoint, Some(Endpoint { host: "orders-db.shop.svc".into(), port: 5432, tls: false }));
        assert_eq!(s.credentials_secret.as_deref(), Some("orders-db-credentials"));
    }

    #[test]
    fn a_pod_not_ready_yet_is_provisioning_and_later_degraded() {
        let mut sdb = sdb();
        let template = sdb.clone();
        let instance = Instance::new(&template, "op").unwrap();
        let s = compute(&sdb, &instance, &applied(&sts(0)), now());
        assert_eq!(s.phase, Some(Phase::Provisioning));
        assert_eq!(get(&s, READY).reason, "Provisioning");
        assert_eq!(get(&s, READY).message, "waiting for pod orders-db-0 to be ready: 0/1 pods ready");
        assert_eq!(get(&s, DEGRADED).status, "False");

        sdb.status = Some(compute(&sdb, &instance, &applied(&sts(1)), now()));
        let s = compute(&sdb, &instance, &applied(&sts(0)), now());
        assert_eq!(s.phase, Some(Phase::Degraded));
        assert_eq!(get(&s, DEGRADED).status, "True");
    }

    #[test]
    fn a_failing_pod_is_degraded_with_its_own_words() {
        use super::super::instance_pod::{Cause, Termination};
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let failure = PodFailure {
            namespace: "shop".into(),
            pod: "orders-db-0".into(),
            container: "postgres".into(),
            restarts: 5,
            cause: Cause::CrashLoop(Some(Termination {
                exit_code: 1,
                reason: Some("Error".into()),
                message: Some("FATAL: bad config".into()),
            })),
        };
        let failing = |sts: &StatefulSet| {
            compute(
                &sdb,
                &instance,
                &Outcome::Applied {
                    statefulset: sts,
                    pod_failure: Some(&failure),
                    credentials: &Credentials::NotYet,
                    backups: None,
                    bootstrap: None,
                    isolation: &ISOLATED_OK,
                },
                now(),
            )
        };
        let s = failing(&sts(0));
        assert_eq!(s.phase, Some(Phase::Degraded));
        for condition in [READY, DEGRADED] {
            assert_eq!(get(&s, condition).reason, "InstanceFailing", "{condition}");
            assert_eq!(get(&s, condition).message, failure.to_string());
        }
        assert_eq!((get(&s, READY).status.as_str(), get(&s, DEGRADED).status.as_str()), ("False", "True"));
        assert!(get(&s, READY).message.starts_with(
            "container postgres in pod orders-db-0 is crash-looping: exit code 1 (Error), last message: FATAL: bad config; restarts: 5"
        ));
        assert_eq!(get(&s, CREDENTIALS_READY).reason, "WaitingForInstance");
        // A ready StatefulSet outweighs a stale diagnosis.
        assert_eq!(failing(&sts(1)).phase, Some(Phase::Provisioning), "credentials not administered yet");
    }

    #[test]
    fn an_invalid_spec_says_why_and_keeps_a_previous_endpoint() {
        let mut sdb = sdb();
        let template = sdb.clone();
        let instance = Instance::new(&template, "op").unwrap();
        sdb.status = Some(compute(&sdb, &instance, &applied(&sts(1)), now()));
        let invalid = Invalid { reason: InvalidReason::UnsupportedVersion, message: "use 16".into(), recheck: None };
        let s = compute(&sdb, &instance, &Outcome::Invalid(&invalid), now());
        assert_eq!(s.phase, Some(Phase::Invalid));
        assert_eq!(get(&s, READY).reason, "InvalidSpec");
        assert_eq!(get(&s, READY).message, "UnsupportedVersion: use 16");
        assert!(s.endpoint.is_some());
    }

    #[test]
    fn waiting_for_a_backup_is_pending_not_an_invalid_spec_nor_a_fault() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let waiting = Waiting {
            reason: Reason::WaitingForBackup,
            message: "waiting for ServiceDatabaseBackup nightly to succeed".into(),
            recheck: std::time::Duration::from_secs(30),
        };
        let s = compute(&sdb, &instance, &Outcome::Waiting(&waiting), now());
        assert_eq!(s.phase, Some(Phase::Pending));
        let ready = get(&s, READY);
        assert_eq!((ready.status.as_str(), ready.reason.as_str()), ("False", "WaitingForBackup"));
        assert_eq!(ready.message, waiting.message);
        assert_eq!(
            (get(&s, PROGRESSING).status.as_str(), get(&s, PROGRESSING).reason.as_str()),
            ("True", "WaitingForBackup")
        );
        assert_eq!((get(&s, DEGRADED).status.as_str(), get(&s, DEGRADED).reason.as_str()), ("False", "AsExpected"));
        assert!(s.conditions.iter().all(|c| c.reason != "InvalidSpec"));
        assert_eq!(s.endpoint, None, "nothing was provisioned");
    }

    #[test]
    fn a_refused_child_is_degraded_with_apply_rejected() {
        let sdb = sdb();
        let instance = Instance::new(&sdb, "op").unwrap();
        let s =
            compute(&sdb, &instance, &Outcome::Rejected("create Service orders-db was refused: quota".into()), now());
        assert_eq!(s.phase, Some(Phase::Degraded));
        assert_eq!((get(&s, READY).status.as_str(), get(&s, READY).reason.as_str()), ("False", "NotReady"));
        assert_eq!((get(&s, DEGRADED).status.as_str(), get(&s, DEGRADED).reason.as_str()), ("True", "ApplyRejected"));
        assert_eq!(get(&s, DEGRADED).message, "create Service orders-db was refused: quota");
    }

    #[test]
    fn an_unchanged_outcome_yields_an_identical_status_and_no_event() {
        let mut sdb = sdb();
        let template = sdb.clone();
        let instance = Instance::new(&template, "op").unwrap();
        let first = compute(&sdb, &instance, &applied(&sts(1)), now());
        sdb.status = Some(first.clone());
        let later = Time(k8s_openapi::jiff::Timestamp::from_second(1_900_000_000).unwrap());
        let second = compute(&sdb, &instance, &applied(&sts(1)), later);
        assert_eq!(first, second, "a resync must not write");
        assert!(changed(&first.conditions, &second.conditions).is_empty());
    }

    #[test]
    fn a_new_objects_first_status_records_no_event_and_its_transitions_do() {
        let mut sdb = sdb();
        let template = sdb.clone();
        let instance = Instance::new(&template, "op").unwrap();
        let first = compute(&sdb, &instance, &applied(&sts(0)), now());
        assert_eq!(get(&first, READY).reason, "Provisioning");
        assert!(changed(&[], &first.conditions).is_empty(), "not ready yet, no fault: nothing to tell");
        sdb.status = Some(first.clone());
        let ready = compute(&sdb, &instance, &applied(&sts(1)), now());
        let told: Vec<_> = changed(&first.conditions, &ready.conditions).iter().map(|c| c.reason.clone()).collect();
        assert_eq!(told, ["Available", "Administered"]);
        let mut invalid = self::sdb();
        invalid.status = None;
        let rejected = compute(&invalid, &instance, &Outcome::Rejected("refused".into()), now());
        let told: Vec<_> = changed(&[], &rejected.conditions).iter().map(|c| c.type_.clone()).collect();
        assert_eq!(told, [DEGRADED], "a fault is told even on the first status");
    }

    #[test]
    fn a_new_statefulset_is_waiting_for_its_pod_and_a_changed_one_rolls_out() {
        let mut new = sts(0);
        new.status = None;
        let message = instance_readiness(&new).unwrap_err();
        assert_eq!(message, "waiting for pod orders-db-0 to be ready: 0/1 pods ready");
        assert_eq!(message, instance_readiness(&sts(0)).unwrap_err(), "one message from creation to ready");
        let mut changed = sts(1);
        changed.metadata.generation = Some(3);
        assert!(instance_readiness(&changed).unwrap_err().starts_with("rolling out StatefulSet orders-db"));
    }
}
