//! What can go wrong, in words that say what to fix. No message carries a
//! password: tool output is passed through [`redact`] first.

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("cannot use the backup destination {destination}: {message}")]
    Destination { destination: String, message: String },
    #[error("cannot start {program}: {message} (is it installed and on PATH?)")]
    Spawn { program: &'static str, message: String },
    #[error("{program} failed ({status}): {stderr}")]
    Tool { program: &'static str, status: String, stderr: String },
    #[error("reading or writing the dump stream failed: {0}")]
    Stream(String),
    #[error("backup {id} did not verify after upload: {message}; it was removed and no older backup was deleted")]
    Verify { id: String, message: String },
    #[error(
        "backup {id} is corrupt: its data has sha256 {actual} but the manifest says {expected}; nothing was restored"
    )]
    Checksum { id: String, expected: String, actual: String },
    #[error("no backup {wanted} at {destination}")]
    NotFound { wanted: String, destination: String },
    #[error("backup {id} holds a {found} dump and cannot be restored into {wanted}")]
    WrongEngine { id: String, found: String, wanted: String },
    #[error("backup {id} changed while it was being restored; nothing more was read")]
    Changed { id: String },
    /// A restore that cannot work this way.
    #[error("{0}")]
    Refused(String),
    /// A restore into a target that holds data, without `--replace`.
    #[error(
        "{contents}; {advice}, or pass --replace (SERVICEDB_RESTORE_REPLACE=true) to replace it after a safety backup; nothing was restored"
    )]
    Occupied { contents: String, advice: &'static str },
    #[error(transparent)]
    Admin(#[from] crate::engine::admin::AdminError),
    /// A restore with `--replace` failed after the safety backup was taken.
    #[error("{source} (safety backup {id} holds what was there before the restore)")]
    AfterSafetyBackup { id: String, source: Box<BackupError> },
}

/// Removes every occurrence of `secret` from tool output before it reaches
/// a log or an error.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.is_empty() { text.to_string() } else { text.replace(secret, "<redacted>") }
}
