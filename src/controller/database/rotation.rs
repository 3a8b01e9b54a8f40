//! Credential rotation with two logins (A/B), so that the service never
//! holds a credential that stopped working:
//!
//! 1. start: a new password for the login not in use, marked pending, kept
//!    in the admin Secret before anything else (never lost);
//! 2. the administer step sets it in the database and enables that login;
//! 3. promote: the credentials Secret switches to it in one update; the
//!    previous login keeps working for the grace period;
//! 4. retire: after the grace period the previous login is disabled.
//!
//! Everything here is pure: state in, state out.

use crate::api::ServiceDatabase;
use crate::builders::{Passwords, Slot};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::ResourceExt;
use std::time::Duration;

/// Annotation asking for a rotation now: any new value triggers one.
pub const ROTATE_ANNOTATION: &str = "servicedb.dev/rotate";
pub const DEFAULT_GRACE: Duration = Duration::from_secs(300);

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Policy {
    pub interval: Option<Duration>,
    pub grace: Duration,
    pub restart_workloads: bool,
}

impl Policy {
    pub fn of(sdb: &ServiceDatabase) -> Policy {
        let rotation = sdb.spec.credentials.as_ref().and_then(|c| c.rotation.as_ref());
        Policy {
            interval: rotation.and_then(|r| r.interval_hours).map(|h| Duration::from_secs(u64::from(h) * 3600)),
            grace: rotation.map_or(DEFAULT_GRACE, |r| Duration::from_secs(u64::from(r.grace_period_seconds))),
            restart_workloads: rotation.is_some_and(|r| r.restart_workloads),
        }
    }
}

fn parse(time: Option<&str>) -> Option<Timestamp> {
    time?.parse().ok()
}

/// The on-demand request on the object, if any.
pub fn requested(sdb: &ServiceDatabase) -> Option<String> {
    sdb.annotations().get(ROTATE_ANNOTATION).filter(|v| !v.is_empty()).cloned()
}

/// Whether a new rotation should start now. One at a time: not while one is
/// pending or the previous login is still in its grace period.
pub fn due(p: &Passwords, policy: Policy, requested: Option<&str>, created: Option<Timestamp>, now: Timestamp) -> bool {
    let r = &p.rotation;
    if r.pending.is_some() || r.retire_after.is_some() {
        return false;
    }
    if requested.is_some() && requested != r.token.as_deref() {
        return true;
    }
    let since = parse(r.rotated_at.as_deref()).or(created);
    match (policy.interval, since) {
        (Some(interval), Some(since)) => {
            now.duration_since(since) >= SignedDuration::try_from(interval).unwrap_or(SignedDuration::MAX)
        }
        _ => false,
    }
}

/// Step 1: a new password for the login not in use, pending.
pub fn start(p: &Passwords, new_password: String, requested: Option<String>) -> Passwords {
    let mut next = p.clone();
    let slot = p.rotation.active().other();
    match slot {
        Slot::A => next.app = new_password,
        Slot::B => next.app_b = Some(new_password),
    }
    next.rotation.pending = Some(slot);
    if requested.is_some() {
        next.rotation.token = requested;
    }
    next
}

/// Step 3: hand out the pending login; the previous one retires after `grace`.
pub fn promote(p: &Passwords, now: Timestamp, grace: Duration) -> Passwords {
    let mut next = p.clone();
    if let Some(slot) = p.rotation.pending {
        next.rotation.active = Some(slot);
        next.rotation.pending = None;
        next.rotation.rotated_at = Some(now.to_string());
        let until = now.checked_add(SignedDuration::try_from(grace).unwrap_or(SignedDuration::ZERO)).unwrap_or(now);
        next.rotation.retire_after = Some(until.to_string());
    }
    next
}

/// Whether the previous login's grace period is over.
pub fn retire_due(p: &Passwords, now: Timestamp) -> bool {
    parse(p.rotation.retire_after.as_deref()).is_some_and(|t| now >= t)
}

/// Step 4 done: forget the grace period.
pub fn retired(p: &Passwords) -> Passwords {
    let mut next = p.clone();
    next.rotation.retire_after = None;
    next
}

/// Which logins exist and may log in now. The active one always; a pending
/// one (about to be handed out); the previous one during its grace period.
pub fn logins(p: &Passwords, now: Timestamp) -> Vec<(Slot, bool)> {
    let active = p.rotation.active();
    let other = active.other();
    let mut out = vec![(active, true)];
    if p.password(other).is_some() && (p.app_b.is_some() || other == Slot::A) {
        let enabled = p.rotation.pending == Some(other) || (p.rotation.retire_after.is_some() && !retire_due(p, now));
        out.push((other, enabled));
    }
    // Login A owns the data: list it first.
    out.sort_by_key(|(slot, _)| *slot != Slot::A);
    out
}

/// How long until the previous login must be disabled.
pub fn until_retire(p: &Passwords, now: Timestamp) -> Option<Duration> {
    let t = parse(p.rotation.retire_after.as_deref())?;
    Some(Duration::try_from(t.duration_since(now)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn fresh() -> Passwords {
        Passwords {
            admin: "admin".into(),
            app: "one".into(),
            app_b: None,
            monitor: "m".into(),
            backup: "k".into(),
            rotation: Default::default(),
            tls: None,
            derived: BTreeMap::new(),
        }
    }

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    const HOURLY: Policy =
        Policy { interval: Some(Duration::from_secs(3600)), grace: Duration::from_secs(60), restart_workloads: false };

    #[test]
    fn a_full_rotation_never_leaves_the_service_without_a_working_login() {
        let p = fresh();
        assert_eq!(logins(&p, at(0)), [(Slot::A, true)], "before any rotation: only A");
        assert!(due(&p, HOURLY, Some("r1"), Some(at(0)), at(10)), "on demand");

        let started = start(&p, "two".into(), Some("r1".into()));
        assert_eq!(started.active_password(), "one", "not handed out yet");
        assert_eq!(started.rotation.pending, Some(Slot::B));
        assert_eq!(logins(&started, at(10)), [(Slot::A, true), (Slot::B, true)]);
        assert!(!due(&started, HOURLY, Some("r2"), Some(at(0)), at(10_000)), "one rotation at a time");

        let promoted = promote(&started, at(20), Duration::from_secs(60));
        assert_eq!(promoted.active_password(), "two");
        assert_eq!(promoted.rotation.active(), Slot::B);
        assert_eq!(logins(&promoted, at(50)), [(Slot::A, true), (Slot::B, true)], "grace: both work");
        assert!(!retire_due(&promoted, at(79)));
        assert!(retire_due(&promoted, at(80)));
        assert_eq!(logins(&promoted, at(80)), [(Slot::A, false), (Slot::B, true)], "after grace: A disabled");
        assert_eq!(until_retire(&promoted, at(50)), Some(Duration::from_secs(30)));

        let done = retired(&promoted);
        assert!(!due(&done, HOURLY, Some("r1"), Some(at(0)), at(100)), "the same request is not repeated");
        assert!(due(&done, HOURLY, None, Some(at(0)), at(20 + 3600)), "the interval counts from the last switch");

        // The next rotation goes back to A with a new password.
        let again = promote(&start(&done, "three".into(), None), at(4000), Duration::from_secs(60));
        assert_eq!((again.rotation.active(), again.active_password()), (Slot::A, "three"));
        assert_eq!(again.app_b.as_deref(), Some("two"), "B keeps working through the grace period");
    }

    #[test]
    fn no_policy_and_no_request_means_no_rotation() {
        let never = Policy { interval: None, grace: DEFAULT_GRACE, restart_workloads: false };
        assert!(!due(&fresh(), never, None, Some(at(0)), at(1_000_000_000)));
    }
}
