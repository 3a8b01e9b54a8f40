//! Every reason the operator writes, as enums: users, `kubectl servicedb`
//! and the e2e suite match on these words, so each is spelled once, here,
//! and a table test pins them (a rename breaks a test, not a user).
//!
//! One [`Reason`] for all condition types and Events rather than one enum
//! per condition type: the same word serves several types (`Available` is
//! Ready's and Progressing's, `InvalidSpec` all four of a spec's
//! conditions), and people read the word, not the (type, word) pair.
//! Per-type enums would repeat those variants and let their spellings drift.
//!
//! [`InvalidReason`] is apart: it says what is wrong with a spec. It leads
//! the message of `Ready=False, reason=InvalidSpec` and the operator's log,
//! and is never a condition reason itself.

/// Defines a reason enum, its `ALL` list and `as_str`.
macro_rules! reasons {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every variant, for tests and documentation.
            pub const ALL: &[$name] = &[$($name::$variant),+];

            /// The CamelCase word as written to conditions and Events.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

reasons! {
    /// A condition's or an Event's reason.
    Reason {
        // Ready, Progressing, Degraded, CredentialsReady
        /// Ready: the database accepts connections; Progressing: nothing to do.
        Available,
        /// Degraded=False: no fault observed.
        AsExpected,
        /// Ready after a refused change of an instance that was never ready.
        NotReady,
        /// The pod is scheduled, starting or rolling out.
        Provisioning,
        /// Progressing while a once-ready instance is not ready.
        Recovering,
        /// A container of the instance pod keeps failing.
        InstanceFailing,
        /// The database refused the operator's administration.
        CredentialsNotReady,
        /// The bootstrap restore runs.
        Restoring,
        /// The bootstrap restore failed.
        RestoreFailed,
        /// CredentialsReady: waiting for the instance (or, before any child, its inputs).
        WaitingForInstance,
        /// CredentialsReady: the administration failed.
        AdministrationFailed,
        /// CredentialsReady: logins and database are in place.
        Administered,
        /// The spec cannot be acted on; the message names an [`InvalidReason`].
        InvalidSpec,
        /// `spec.bootstrap` names a backup that has not finished yet.
        WaitingForBackup,
        /// TLS is wanted and the operator's CA is not loaded yet.
        WaitingForCertificateAuthority,
        /// The API server refused a child.
        ApplyRejected,
        // Paused
        /// `servicedb.dev/reconcile: paused` (or the deprecated `servicedb.dev/paused: "true"`).
        PausedByAnnotation,
        // BackupHealthy
        /// The newest backup run failed.
        BackupFailed,
        /// The newest successful backup is older than twice the interval.
        BackupStale,
        /// A recent backup succeeded.
        BackupsCurrent,
        /// No backup succeeded in twice the interval since creation.
        NoBackup,
        /// Before the first scheduled run.
        AwaitingFirstBackup,
        // Events of a deletion under deletionPolicy Snapshot
        /// The final backup Job started.
        FinalBackup,
        /// No final backup is possible: no spec.backup.
        FinalBackupImpossible,
        /// The final backup Job failed; it is tried again.
        FinalBackupFailed,
        // Isolated
        /// Nothing but the service (and the operator) reaches the database or reads its credentials.
        Isolated,
        /// Isolated, with findings the spec acknowledges.
        AcknowledgedExceptions,
        /// Another NetworkPolicy selects the database pod and admits more than ours.
        NetworkPolicyWider,
        /// A subject other than the service's ServiceAccount may read the credentials.
        SecretReadableByOthers,
        /// A pod that is not the service's reads the credentials.
        SecretReadByOtherPods,
        /// The audit's inputs are not known yet (or cannot be read).
        IsolationUnknown,
        // Warning Event on an object the watch delivered
        /// The object does not decode as this operator's type; it is skipped.
        Undecodable,
        // Events of TLS
        /// Warning: TLS was turned off on a running instance (`spec.tls.allowDisable`).
        TlsDisabled,
        /// The server certificate was issued or renewed.
        CertificateIssued,
    }
}

reasons! {
    /// What is wrong with a spec.
    InvalidReason {
        InvalidName,
        InvalidStorageSize,
        InvalidService,
        InvalidBackupSchedule,
        InvalidBackupDestination,
        UnsupportedVersion,
        ImageNotInCatalog,
        ExporterNotInCatalog,
        VersionChange,
        StorageClassNotFound,
        BackupCredentialsNotFound,
        BackupCABundleNotFound,
        CredentialsLost,
        SecretConflict,
        InvalidBootstrap,
        BootstrapBackupNotFound,
        /// The bootstrap's ServiceDatabaseBackup failed: it never runs again.
        BootstrapBackupFailed,
        /// `spec.service.namespace` does not exist.
        ServiceNamespaceNotFound,
        /// `spec.service.namespace` has not opted in to credentials from this namespace.
        ServiceNamespaceNotOptedIn,
        /// `spec.service.namespace` is not one the operator watches (namespaced mode).
        ServiceNamespaceNotWatched,
        /// `spec.tls.enabled: false` on an instance that serves TLS, without `spec.tls.allowDisable`.
        TlsDowngrade,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The words users match on. Changing one is a breaking change: update
    /// the README and the release notes, not only this table.
    #[test]
    fn every_reason_is_spelled_as_users_know_it() {
        let reasons = [
            (Reason::Available, "Available"),
            (Reason::AsExpected, "AsExpected"),
            (Reason::NotReady, "NotReady"),
            (Reason::Provisioning, "Provisioning"),
            (Reason::Recovering, "Recovering"),
            (Reason::InstanceFailing, "InstanceFailing"),
            (Reason::CredentialsNotReady, "CredentialsNotReady"),
            (Reason::Restoring, "Restoring"),
            (Reason::RestoreFailed, "RestoreFailed"),
            (Reason::WaitingForInstance, "WaitingForInstance"),
            (Reason::AdministrationFailed, "AdministrationFailed"),
            (Reason::Administered, "Administered"),
            (Reason::InvalidSpec, "InvalidSpec"),
            (Reason::WaitingForBackup, "WaitingForBackup"),
            (Reason::WaitingForCertificateAuthority, "WaitingForCertificateAuthority"),
            (Reason::ApplyRejected, "ApplyRejected"),
            (Reason::PausedByAnnotation, "PausedByAnnotation"),
            (Reason::BackupFailed, "BackupFailed"),
            (Reason::BackupStale, "BackupStale"),
            (Reason::BackupsCurrent, "BackupsCurrent"),
            (Reason::NoBackup, "NoBackup"),
            (Reason::AwaitingFirstBackup, "AwaitingFirstBackup"),
            (Reason::FinalBackup, "FinalBackup"),
            (Reason::FinalBackupImpossible, "FinalBackupImpossible"),
            (Reason::FinalBackupFailed, "FinalBackupFailed"),
            (Reason::Isolated, "Isolated"),
            (Reason::AcknowledgedExceptions, "AcknowledgedExceptions"),
            (Reason::NetworkPolicyWider, "NetworkPolicyWider"),
            (Reason::SecretReadableByOthers, "SecretReadableByOthers"),
            (Reason::SecretReadByOtherPods, "SecretReadByOtherPods"),
            (Reason::IsolationUnknown, "IsolationUnknown"),
            (Reason::Undecodable, "Undecodable"),
            (Reason::TlsDisabled, "TlsDisabled"),
            (Reason::CertificateIssued, "CertificateIssued"),
        ];
        assert_eq!(reasons.len(), Reason::ALL.len(), "a new Reason needs a row here");
        for (reason, word) in reasons {
            assert_eq!(reason.as_str(), word);
            assert_eq!(reason.to_string(), word);
        }
    }

    #[test]
    fn every_invalid_reason_is_spelled_as_users_know_it() {
        let reasons = [
            (InvalidReason::InvalidName, "InvalidName"),
            (InvalidReason::InvalidStorageSize, "InvalidStorageSize"),
            (InvalidReason::InvalidService, "InvalidService"),
            (InvalidReason::InvalidBackupSchedule, "InvalidBackupSchedule"),
            (InvalidReason::InvalidBackupDestination, "InvalidBackupDestination"),
            (InvalidReason::UnsupportedVersion, "UnsupportedVersion"),
            (InvalidReason::ImageNotInCatalog, "ImageNotInCatalog"),
            (InvalidReason::ExporterNotInCatalog, "ExporterNotInCatalog"),
            (InvalidReason::VersionChange, "VersionChange"),
            (InvalidReason::StorageClassNotFound, "StorageClassNotFound"),
            (InvalidReason::BackupCredentialsNotFound, "BackupCredentialsNotFound"),
            (InvalidReason::BackupCABundleNotFound, "BackupCABundleNotFound"),
            (InvalidReason::CredentialsLost, "CredentialsLost"),
            (InvalidReason::SecretConflict, "SecretConflict"),
            (InvalidReason::InvalidBootstrap, "InvalidBootstrap"),
            (InvalidReason::BootstrapBackupNotFound, "BootstrapBackupNotFound"),
            (InvalidReason::BootstrapBackupFailed, "BootstrapBackupFailed"),
            (InvalidReason::ServiceNamespaceNotFound, "ServiceNamespaceNotFound"),
            (InvalidReason::ServiceNamespaceNotOptedIn, "ServiceNamespaceNotOptedIn"),
            (InvalidReason::ServiceNamespaceNotWatched, "ServiceNamespaceNotWatched"),
            (InvalidReason::TlsDowngrade, "TlsDowngrade"),
        ];
        assert_eq!(reasons.len(), InvalidReason::ALL.len(), "a new InvalidReason needs a row here");
        for (reason, word) in reasons {
            assert_eq!(reason.as_str(), word);
        }
    }

    #[test]
    fn no_word_is_both_a_reason_and_an_invalid_reason() {
        for invalid in InvalidReason::ALL {
            assert!(!Reason::ALL.iter().any(|r| r.as_str() == invalid.as_str()), "{invalid}");
        }
    }
}
