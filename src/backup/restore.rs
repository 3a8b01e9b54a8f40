//! `servicedb restore`: find the backup, check its checksum end to end
//! before loading a single byte, then stream it into the engine. The second
//! read is pinned to the object the first read verified (its ETag).

use super::error::redact;
use super::layout::{Manifest, data_path, manifest_path};
use super::pipeline::{checksum, complete_backups, finish_tool, object_reader, spawn, stderr_tail};
use super::{BackupError, Location};
use crate::api;
use crate::engine::{self, Connection, RestoreMethod};
use async_compression::tokio::bufread::ZstdDecoder;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt};
use std::process::Stdio;
use tokio::io::{AsyncRead, BufReader};

pub enum RestoreInto<'a> {
    /// A running server; `owner` will own what the restore creates.
    Server { connection: Connection<'a>, owner: &'a str },
    /// The data directory of an instance that has not started yet.
    Directory(&'a std::path::Path),
}

pub struct RestoreRequest<'a> {
    pub engine: api::Engine,
    pub location: &'a Location,
    /// A backup id; the newest complete backup when `None`.
    pub backup: Option<&'a str>,
    pub into: RestoreInto<'a>,
}

async fn read_manifest(location: &Location, wanted: Option<&str>) -> Result<Manifest, BackupError> {
    let id = match wanted {
        Some(id) => id.to_string(),
        None => complete_backups(location).await?.pop().map(|(id, _)| id).ok_or_else(|| BackupError::NotFound {
            wanted: "(none complete)".into(),
            destination: location.display.clone(),
        })?,
    };
    let not_found = || BackupError::NotFound { wanted: id.clone(), destination: location.display.clone() };
    let got = match location.store.get(&manifest_path(&location.base, &id)).await {
        Err(object_store::Error::NotFound { .. }) => return Err(not_found()),
        other => other.map_err(|e| location.error(e))?,
    };
    let body = got.bytes().await.map_err(|e| location.error(e))?;
    serde_json::from_slice(&body).map_err(|e| location.error(format!("manifest of {id} is unreadable: {e}")))
}

/// The verified data object, decompressed, as a reader.
async fn open_verified(location: &Location, manifest: &Manifest) -> Result<impl AsyncRead + Unpin, BackupError> {
    let data = data_path(&location.base, &manifest.id);
    let (actual, _, etag) = checksum(location, &data).await?;
    if actual != manifest.sha256 {
        return Err(BackupError::Checksum { id: manifest.id.clone(), expected: manifest.sha256.clone(), actual });
    }
    let options = GetOptions { if_match: etag, ..GetOptions::default() };
    let got = match location.store.get_opts(&data, options).await {
        Err(object_store::Error::Precondition { .. }) => return Err(BackupError::Changed { id: manifest.id.clone() }),
        other => other.map_err(|e| location.error(e))?,
    };
    Ok(ZstdDecoder::new(BufReader::with_capacity(256 << 10, object_reader(got))))
}

pub async fn restore(request: &RestoreRequest<'_>) -> Result<Manifest, BackupError> {
    let RestoreRequest { engine: kind, location, backup, into } = request;
    let manifest = read_manifest(location, *backup).await?;
    if manifest.engine != kind.as_str() {
        return Err(BackupError::WrongEngine {
            id: manifest.id,
            found: manifest.engine,
            wanted: kind.as_str().to_string(),
        });
    }
    let engine = engine::for_kind(*kind);
    let (connection, owner) = match into {
        RestoreInto::Server { connection, owner } => (connection, *owner),
        RestoreInto::Directory(_) => (&Connection::NONE, ""),
    };
    match (engine.restore_method(connection, owner), into) {
        (RestoreMethod::Stream(command), RestoreInto::Server { connection, .. }) => {
            let mut reader = open_verified(location, &manifest).await?;
            tracing::info!(id = %manifest.id, tool = command.program, "checksum verified; loading");
            let mut child = spawn(&command, Stdio::piped(), Stdio::null())?;
            let stderr = stderr_tail(&mut child);
            let mut stdin =
                child.stdin.take().ok_or_else(|| BackupError::Stream("the restore tool has no stdin".into()))?;
            let copied = tokio::io::copy(&mut reader, &mut stdin).await;
            drop(stdin);
            // The tool's own message says more than a broken pipe.
            finish_tool(child, stderr, &command, connection.password).await?;
            copied.map_err(|e| BackupError::Stream(redact(&e.to_string(), connection.password)))?;
        }
        (RestoreMethod::DataFile { file, beside }, RestoreInto::Directory(dir)) => {
            write_data_files(location, &manifest, dir, file, beside).await?;
        }
        (RestoreMethod::Stream(_), RestoreInto::Directory(_)) => {
            return Err(BackupError::Refused(format!(
                "{} backups load into a running server: give its address, not a directory",
                kind.as_str()
            )));
        }
        (RestoreMethod::DataFile { .. }, RestoreInto::Server { .. }) => {
            return Err(BackupError::Refused(format!(
                "{} loads a backup only at start: restore into the data directory of a new instance",
                kind.as_str()
            )));
        }
    }
    tracing::info!(id = %manifest.id, "restore complete");
    Ok(manifest)
}

/// The first file a restore into `dir` would write that is already there.
fn existing(dir: &std::path::Path, file: &str, beside: &[(&str, &str)]) -> Option<std::path::PathBuf> {
    std::iter::once(file).chain(beside.iter().map(|(name, _)| *name)).map(|name| dir.join(name)).find(|p| p.exists())
}

/// Whether `dir` already holds what a restore into it would write.
pub fn data_present(kind: api::Engine, dir: &std::path::Path) -> bool {
    match engine::for_kind(kind).restore_method(&Connection::NONE, "") {
        RestoreMethod::DataFile { file, beside } => existing(dir, file, beside).is_some(),
        RestoreMethod::Stream(_) => false,
    }
}

/// Writes the dump as `file` under `dir` (through a temporary name, then a
/// rename) and the small files beside it, refusing to replace any data.
async fn write_data_files(
    location: &Location,
    manifest: &Manifest,
    dir: &std::path::Path,
    file: &str,
    beside: &[(&str, &str)],
) -> Result<(), BackupError> {
    if let Some(path) = existing(dir, file, beside) {
        return Err(BackupError::Refused(format!(
            "{} already exists; refusing to overwrite data (restore only into a new instance)",
            path.display()
        )));
    }
    let target = dir.join(file);
    let mut reader = open_verified(location, manifest).await?;
    let partial = target.with_extension("partial");
    let io = |e: std::io::Error| BackupError::Stream(format!("{}: {e}", partial.display()));
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(io)?;
    }
    let mut out = tokio::fs::File::create(&partial).await.map_err(io)?;
    let copied = tokio::io::copy(&mut reader, &mut out).await.and(out.sync_all().await);
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(io(e));
    }
    tokio::fs::rename(&partial, &target).await.map_err(io)?;
    for (name, content) in beside {
        tokio::fs::write(dir.join(name), content).await.map_err(io)?;
    }
    Ok(())
}
