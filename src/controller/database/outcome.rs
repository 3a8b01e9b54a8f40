//! What one reconcile found, as types: the status is computed from an
//! [`Outcome`] alone. Waiting for something that will come (a backup still
//! running) is not an invalid spec: it says so with its own reason and
//! looks again, where an invalid spec waits for the object to change.

use super::instance_pod::PodFailure;
use super::validate::Invalid;
use crate::api::BackupRecord;
use crate::api::reasons::Reason;
use crate::controller::backups::Health;
use k8s_openapi::api::apps::v1::StatefulSet;
use std::time::Duration;

/// The database side: the service's login, database and monitoring login.
#[derive(Clone, Debug, PartialEq)]
pub enum Credentials {
    /// Ensured inside the running database.
    Ready,
    /// Not attempted: the instance is not ready yet.
    NotYet,
    /// The database refused or could not be reached; the message has no secret.
    Failed(String),
}

/// The spec is fine but an input is not there yet; no child was touched.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    /// Ready's reason meanwhile, e.g. [`Reason::WaitingForBackup`].
    pub reason: Reason,
    /// What is awaited, for humans.
    pub message: String,
    /// When to look again: what is awaited may not wake the operator.
    pub recheck: Duration,
}

/// Why a reconcile stops before applying any child.
#[derive(Clone, Debug, PartialEq)]
pub enum Halt {
    Invalid(Invalid),
    Waiting(Waiting),
}

impl From<Invalid> for Halt {
    fn from(invalid: Invalid) -> Self {
        Halt::Invalid(invalid)
    }
}

/// What the reconcile found, for the status.
pub enum Outcome<'a> {
    /// The spec cannot be acted on; no child was touched.
    Invalid(&'a Invalid),
    /// Something the spec names is not ready yet; no child was touched.
    Waiting(&'a Waiting),
    /// Every child is applied; the StatefulSet as the API server has it, and
    /// the backups' health when backups are configured. Ready, or not yet
    /// (the status says why).
    Applied {
        statefulset: &'a StatefulSet,
        /// Why the pod fails, when the StatefulSet is not ready and it does.
        pod_failure: Option<&'a PodFailure>,
        credentials: &'a Credentials,
        backups: Option<&'a Health>,
        /// The restore of `spec.bootstrap`: Ready waits until it succeeded.
        bootstrap: Option<&'a BackupRecord>,
        isolation: &'a super::isolation::Isolation,
    },
    /// The API server refused a child (`ApplyRejected`); the message says which and why.
    Rejected(String),
}
