//! `servicedb backup`: dump -> zstd -> sha256 -> multipart upload, in
//! bounded chunks; then read back and verify; then the manifest; only then
//! prune old backups.

use super::error::redact;
use super::inventory::{Objects, orphans, scan};
use super::layout::{DATA, Manifest, backup_id, data_path, id_time, manifest_path};
use super::retention::{Retention, to_prune};
use super::{BackupError, Location, progress};
use crate::api;
use crate::engine::{self, Connection, ToolCommand};
use async_compression::Level;
use async_compression::tokio::bufread::ZstdEncoder;
use async_compression::zstd::CParameter;
use futures::TryStreamExt;
use k8s_openapi::jiff::Timestamp;
use object_store::path::Path;
use object_store::{GetResult, GetResultPayload, ObjectStoreExt, WriteMultipart};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};

/// Size of the parts uploaded to S3; at most [`PARTS_IN_FLIGHT`] at a time,
/// which bounds memory whatever the database size.
const PART_BYTES: usize = 8 << 20;
const PARTS_IN_FLIGHT: usize = 2;
const READ_BYTES: usize = 256 << 10;

pub struct BackupRequest<'a> {
    pub engine: api::Engine,
    pub engine_version: &'a str,
    /// The backup login and the service's database.
    pub connection: Connection<'a>,
    pub location: &'a Location,
    pub retention: Retention,
}

pub(super) fn spawn(command: &ToolCommand, stdin: Stdio, stdout: Stdio) -> Result<Child, BackupError> {
    Command::new(command.program)
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(stdin)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| BackupError::Spawn { program: command.program, message: e.to_string() })
}

/// The last 8 KiB of what a tool printed on stderr (enough to say why it failed).
pub(super) fn stderr_tail(child: &mut Child) -> tokio::task::JoinHandle<String> {
    let stderr = child.stderr.take();
    tokio::spawn(async move {
        let Some(mut stderr) = stderr else { return String::new() };
        let mut tail = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = stderr.read(&mut buf).await {
            if n == 0 {
                break;
            }
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 8192 {
                tail.drain(..tail.len() - 8192);
            }
        }
        String::from_utf8_lossy(&tail).trim().to_string()
    })
}

/// Waits for the tool and turns a failure into an error with its own words.
pub(super) async fn finish_tool(
    mut child: Child,
    stderr: tokio::task::JoinHandle<String>,
    command: &ToolCommand,
    secret: &str,
) -> Result<(), BackupError> {
    let status = child.wait().await.map_err(|e| BackupError::Stream(e.to_string()))?;
    let stderr = stderr.await.unwrap_or_default();
    if status.success() {
        return Ok(());
    }
    Err(BackupError::Tool { program: command.program, status: status.to_string(), stderr: redact(&stderr, secret) })
}

fn random_u16() -> u16 {
    let mut bytes = [0u8; 2];
    // An id collision needs the same second too; without randomness, 0 is fine.
    let _ = getrandom::fill(&mut bytes);
    u16::from_le_bytes(bytes)
}

fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Streams `reader` into a new object at `path`, returning (sha256, bytes).
/// The upload is aborted, leaving nothing, when anything fails.
/// Progress is counted by the caller, before compression (see [`counted`]).
async fn upload<R: AsyncRead + Unpin>(
    location: &Location,
    path: &Path,
    mut reader: R,
) -> Result<(String, u64), BackupError> {
    let fail = |e: object_store::Error| location.error(e);
    let mut writer =
        WriteMultipart::new_with_chunk_size(location.store.put_multipart(path).await.map_err(fail)?, PART_BYTES);
    let mut sha = Sha256::new();
    let mut stored = 0u64;
    let mut buf = vec![0u8; READ_BYTES];
    let copied: Result<(), BackupError> = async {
        loop {
            let n = reader.read(&mut buf).await.map_err(|e| BackupError::Stream(e.to_string()))?;
            if n == 0 {
                return Ok(());
            }
            sha.update(&buf[..n]);
            stored += n as u64;
            writer.wait_for_capacity(PARTS_IN_FLIGHT).await.map_err(fail)?;
            writer.write(&buf[..n]);
        }
    }
    .await;
    match copied {
        Ok(()) => {
            writer.finish().await.map_err(fail)?;
            Ok((hex(&sha.finalize()), stored))
        }
        Err(e) => {
            let _ = writer.abort().await;
            Err(e)
        }
    }
}

/// Reads an object back whole (streaming) and returns (sha256, bytes, etag).
pub(super) async fn checksum(location: &Location, path: &Path) -> Result<(String, u64, Option<String>), BackupError> {
    let got = location.store.get(path).await.map_err(|e| location.error(e))?;
    let etag = got.meta.e_tag.clone();
    let mut reader = object_reader(got);
    let mut sha = Sha256::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; READ_BYTES];
    loop {
        let n = reader.read(&mut buf).await.map_err(|e| location.error(e))?;
        if n == 0 {
            break;
        }
        sha.update(&buf[..n]);
        size += n as u64;
        progress::add(n as u64);
    }
    Ok((hex(&sha.finalize()), size, etag))
}

/// An object's content as a reader. A file is read directly in large
/// chunks (the store's own stream reads 8 KiB at a time).
pub(super) fn object_reader(got: GetResult) -> Box<dyn AsyncRead + Send + Unpin> {
    match got.payload {
        GetResultPayload::File(file, _) => Box::new(tokio::fs::File::from_std(file)),
        GetResultPayload::Stream(stream) => {
            Box::new(tokio_util::io::StreamReader::new(stream.map_err(std::io::Error::other)))
        }
    }
}

/// A 1 MiB pipe instead of Linux's 64 KiB: fewer, larger reads of the dump.
/// Best effort: the default works too, only with more system calls.
fn widen_pipe(pipe: &impl std::os::fd::AsRawFd) {
    // SAFETY: F_SETPIPE_SZ on a pipe descriptor we own changes only its capacity.
    let _ = unsafe { libc::fcntl(pipe.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
}

/// zstd at its default level, compressing on a worker thread: the whole
/// input is then one contiguous window per job (faster than streaming
/// through a ring buffer), and reading, hashing and uploading overlap it.
fn compress<R: AsyncRead + Unpin>(input: R) -> ZstdEncoder<BufReader<R>> {
    let params = [CParameter::nb_workers(1)];
    ZstdEncoder::with_quality_and_params(BufReader::with_capacity(READ_BYTES, input), Level::Default, &params)
}

pub async fn backup(request: &BackupRequest<'_>) -> Result<Manifest, BackupError> {
    let BackupRequest { engine: kind, engine_version, connection, location, retention } = request;
    let command = engine::for_kind(*kind).dump_command(connection);
    let _finish = progress::FinishOnDrop;
    let started_at = Timestamp::now();
    let started = Instant::now();
    let id = backup_id(started_at, random_u16());
    let data = data_path(&location.base, &id);
    tracing::info!(%id, tool = command.program, destination = %location.display, "backup started");

    let mut child = spawn(&command, Stdio::null(), Stdio::piped())?;
    let stderr = stderr_tail(&mut child);
    let stdout = child.stdout.take().ok_or_else(|| BackupError::Stream("the dump tool has no stdout".into()))?;
    widen_pipe(&stdout);
    let dumped = Arc::new(AtomicU64::new(0));
    progress::phase("dumping+uploading");
    let counted = counted(stdout, dumped.clone());
    let uploaded = match command.trailer {
        Some(trailer) => {
            let trimmed = super::trailer::TrimTrailer::new(counted, trailer);
            upload(location, &data, compress(trimmed)).await
        }
        None => upload(location, &data, compress(counted)).await,
    };
    let tool = finish_tool(child, stderr, &command, connection.password).await;
    let (sha256, stored_bytes) = match (uploaded, tool) {
        (Ok(done), Ok(())) => done,
        // The tool's own message says more than a broken pipe.
        (_, Err(e)) | (Err(e), Ok(())) => {
            let _ = location.store.delete(&data).await;
            return Err(e);
        }
    };

    let streamed = started.elapsed();
    let what = Described {
        engine: *kind,
        engine_version,
        database: connection.database,
        tool: command.program,
        started_at,
        dump_bytes: dumped.load(Ordering::Relaxed),
    };
    let manifest = seal(location, &id, what, &sha256, stored_bytes).await?;
    let verified = started.elapsed() - streamed;
    tracing::info!(
        %id,
        dump_bytes = manifest.dump_bytes,
        stored_bytes,
        streamed_s = streamed.as_secs_f32(),
        verified_s = verified.as_secs_f32(),
        "backup verified and complete"
    );

    // The new backup is safe; a failed prune only leaves extra old backups.
    progress::phase("pruning");
    if let Err(e) = prune(location, *retention, &id).await {
        tracing::warn!(error = %e, "pruning old backups failed; they are kept");
    }
    Ok(manifest)
}

/// Counts what passes, for the manifest and the progress line.
fn counted<R: AsyncRead>(reader: R, total: Arc<AtomicU64>) -> impl AsyncRead {
    tokio_util::io::InspectReader::new(reader, move |bytes: &[u8]| {
        total.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        progress::add(bytes.len() as u64);
    })
}

async fn write_manifest(location: &Location, manifest: &Manifest) -> Result<(), BackupError> {
    progress::phase("writing manifest");
    let body = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Stream(e.to_string()))?;
    location
        .store
        .put(&manifest_path(&location.base, &manifest.id), body.into())
        .await
        .map_err(|e| location.error(e))?;
    Ok(())
}

/// A backup of files as they are (a stopped Redis's data files, in the order
/// given, as one stream): the same upload, verification and manifest as
/// [`backup`], never pruning; the manifest's tool is `data files`.
pub async fn backup_files(
    kind: api::Engine,
    database: &str,
    files: &[std::path::PathBuf],
    location: &Location,
) -> Result<Manifest, BackupError> {
    let started_at = Timestamp::now();
    let id = backup_id(started_at, random_u16());
    let data = data_path(&location.base, &id);
    tracing::info!(%id, files = files.len(), destination = %location.display, "backup of data files started");
    let mut reader: Box<dyn AsyncRead + Send + Unpin> = Box::new(tokio::io::empty());
    for file in files {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(|e| BackupError::Stream(format!("cannot read {}: {e}", file.display())))?;
        reader = Box::new(reader.chain(opened));
    }
    let dumped = Arc::new(AtomicU64::new(0));
    progress::phase("reading+uploading");
    let (sha256, stored_bytes) = upload(location, &data, compress(counted(reader, dumped.clone()))).await?;
    let what = Described {
        engine: kind,
        engine_version: "",
        database,
        tool: "data files",
        started_at,
        dump_bytes: dumped.load(Ordering::Relaxed),
    };
    seal(location, &id, what, &sha256, stored_bytes).await
}

/// What a manifest records about the source of a backup.
struct Described<'a> {
    engine: api::Engine,
    engine_version: &'a str,
    database: &'a str,
    tool: &'a str,
    started_at: Timestamp,
    dump_bytes: u64,
}

/// Reads the uploaded data back, then writes the manifest: from here on it
/// is a backup. The data is removed when it does not verify.
async fn seal(
    location: &Location,
    id: &str,
    what: Described<'_>,
    sha256: &str,
    stored_bytes: u64,
) -> Result<Manifest, BackupError> {
    progress::phase("verifying");
    verify(location, &data_path(&location.base, id), id, sha256, stored_bytes).await?;
    let manifest = Manifest {
        id: id.to_string(),
        engine: what.engine.as_str().to_string(),
        engine_version: what.engine_version.to_string(),
        database: what.database.to_string(),
        tool: what.tool.to_string(),
        compression: "zstd".into(),
        started_at: what.started_at,
        finished_at: Timestamp::now(),
        dump_bytes: what.dump_bytes,
        stored_bytes,
        sha256: sha256.to_string(),
        location: location.describe(id, DATA),
    };
    write_manifest(location, &manifest).await?;
    Ok(manifest)
}

async fn verify(location: &Location, data: &Path, id: &str, sha256: &str, size: u64) -> Result<(), BackupError> {
    let outcome = checksum(location, data).await;
    let problem = match outcome {
        Ok((actual, actual_size, _)) if actual == sha256 && actual_size == size => return Ok(()),
        Ok((actual, actual_size, _)) => {
            format!("read back {actual_size} bytes with sha256 {actual}, wrote {size} bytes with sha256 {sha256}")
        }
        Err(e) => e.to_string(),
    };
    let _ = location.store.delete(data).await;
    Err(BackupError::Verify { id: id.to_string(), message: problem })
}

/// The complete backups (those with a manifest) under the location, by id.
pub(super) async fn complete_backups(location: &Location) -> Result<Vec<(String, Timestamp)>, BackupError> {
    Ok(with_manifest(&scan(location).await?))
}

fn with_manifest(ids: &BTreeMap<String, Objects>) -> Vec<(String, Timestamp)> {
    ids.iter()
        .filter(|(_, objects)| objects.manifest)
        .filter_map(|(id, _)| id_time(id).map(|t| (id.clone(), t)))
        .collect()
}

/// Deletes what retention lets go, then the data objects that lost their
/// manifest in an interrupted prune (never anything at or after `newest`).
async fn prune(location: &Location, retention: Retention, newest: &str) -> Result<(), BackupError> {
    let ids = scan(location).await?;
    for id in to_prune(&with_manifest(&ids), retention, Timestamp::now()) {
        if id.as_str() >= newest {
            continue;
        }
        // The manifest first: a half-pruned backup is then no backup at all,
        // never a manifest that points at nothing; its data is an orphan
        // that the next prune removes.
        for path in [manifest_path(&location.base, &id), data_path(&location.base, &id)] {
            location.store.delete(&path).await.map_err(|e| location.error(e))?;
        }
        tracing::info!(%id, "pruned by retention");
    }
    for id in orphans(&ids).into_iter().filter(|id| id.as_str() < newest) {
        location.store.delete(&data_path(&location.base, &id)).await.map_err(|e| location.error(e))?;
        tracing::info!(%id, "removed data left without a manifest by an interrupted prune");
    }
    Ok(())
}
