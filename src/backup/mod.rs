//! Backups and restores: the engine's own dump tool streamed through zstd to
//! a directory or S3-compatible storage, with a manifest beside the data.
//! Nothing is held in memory whole, and nothing older is touched until a new
//! backup has been read back and verified.

pub mod cli;
mod error;
pub mod inventory;
pub(crate) mod layout;
mod pipeline;
pub mod progress;
mod reach;
mod restore;
pub mod retention;
mod store;
mod trailer;

pub use error::BackupError;
pub use inventory::{BackupEntry, BackupState};
pub use layout::{Manifest, backup_id};
pub use pipeline::{BackupRequest, backup};
pub use restore::{RestoreInto, RestoreRequest, Restored, restore};
pub use retention::Retention;
pub use store::{Destination, Location};
