//! Condition helpers: a transition time changes only when the status does.

use super::reasons::Reason;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};

pub const READY: &str = "Ready";
pub const PROGRESSING: &str = "Progressing";
pub const DEGRADED: &str = "Degraded";
pub const CREDENTIALS_READY: &str = "CredentialsReady";
/// Whether only the owning service can reach the database and read its
/// credentials (the isolation audit).
pub const ISOLATED: &str = "Isolated";

pub fn condition(
    type_: &str,
    status: bool,
    reason: Reason,
    message: impl Into<String>,
    generation: Option<i64>,
) -> Condition {
    Condition {
        type_: type_.to_string(),
        status: if status { "True" } else { "False" }.to_string(),
        reason: reason.as_str().to_string(),
        message: message.into(),
        observed_generation: generation,
        last_transition_time: Time(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    }
}

/// `new` conditions with their transition times: kept from `old` where the
/// status did not change, `now` where it did.
pub fn with_transition_times(old: &[Condition], new: Vec<Condition>, now: Time) -> Vec<Condition> {
    new.into_iter()
        .map(|mut c| {
            c.last_transition_time = match old.iter().find(|o| o.type_ == c.type_) {
                Some(o) if o.status == c.status => o.last_transition_time.clone(),
                _ => now.clone(),
            };
            c
        })
        .collect()
}

pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == "True")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Time {
        Time(k8s_openapi::jiff::Timestamp::from_second(secs).unwrap())
    }

    #[test]
    fn transition_time_moves_only_on_a_status_change() {
        let old = with_transition_times(&[], vec![condition(READY, false, Reason::Provisioning, "", Some(1))], at(10));
        assert_eq!(old[0].last_transition_time, at(10));
        let same =
            with_transition_times(&old, vec![condition(READY, false, Reason::WaitingForInstance, "", Some(2))], at(20));
        assert_eq!(same[0].last_transition_time, at(10), "reason changed, status did not");
        let flipped =
            with_transition_times(&same, vec![condition(READY, true, Reason::Available, "", Some(2))], at(30));
        assert_eq!(flipped[0].last_transition_time, at(30));
        assert!(is_true(&flipped, READY));
    }
}
