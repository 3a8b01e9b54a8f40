//! Real servers on loopback for servicedb's tests (`tests/`) and for the
//! e2e suite's stand-ins (`e2e/src/standin.rs`): PostgreSQL, MariaDB, Redis
//! (Debian's packages, `make deps`) and versitygw for S3 (`e2e/tools.sh
//! versitygw`). Each launcher starts its server on a free loopback port in a
//! private temporary directory, waits a bounded time until it accepts, and
//! stops it by PID when dropped.
//!
//! Launchers return errors rather than panic: the e2e harness runs for a
//! long time and reports a stand-in that did not start. The helpers that
//! only assertions use (`sql_as`, `root`, `cmd`, ...) panic with what failed,
//! as test code does.

pub mod mariadb;
pub mod net;
pub mod postgres;
pub mod process;
pub mod redis;
pub mod s3;
pub mod tls;

pub use net::{free_port, wait_for_port};
pub use process::Process;

use std::path::Path;
use std::process::{Command, Output};

/// Why a server could not be started or driven, in words that say what to do.
#[derive(Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

// The message itself, so that `.expect()` in a test prints it readably.
impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl From<Error> for String {
    fn from(e: Error) -> String {
        e.0
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// An `Error` saying `what` failed and why.
pub(crate) fn failed(what: &str, why: impl std::fmt::Display) -> Error {
    Error(format!("{what}: {why}"))
}

/// Runs a command to completion; Err with its stderr unless it succeeded.
pub(crate) fn run(command: &mut Command, what: &str) -> Result<Output> {
    let out = command.output().map_err(|e| failed(what, e))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(failed(what, format!("{}: {}", out.status, String::from_utf8_lossy(&out.stderr).trim())))
    }
}

/// A private temporary directory, removed when dropped.
pub(crate) fn temp_dir(prefix: &str) -> Result<tempfile::TempDir> {
    tempfile::Builder::new().prefix(prefix).tempdir().map_err(|e| failed("a temporary directory", e))
}

/// Whether this process runs as root (the servers then run as their users).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// The files under `root` (hidden ones left out), relative to it, sorted.
pub fn files_under(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if !entry.file_name().to_string_lossy().starts_with('.')
                && let Ok(relative) = path.strip_prefix(root)
            {
                out.push(relative.display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
