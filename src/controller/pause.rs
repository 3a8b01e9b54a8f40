//! `servicedb.dev/reconcile: paused`: a person takes the wheel. While paused the
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
//! Removing the annotation (or any other value) resumes: the next
//! reconcile applies every child again, which repairs what drifted.
//!
//! `servicedb.dev/paused: "true"`, the annotation of earlier releases, still
//! pauses (a deprecated alias, so that an instance paused before an upgrade
//! stays paused); `kubectl servicedb pause` writes the new one and removes
//! the old, `resume` removes both.

use crate::api::ServiceDatabaseStatus;
use crate::api::conditions::{self, condition};
use crate::api::reasons::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use std::collections::BTreeMap;

/// The annotation that pauses, with the value [`PAUSED_VALUE`].
pub const RECONCILE_ANNOTATION: &str = "servicedb.dev/reconcile";
pub const PAUSED_VALUE: &str = "paused";
/// How to pause, as messages say it.
pub const PAUSED_BY: &str = "servicedb.dev/reconcile=paused";
/// Deprecated alias of [`RECONCILE_ANNOTATION`]: `"true"` pauses too.
pub const PAUSED_ANNOTATION: &str = "servicedb.dev/paused";
/// Condition present (True) only while paused.
pub const PAUSED: &str = "Paused";

/// Whether the object asks to be left alone.
pub fn is_paused(object: &impl ResourceExt) -> bool {
    pauses(object.annotations())
}

/// The decision on the annotations alone: `servicedb.dev/reconcile: paused`,
/// or the deprecated `servicedb.dev/paused: "true"`. Only these exact values
/// (surrounding blanks aside) pause, so that a typo never stops the operator
/// silently; either annotation pausing is enough.
pub fn pauses(annotations: &BTreeMap<String, String>) -> bool {
    let is = |key: &str, value: &str| annotations.get(key).is_some_and(|v| v.trim() == value);
    is(RECONCILE_ANNOTATION, PAUSED_VALUE) || is(PAUSED_ANNOTATION, "true")
}

/// The merge patch of the object's annotations that pauses (`true`) or
/// resumes it: pausing writes the current annotation and drops the
/// deprecated one, resuming drops both, so one `resume` undoes either.
pub fn annotation_patch(pause: bool) -> serde_json::Value {
    let value = if pause { serde_json::json!(PAUSED_VALUE) } else { serde_json::Value::Null };
    serde_json::json!({"metadata": {"annotations": {RECONCILE_ANNOTATION: value, PAUSED_ANNOTATION: null}}})
}

/// The status while paused: what the last active reconcile observed, plus
/// the Paused condition. Nothing else is recomputed: nothing was applied.
pub fn paused_status(old: &ServiceDatabaseStatus, generation: Option<i64>, now: Time) -> ServiceDatabaseStatus {
    let message = format!(
        "{PAUSED_BY}: the operator changes no child, login or backup of this instance; the rest of the status is from before the pause. Remove the annotation (kubectl servicedb resume) to repair drift"
    );
    let mut new: Vec<_> = old.conditions.iter().filter(|c| c.type_ != PAUSED).cloned().collect();
    new.push(condition(PAUSED, true, Reason::PausedByAnnotation, message, generation));
    ServiceDatabaseStatus { conditions: conditions::with_transition_times(&old.conditions, new, now), ..old.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ServiceDatabase;

    fn sdb(annotations: &[(&str, &str)]) -> ServiceDatabase {
        let mut s: ServiceDatabase = yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop}\nspec: {engine: postgres, version: '16', service: {name: orders}, storage: {size: 1Gi}}",
        )
        .unwrap();
        for (key, value) in annotations {
            s.annotations_mut().insert(key.to_string(), value.to_string());
        }
        s
    }

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn reconcile_paused_pauses_and_nothing_else_does() {
        assert!(is_paused(&sdb(&[(RECONCILE_ANNOTATION, "paused")])));
        assert!(is_paused(&sdb(&[(RECONCILE_ANNOTATION, " paused ")])));
        for other in ["", "Paused", "pause", "true", "enabled", "paused1"] {
            assert!(!is_paused(&sdb(&[(RECONCILE_ANNOTATION, other)])), "{other:?}");
        }
        assert!(!is_paused(&sdb(&[])));
        // Another annotation of the same group is no pause.
        assert!(!is_paused(&sdb(&[("servicedb.dev/rotate", "paused")])));
    }

    #[test]
    fn the_deprecated_annotation_still_pauses_with_true_only() {
        assert!(is_paused(&sdb(&[(PAUSED_ANNOTATION, "true")])));
        assert!(is_paused(&sdb(&[(PAUSED_ANNOTATION, " true ")])));
        for other in ["false", "", "yes", "True1", "paused"] {
            assert!(!is_paused(&sdb(&[(PAUSED_ANNOTATION, other)])), "{other:?}");
        }
    }

    #[test]
    fn either_annotation_pausing_is_enough() {
        assert!(is_paused(&sdb(&[(RECONCILE_ANNOTATION, "paused"), (PAUSED_ANNOTATION, "false")])));
        assert!(is_paused(&sdb(&[(RECONCILE_ANNOTATION, "enabled"), (PAUSED_ANNOTATION, "true")])));
    }

    #[test]
    fn pausing_writes_the_new_annotation_and_resuming_removes_both() {
        let apply = |annotations: &[(&str, &str)], pause| {
            let mut object = sdb(annotations);
            let patch = annotation_patch(pause);
            for (key, value) in patch["metadata"]["annotations"].as_object().unwrap() {
                match value.as_str() {
                    Some(v) => object.annotations_mut().insert(key.clone(), v.into()),
                    None => object.annotations_mut().remove(key),
                };
            }
            object
        };
        let paused = apply(&[(PAUSED_ANNOTATION, "true")], true);
        assert!(is_paused(&paused));
        assert_eq!(paused.annotations().get(RECONCILE_ANNOTATION).map(String::as_str), Some("paused"));
        assert!(!paused.annotations().contains_key(PAUSED_ANNOTATION), "the deprecated one is dropped");
        for before in [
            &[(RECONCILE_ANNOTATION, "paused")][..],
            &[(PAUSED_ANNOTATION, "true")],
            &[(RECONCILE_ANNOTATION, "paused"), (PAUSED_ANNOTATION, "true")],
        ] {
            let resumed = apply(before, false);
            assert!(!is_paused(&resumed), "{before:?}");
            assert!(resumed.annotations().is_empty(), "{before:?}: {:?}", resumed.annotations());
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
        assert!(p.message.contains("kubectl servicedb resume") && p.message.contains("servicedb.dev/reconcile=paused"));
        // Steady while paused: the same status again, so no write.
        assert_eq!(paused_status(&paused, Some(2), at(30)), paused);
    }
}
