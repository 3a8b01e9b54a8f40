//! The TLS part of the decide step: whether the instance serves TLS, with
//! which certificate, and whether the server must read it again. Pure given
//! the authority and the clock (a new key is random).

use super::outcome::{Halt, Waiting};
use super::validate::Invalid;
use crate::api::reasons::{InvalidReason, Reason};
use crate::api::{ServiceDatabase, TlsSpec};
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::tls::{Authority, Issue, RENEW_BEFORE, SERVER_LIFETIME, ServerKeys, needs_issue};
use kube::Resource;
use kube::runtime::events::{Event, EventType};
use std::time::{Duration, SystemTime};

/// How long after a certificate was issued the operator asks the server to
/// read its files again: the kubelet updates a mounted Secret within a
/// minute or two, and nothing tells the operator when.
pub const RELOAD_WINDOW: Duration = Duration::from_secs(300);
/// How often the server is asked within that window.
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(30);

/// What changes about TLS in this reconcile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Unchanged,
    /// A certificate was made: the first, a renewal, or for a new authority.
    Issued(Issue),
    /// TLS is turned off on an instance that served it.
    Disabled,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub keys: Option<ServerKeys>,
    pub change: Change,
}

/// TLS is wanted when the spec says so; when it is silent, a new instance
/// gets it and a running one keeps what it has.
fn wanted(spec: Option<&TlsSpec>, serves_tls: bool, initialised: bool) -> bool {
    spec.and_then(|tls| tls.enabled).unwrap_or(serves_tls || !initialised)
}

/// Decides the server keys from the kept ones (`kept`, from the admin
/// Secret). `initialised`: the data volume exists.
pub fn decide(
    spec: Option<&TlsSpec>,
    kept: Option<ServerKeys>,
    initialised: bool,
    authority: Option<&Authority>,
    names: &[String],
    now: SystemTime,
) -> Result<Result<Decision, Halt>, Error> {
    let serves_tls = kept.is_some();
    if !wanted(spec, serves_tls, initialised) {
        if !serves_tls {
            return Ok(Ok(Decision { keys: None, change: Change::Unchanged }));
        }
        if !spec.is_some_and(|tls| tls.allow_disable) {
            return Ok(Err(Halt::Invalid(Invalid {
                reason: InvalidReason::TlsDowngrade,
                message: "spec.tls.enabled is false, but the instance serves TLS only; turning it off sends its passwords and data over the network in clear. Set spec.tls.allowDisable: true to do it anyway, or remove spec.tls.enabled".into(),
                recheck: None,
            })));
        }
        return Ok(Ok(Decision { keys: None, change: Change::Disabled }));
    }
    let Some(authority) = authority else {
        return Ok(Err(Halt::Waiting(Waiting {
            reason: Reason::WaitingForCertificateAuthority,
            message: "the operator's certificate authority (Secret servicedb-ca in its namespace) is not available yet; see the operator's log".into(),
            recheck: Duration::from_secs(30),
        })));
    };
    match needs_issue(kept.as_ref(), authority.cert_pem(), now) {
        Issue::Keep => Ok(Ok(Decision { keys: kept, change: Change::Unchanged })),
        issue => {
            let keys = authority.issue(names, now).map_err(|e| Error::Tls(e.to_string()))?;
            Ok(Ok(Decision { keys: Some(keys), change: Change::Issued(issue) }))
        }
    }
}

/// Records what changed as an Event: a Warning when TLS was turned off.
pub async fn announce(ctx: &Context, sdb: &ServiceDatabase, change: Change) {
    let (type_, reason, note) = match change {
        Change::Unchanged => return,
        Change::Disabled => (
            EventType::Warning,
            Reason::TlsDisabled,
            "TLS was turned off (spec.tls.allowDisable): passwords and data now cross the network in clear".to_string(),
        ),
        Change::Issued(issue) => {
            let why = match issue {
                Issue::First => "the first server certificate",
                Issue::Renew => "the server certificate renewed before it expires",
                Issue::NewAuthority => "a server certificate from the operator's new CA",
                Issue::Keep => return,
            };
            (EventType::Normal, Reason::CertificateIssued, format!("{why}; valid for 90 days"))
        }
    };
    tracing::info!(reason = %reason, %note, "TLS");
    let event =
        Event { type_, reason: reason.to_string(), note: Some(note), action: "Reconcile".into(), secondary: None };
    if let Err(e) = ctx.recorder.publish(&event, &sdb.object_ref(&())).await {
        tracing::warn!(error = %e, "could not record an Event");
    }
}

/// Whether the server should read its certificate files again: within
/// [`RELOAD_WINDOW`] of the certificate's issue.
pub fn reload_due(keys: &ServerKeys, now: SystemTime) -> bool {
    let issued = keys.renew_after.saturating_sub((SERVER_LIFETIME - RENEW_BEFORE).as_secs());
    let now = now.duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    now >= issued && now < issued + RELOAD_WINDOW.as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn spec(enabled: Option<bool>, allow_disable: bool) -> TlsSpec {
        TlsSpec { enabled, allow_disable }
    }

    fn names() -> Vec<String> {
        crate::tls::server_names("orders-db", "shop")
    }

    #[test]
    fn a_new_instance_gets_tls_and_an_old_one_keeps_what_it_has() {
        let authority = Authority::generate(at(0)).unwrap();
        let new = decide(None, None, false, Some(&authority), &names(), at(0)).unwrap().unwrap();
        assert_eq!(new.change, Change::Issued(Issue::First));
        assert!(new.keys.is_some());
        let old = decide(None, None, true, Some(&authority), &names(), at(0)).unwrap().unwrap();
        assert_eq!(old, Decision { keys: None, change: Change::Unchanged }, "created before TLS: stays plain");
        let asked = decide(Some(&spec(Some(true), false)), None, true, Some(&authority), &names(), at(0));
        assert_eq!(asked.unwrap().unwrap().change, Change::Issued(Issue::First), "turned on by the spec");
        let kept = new.keys.clone();
        let again = decide(None, kept.clone(), true, Some(&authority), &names(), at(60)).unwrap().unwrap();
        assert_eq!(again, Decision { keys: kept, change: Change::Unchanged }, "the same certificate");
    }

    #[test]
    fn turning_tls_off_needs_allow_disable() {
        let authority = Authority::generate(at(0)).unwrap();
        let keys = authority.issue(&names(), at(0)).unwrap();
        let off = spec(Some(false), false);
        let refused = decide(Some(&off), Some(keys.clone()), true, Some(&authority), &names(), at(0)).unwrap();
        let Err(Halt::Invalid(invalid)) = refused else { panic!("{refused:?}") };
        assert_eq!(invalid.reason, InvalidReason::TlsDowngrade);
        assert!(invalid.message.contains("allowDisable"), "{}", invalid.message);
        let allowed = spec(Some(false), true);
        let off = decide(Some(&allowed), Some(keys), true, Some(&authority), &names(), at(0)).unwrap().unwrap();
        assert_eq!(off, Decision { keys: None, change: Change::Disabled });
        let never = decide(Some(&spec(Some(false), false)), None, false, None, &names(), at(0)).unwrap().unwrap();
        assert_eq!(never.change, Change::Unchanged, "off from the start needs nothing");
    }

    #[test]
    fn without_the_authority_tls_waits_and_a_due_certificate_is_renewed() {
        let waiting = decide(None, None, false, None, &names(), at(0)).unwrap();
        assert!(matches!(waiting, Err(Halt::Waiting(w)) if w.reason == Reason::WaitingForCertificateAuthority));
        let authority = Authority::generate(at(0)).unwrap();
        let keys = authority.issue(&names(), at(0)).unwrap();
        let later = at(61 * 24 * 3600);
        let renewed = decide(None, Some(keys.clone()), true, Some(&authority), &names(), later).unwrap().unwrap();
        assert_eq!(renewed.change, Change::Issued(Issue::Renew));
        assert_ne!(renewed.keys.as_ref().unwrap().cert_pem, keys.cert_pem);
        assert!(reload_due(renewed.keys.as_ref().unwrap(), later));
        assert!(!reload_due(renewed.keys.as_ref().unwrap(), later + RELOAD_WINDOW), "only for a while");
        assert!(!reload_due(&keys, at(3600)), "an old certificate needs no reload");
    }
}
