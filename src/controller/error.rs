//! Reconcile errors, how to report them, and how soon to retry.

use crate::builders::NotStored;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A request to the API server failed.
    #[error("{action} {object}: {source}")]
    Kube {
        action: &'static str,
        object: String,
        #[source]
        source: kube::Error,
    },
    #[error(transparent)]
    NotStored(#[from] NotStored),
    /// The OS could not provide randomness for a password.
    #[error("no entropy for a new password: {0}")]
    Entropy(#[from] getrandom::Error),
    /// The database refused or could not be reached (message without secrets).
    #[error("administering the database: {0}")]
    Administration(String),
    /// Serialising a desired object failed (a bug, never user input).
    #[error("serialising a desired object: {0}")]
    Serialize(#[source] serde_json::Error),
    /// A certificate could not be made (no randomness, a CA that does not parse).
    #[error("TLS: {0}")]
    Tls(String),
}

/// How the controller reacts to an error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Optimistic-concurrency conflict or rate limiting: retry soon, quietly.
    Retry,
    /// A fault that may pass (network, API server unavailable): back off.
    Transient,
    /// The API server refused what we sent (invalid, forbidden): report it
    /// in status and back off; it needs a change or a fix to succeed.
    Rejected,
}

impl Error {
    pub fn kube(action: &'static str, object: impl Into<String>) -> impl FnOnce(kube::Error) -> Error {
        let object = object.into();
        move |source| Error::Kube { action, object, source }
    }

    fn status_code(&self) -> Option<u16> {
        match self {
            Error::Kube { source: kube::Error::Api(status), .. } => Some(status.code),
            _ => None,
        }
    }

    pub fn severity(&self) -> Severity {
        match self.status_code() {
            Some(409 | 429) => Severity::Retry,
            Some(400 | 403 | 404 | 405 | 410 | 413 | 415 | 422) => Severity::Rejected,
            Some(_) => Severity::Transient,
            None => match self {
                Error::Kube { .. } | Error::Entropy(_) | Error::Administration(_) | Error::Tls(_) => {
                    Severity::Transient
                }
                Error::NotStored(_) | Error::Serialize(_) => Severity::Rejected,
            },
        }
    }

    /// A label of bounded cardinality for metrics and logs.
    pub fn metric_label(&self) -> &'static str {
        match (self, self.status_code()) {
            (_, Some(409)) => "conflict",
            (_, Some(429)) => "throttled",
            (_, Some(403)) => "forbidden",
            (_, Some(422 | 400)) => "invalid_child",
            (Error::Kube { .. }, Some(_)) => "api_error",
            (Error::Kube { .. }, None) => "api_unreachable",
            (Error::NotStored(_), _) => "not_stored",
            (Error::Entropy(_), _) => "entropy",
            (Error::Administration(_), _) => "administration",
            (Error::Serialize(_), _) => "serialize",
            (Error::Tls(_), _) => "tls",
        }
    }
}

impl Error {
    /// The longest wait between retries. A database that does not answer is
    /// usually one still starting, and asking again costs one connect: its
    /// instance turns Ready within 30 s of answering, not minutes later.
    pub fn longest_backoff(&self) -> Duration {
        match self {
            Error::Administration(_) => Duration::from_secs(30),
            _ => Duration::from_secs(300),
        }
    }
}

/// Per-object exponential backoff with jitter: 2s, 4s, ... up to `longest`,
/// each scaled by a random factor in [0.5, 1.5) so that many failing objects
/// do not retry in lockstep.
pub fn backoff(failures: u32, jitter: f64, longest: Duration) -> Duration {
    let base = 2f64.powi(failures.min(16) as i32).min(longest.as_secs_f64());
    Duration::from_secs_f64(base * (0.5 + jitter.clamp(0.0, 1.0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api_error(code: u16) -> Error {
        let status = kube::core::Status::failure("boom", "Reason").with_code(code);
        Error::Kube { action: "apply", object: "Secret x".into(), source: kube::Error::Api(Box::new(status)) }
    }

    #[test]
    fn conflicts_and_throttling_are_retried_not_failures() {
        assert_eq!(api_error(409).severity(), Severity::Retry);
        assert_eq!(api_error(429).severity(), Severity::Retry);
        assert_eq!(api_error(422).severity(), Severity::Rejected);
        assert_eq!(api_error(403).severity(), Severity::Rejected);
        assert_eq!(api_error(503).severity(), Severity::Transient);
    }

    #[test]
    fn labels_are_bounded_whatever_the_message() {
        let labels: std::collections::BTreeSet<_> =
            [409, 429, 403, 422, 400, 500, 503].iter().map(|c| api_error(*c).metric_label()).collect();
        assert_eq!(labels.len(), 5);
    }

    #[test]
    fn backoff_grows_exponentially_is_jittered_and_capped() {
        let longest = api_error(503).longest_backoff();
        assert_eq!(backoff(1, 0.5, longest), Duration::from_secs(2));
        assert_eq!(backoff(3, 0.5, longest), Duration::from_secs(8));
        assert!(backoff(3, 0.0, longest) < backoff(3, 0.99, longest));
        assert_eq!(backoff(40, 0.5, longest), Duration::from_secs(300));
        assert!(backoff(40, 0.99, longest) < Duration::from_secs(450));
    }

    #[test]
    fn an_unanswering_database_is_asked_again_within_45s() {
        let longest = Error::Administration("cannot connect".into()).longest_backoff();
        assert_eq!(backoff(40, 0.5, longest), Duration::from_secs(30));
        assert!(backoff(40, 0.99, longest) < Duration::from_secs(45));
    }
}
