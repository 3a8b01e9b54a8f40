//! `servicedb.dev/paused: "true"`: a person takes the wheel. While paused the
//! reconcile changes nothing inside or outside the database: no child is
//! applied or deleted, no login is administered or rotated (a previous login
//! in its grace period stays enabled until resume), no on-demand backup Job
//! starts. It still keeps the finalizer in step with `deletionPolicy` (so a
//! deletion keeps its promise) and writes the status, which says `Paused`.
//!
//! Decided and documented:
//! - The backup CronJob is NOT suspended: that would be a write to a child,
//!   which pausing promises not to make, and the recovery point objective
//!   matters most while someone works on the instance. Its runs only read
//!   the database; `kubectl servicedb pause` says so.
//! - Deleting a paused instance runs the finalizer as usual (the final
//!   backup under `Snapshot` included): a deletion is an explicit request,
//!   and holding it until a resume would strand the object.
//!
//! Removing the annotation (or any value but "true") resumes: the next
//! reconcile applies every child again, which repairs what drifted.

use crate::api::ServiceDatabaseStatus;
use crate::api::conditions::{self, condition};
use crate::api::reasons::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

pub const PAUSED_ANNOTATION: &str = "servicedb.dev/paused";
/// Condition present (True) only while paused.
pub const PAUSED: &str = "Paused";

/// Whether the object asks to be left alone. Only "true" pauses, so that a
/// typo never stops the operator silently.
pub fn is_paused(object: &impl ResourceExt) -> bool {
    object.annotations().get(PAUSED_ANNOTATION).is_some_and(|v| v.trim() == "true")
}

/// The status while paused: what the last active reconcile observed, plus
/// the Paused condition. Nothing else is recomputed: nothing was applied.
pub fn paused_status(old: &ServiceDatabaseStatus, generation: Option<i64>, now: Time) -> ServiceDatabaseStatus {
    let message = format!(
        "{PAUSED_ANNOTATION}=true: the operator changes no child, login or backup of this instance; the rest of the status is from before the pause. Remove the annotation (kubectl servicedb resume) to repair drift"
    );
    let mut new: Vec<_> = old.conditions.iter().filter(|c| c.type_ != PAUSED).cloned().collect();
    new.push(condition(PAUSED, true, Reason::PausedByAnnotation, message, generation));
    ServiceDatabaseStatus { conditions: conditions::with_transition_times(&old.conditions, new, now), ..old.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceDatabase;

    fn sdb(annotation: Option<&str>) -> ServiceDatabase {
        let mut s: ServiceDatabase = yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop}\nspec: {engine: postgres, version: '16', service: {name: orders}, storage: {size: 1Gi}}",
        )
        .unwrap();
        if let Some(value) = annotation {
            s.annotations_mut().insert(PAUSED_ANNOTATION.into(), value.into());
        }
        s
    }

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn only_true_pauses() {
        assert!(is_paused(&sdb(Some("true"))));
        assert!(is_paused(&sdb(Some(" true "))));
        for other in [None, Some("false"), Some(""), Some("yes"), Some("True1")] {
            assert!(!is_paused(&sdb(other)), "{other:?}");
        }
    }

    #[test]
    fn a_paused_status_keeps_what_was_observed_and_adds_paused() {
        let ready = condition(conditions::READY, true, Reason::Available, "ok", Some(1));
        let old = ServiceDatabaseStatus {
            conditions: conditions::with_transition_times(&[], vec![ready], at(10)),
            observed_generation: Some(1),
            credentials_secret: Some("orders-db-credentials".into()),
            ..Default::default()
        };
        let paused = paused_status(&old, Some(2), at(20));
        assert_eq!(paused.observed_generation, Some(1), "generation 2 was not acted on");
        assert_eq!(paused.credentials_secret, old.credentials_secret);
        let ready = conditions::find(&paused.conditions, conditions::READY).unwrap();
        assert_eq!((ready.status.as_str(), &ready.last_transition_time), ("True", &at(10)));
        let p = conditions::find(&paused.conditions, PAUSED).unwrap();
        assert_eq!(
            (p.status.as_str(), p.reason.as_str(), &p.last_transition_time),
            ("True", "PausedByAnnotation", &at(20))
        );
        assert!(p.message.contains("kubectl servicedb resume"));
        // Steady while paused: the same status again, so no write.
        assert_eq!(paused_status(&paused, Some(2), at(30)), paused);
    }
}
