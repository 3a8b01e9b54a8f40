//! `servicedb restore`: find the backup, look at what the target already
//! holds (and refuse, unless `--replace`, then take a safety backup of it),
//! check the backup's checksum end to end before loading a single byte,
//! then stream it into the engine so that a failure leaves nothing behind:
//! - PostgreSQL: `pg_restore --single-transaction` into an empty database:
//!   one transaction, so a failure rolls everything back. A scratch database
//!   and a rename would need every client disconnected and the database's
//!   owner, grants and settings copied; a transaction needs neither. With
//!   `--replace` the dump goes through `pg_restore --file=-` into `psql`
//!   after a prelude that drops the old contents, all in one transaction
//!   that commits only when pg_restore finished cleanly (otherwise psql is
//!   killed before the end of its input: the server rolls back).
//! - MySQL/MariaDB (no transactional DDL): what the schema holds is set
//!   aside in a schema of its own, the dump loads, then the set-aside copy
//!   is dropped, or after a failure what the load left is dropped and the
//!   old contents are put back (see `engine::admin::mysql`). One restore
//!   of a database at a time; one that was killed is undone by the next.
//! - Redis: the dump is written whole under a temporary name, then renamed
//!   into the data directory of an instance that has not started.
//!
//! The second read is pinned to the object the first read verified (its ETag).

use super::error::redact;
use super::layout::{Manifest, data_path, manifest_path};
use super::pipeline::{backup_files, checksum, complete_backups, finish_tool, object_reader, spawn, stderr_tail};
use super::{BackupError, BackupRequest, Location, Retention, progress};
use crate::api;
use crate::engine::admin::{self, Contents, Login, Place, Target};
use crate::engine::{self, Connection, RestoreMethod, ToolCommand};
use async_compression::tokio::bufread::ZstdDecoder;
use object_store::{GetOptions, ObjectStore, ObjectStoreExt};
use std::path::Path;
use std::process::Stdio;
use tokio::io::{AsyncRead, AsyncWriteExt, BufReader};

pub enum RestoreInto<'a> {
    /// A running server; `owner` will own what the restore creates.
    Server { connection: Connection<'a>, owner: &'a str },
    /// The data directory of an instance that has not started yet.
    Directory(&'a Path),
}

pub struct RestoreRequest<'a> {
    pub engine: api::Engine,
    pub location: &'a Location,
    /// A backup id; the newest complete backup when `None`.
    pub backup: Option<&'a str>,
    pub into: RestoreInto<'a>,
    /// Replace what the target holds, after a safety backup of it.
    pub replace: bool,
}

/// What was restored, and the backup of what the target held before.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub safety_backup: Option<Manifest>,
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

/// Reads the data object whole and checks its sha256; returns its ETag.
async fn verify_checksum(location: &Location, manifest: &Manifest) -> Result<Option<String>, BackupError> {
    progress::phase("verifying checksum");
    let (actual, _, etag) = checksum(location, &data_path(&location.base, &manifest.id)).await?;
    if actual != manifest.sha256 {
        return Err(BackupError::Checksum { id: manifest.id.clone(), expected: manifest.sha256.clone(), actual });
    }
    Ok(etag)
}

/// The data object verified before (same ETag), decompressed, counted.
async fn open_verified(
    location: &Location,
    manifest: &Manifest,
    etag: Option<String>,
) -> Result<impl AsyncRead + Unpin + use<>, BackupError> {
    let options = GetOptions { if_match: etag, ..GetOptions::default() };
    let got = match location.store.get_opts(&data_path(&location.base, &manifest.id), options).await {
        Err(object_store::Error::Precondition { .. }) => return Err(BackupError::Changed { id: manifest.id.clone() }),
        other => other.map_err(|e| location.error(e))?,
    };
    let decoded = ZstdDecoder::new(BufReader::with_capacity(256 << 10, object_reader(got)));
    Ok(tokio_util::io::InspectReader::new(decoded, |bytes: &[u8]| progress::add(bytes.len() as u64)))
}

/// What to tell a user whose target holds data.
fn advice(kind: api::Engine) -> &'static str {
    match kind {
        api::Engine::Redis => "restore into a new instance",
        _ => "restore into an empty database or a new instance",
    }
}

/// The operator-side driver's view of `c`: with TLS, it verifies the
/// server against the same CA file the tools read.
fn admin_parts(c: &Connection<'_>) -> Result<(Target, Login), BackupError> {
    let tls = match c.tls {
        engine::ClientTls::Verify(Some(file)) => {
            let ca_pem = std::fs::read_to_string(file)
                .map_err(|e| admin::AdminError::Io { path: file.to_string(), message: e.to_string() })?;
            Some(admin::TargetTls { ca_pem, server_name: c.host.to_string() })
        }
        engine::ClientTls::Verify(None) | engine::ClientTls::Off => None,
    };
    Ok((
        Target { host: c.host.to_string(), port: c.port, tls },
        Login { username: c.username.to_string(), password: c.password.to_string() },
    ))
}

pub async fn restore(request: &RestoreRequest<'_>) -> Result<Restored, BackupError> {
    let RestoreRequest { engine: kind, location, backup, into, replace } = request;
    let _finish = progress::FinishOnDrop;
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
    let method = engine.restore_method(connection, owner);
    match (&method, into) {
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
        _ => {}
    }

    progress::phase("checking target");
    let _exclusive = exclusive(*kind, into).await?;
    let (target, login) = admin_parts(connection)?;
    let place = match into {
        RestoreInto::Server { connection, .. } => {
            Place::Server { target: &target, admin: &login, database: connection.database }
        }
        RestoreInto::Directory(dir) => Place::DataDir(dir),
    };
    let held = engine.contents(place).await?;
    if !held.is_empty() && !replace {
        return Err(BackupError::Occupied { contents: held.to_string(), advice: advice(*kind) });
    }
    let etag = verify_checksum(location, &manifest).await?;
    let safety_backup = if held.is_empty() { None } else { Some(safety_backup(*kind, &held, into, location).await?) };

    let loaded = match (method, into) {
        (RestoreMethod::Stream(command), RestoreInto::Server { connection, owner }) => {
            match open_verified(location, &manifest, etag).await {
                Err(e) => Err(e),
                Ok(reader) => match kind {
                    api::Engine::Mysql | api::Engine::Mariadb => {
                        load_setting_aside(*kind, &command, connection, reader, *replace).await
                    }
                    api::Engine::Postgres if safety_backup.is_some() => {
                        let (script, psql) = engine::postgres::replace_commands(connection, owner);
                        progress::phase("loading");
                        load_replacing(&script, &psql, admin::POSTGRES_REPLACE_PRELUDE, reader, connection.password)
                            .await
                    }
                    _ => {
                        progress::phase("loading");
                        load(&command, reader, connection.password).await
                    }
                },
            }
        }
        (RestoreMethod::DataFile { file, beside }, RestoreInto::Directory(dir)) => {
            write_data_files(location, &manifest, etag, dir, file, beside).await
        }
        _ => Ok(()),
    };
    match (loaded, &safety_backup) {
        (Ok(()), _) => {}
        (Err(e), Some(safety)) => {
            return Err(BackupError::AfterSafetyBackup { id: safety.id.clone(), source: Box::new(e) });
        }
        (Err(e), None) => return Err(e),
    }
    tracing::info!(id = %manifest.id, "restore complete");
    Ok(Restored { manifest, safety_backup })
}

/// A backup of what the target holds now, to the same destination, never
/// pruning: through the engine's dump tool, or (Redis, not running) its
/// data files as they are.
async fn safety_backup(
    kind: api::Engine,
    held: &Contents,
    into: &RestoreInto<'_>,
    location: &Location,
) -> Result<Manifest, BackupError> {
    let _scope = progress::scope("safety backup");
    tracing::info!(holds = %held, "taking a safety backup before replacing");
    let manifest = match into {
        RestoreInto::Server { connection, .. } => {
            let request = BackupRequest {
                engine: kind,
                engine_version: "",
                connection: connection.clone(),
                location,
                retention: Retention::default(),
            };
            super::backup(&request).await?
        }
        RestoreInto::Directory(dir) => {
            let files = admin::redis_keyspace_files(dir)?;
            backup_files(kind, "0", &files, location).await?
        }
    };
    tracing::info!(id = %manifest.id, "safety backup complete");
    Ok(manifest)
}

/// Streams `reader` into the tool's standard input.
async fn load(command: &ToolCommand, mut reader: impl AsyncRead + Unpin, secret: &str) -> Result<(), BackupError> {
    let mut child = spawn(command, Stdio::piped(), Stdio::null())?;
    let stderr = stderr_tail(&mut child);
    let mut stdin = child.stdin.take().ok_or_else(|| BackupError::Stream("the restore tool has no stdin".into()))?;
    let copied = tokio::io::copy(&mut reader, &mut stdin).await;
    drop(stdin);
    // The tool's own message says more than a broken pipe.
    finish_tool(child, stderr, command, secret).await?;
    copied.map_err(|e| BackupError::Stream(redact(&e.to_string(), secret)))?;
    Ok(())
}

/// MySQL/MariaDB: set aside what the schema holds, load into it, then drop
/// what was set aside, or, when the load failed, drop what it left and put
/// the old contents back.
async fn load_setting_aside(
    kind: api::Engine,
    command: &ToolCommand,
    connection: &Connection<'_>,
    reader: impl AsyncRead + Unpin,
    replace: bool,
) -> Result<(), BackupError> {
    let (target, login) = admin_parts(connection)?;
    if !replace {
        // Written since the check: not ours to set aside and drop.
        let place = Place::Server { target: &target, admin: &login, database: connection.database };
        let held = engine::for_kind(kind).contents(place).await?;
        if !held.is_empty() {
            return Err(BackupError::Occupied { contents: held.to_string(), advice: advice(kind) });
        }
    }
    progress::phase("setting aside");
    let aside = admin::mysql_stash(&target, &login, connection.database).await?;
    progress::phase("loading");
    match load(command, reader, connection.password).await {
        Ok(()) => {
            progress::phase("dropping what was replaced");
            if let Err(e) = admin::mysql_drop_stash(&target, &login, connection.database).await {
                tracing::warn!(%aside, error = %e, "the restore is complete, but the set-aside schema remains");
            }
            Ok(())
        }
        Err(e) => {
            progress::phase("putting back");
            let put_back = async {
                admin::mysql_clear(&target, &login, connection.database).await?;
                admin::mysql_unstash(&target, &login, connection.database).await
            };
            if let Err(undo) = put_back.await {
                return Err(BackupError::Refused(format!(
                    "{e}; undoing the partial load failed too: {undo}; the old contents are in schema {aside}, \
                     and the next restore of this database puts them back first"
                )));
            }
            Err(e)
        }
    }
}

/// MySQL/MariaDB: one restore of a database at a time, and what a killed
/// one left undone first. The lock lasts as long as the returned value.
async fn exclusive(kind: api::Engine, into: &RestoreInto<'_>) -> Result<Option<admin::MysqlRestoreLock>, BackupError> {
    let (api::Engine::Mysql | api::Engine::Mariadb, RestoreInto::Server { connection, .. }) = (kind, into) else {
        return Ok(None);
    };
    let (target, login) = admin_parts(connection)?;
    let lock = admin::mysql_lock(&target, &login, connection.database).await?;
    if admin::mysql_recover(&target, &login, connection.database).await? {
        tracing::warn!(
            database = connection.database,
            "an earlier restore was interrupted: what it loaded was dropped and what it had set aside put back"
        );
    }
    Ok(Some(lock))
}

/// Streams the dump through `script` (a dump to SQL) into `psql`, after
/// `prelude` (which opens the transaction). psql sees the end of its input,
/// and the script's COMMIT, only when the script tool succeeded; otherwise
/// it is killed mid-transaction and the server rolls back.
async fn load_replacing(
    script: &ToolCommand,
    psql: &ToolCommand,
    prelude: &str,
    mut reader: impl AsyncRead + Unpin,
    secret: &str,
) -> Result<(), BackupError> {
    let missing = |what: &str| BackupError::Stream(format!("the restore tools have no {what}"));
    let mut converter = spawn(script, Stdio::piped(), Stdio::piped())?;
    let converter_stderr = stderr_tail(&mut converter);
    let mut sql = spawn(psql, Stdio::piped(), Stdio::null())?;
    let sql_stderr = stderr_tail(&mut sql);
    let converter_in = converter.stdin.take().ok_or_else(|| missing("stdin"))?;
    let converter_out = converter.stdout.take().ok_or_else(|| missing("stdout"))?;
    let mut sql_in = sql.stdin.take().ok_or_else(|| missing("stdin"))?;
    let feed = async {
        let mut input = converter_in;
        tokio::io::copy(&mut reader, &mut input).await
    };
    let forward = async {
        // Owned here: when psql stops early, the converter's output closes too.
        let mut output = converter_out;
        sql_in.write_all(prelude.as_bytes()).await?;
        tokio::io::copy(&mut output, &mut sql_in).await?;
        sql_in.flush().await
    };
    let (fed, forwarded) = tokio::join!(feed, forward);
    let converted = finish_tool(converter, converter_stderr, script, secret).await;
    if converted.is_ok() && fed.is_ok() && forwarded.is_ok() {
        drop(sql_in);
        return finish_tool(sql, sql_stderr, psql, secret).await;
    }
    // psql's own failure (a statement refused) says the most.
    if let Ok(Some(status)) = sql.try_wait()
        && !status.success()
    {
        return finish_tool(sql, sql_stderr, psql, secret).await;
    }
    let _ = sql.kill().await;
    converted?;
    fed.map_err(|e| BackupError::Stream(redact(&e.to_string(), secret)))?;
    forwarded.map_err(|e| BackupError::Stream(redact(&e.to_string(), secret)))?;
    Ok(())
}

/// Whether `dir` already holds any data file (even an empty one): the init
/// container that runs on every start then leaves it alone.
pub fn data_present(kind: api::Engine, dir: &Path) -> Result<bool, BackupError> {
    match engine::for_kind(kind).restore_method(&Connection::NONE, "") {
        RestoreMethod::DataFile { .. } => Ok(!admin::redis_data_files(dir)?.is_empty()),
        RestoreMethod::Stream(_) => Ok(false),
    }
}

/// Writes the dump as `file` under `dir` (through a temporary name) and the
/// small files beside it. The data files already there (empty ones, or
/// those the safety backup holds) are removed only once the new one is
/// complete on disk.
async fn write_data_files(
    location: &Location,
    manifest: &Manifest,
    etag: Option<String>,
    dir: &Path,
    file: &str,
    beside: &[(&str, &str)],
) -> Result<(), BackupError> {
    let target = dir.join(file);
    let partial = target.with_extension("partial");
    let io = |path: &Path, e: std::io::Error| BackupError::Stream(format!("{}: {e}", path.display()));
    let mut reader = open_verified(location, manifest, etag).await?;
    progress::phase("loading");
    if let Some(parent) = target.parent() {
        tokio::fs::create_dir_all(parent).await.map_err(|e| io(parent, e))?;
    }
    let mut out = tokio::fs::File::create(&partial).await.map_err(|e| io(&partial, e))?;
    let copied = tokio::io::copy(&mut reader, &mut out).await.and(out.sync_all().await);
    if let Err(e) = copied {
        let _ = tokio::fs::remove_file(&partial).await;
        return Err(io(&partial, e));
    }
    for (name, _) in admin::redis_data_files(dir)? {
        let path = dir.join(&name);
        if path != partial {
            tokio::fs::remove_file(&path).await.map_err(|e| io(&path, e))?;
        }
    }
    tokio::fs::rename(&partial, &target).await.map_err(|e| io(&target, e))?;
    for (name, content) in beside {
        let path = dir.join(name);
        tokio::fs::write(&path, content).await.map_err(|e| io(&path, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_says_what_is_there_and_what_to_do() {
        let held = Contents::of_objects("database shop".into(), [(admin::Kind::Table, 3), (admin::Kind::View, 1)]);
        let message =
            BackupError::Occupied { contents: held.to_string(), advice: advice(api::Engine::Mariadb) }.to_string();
        assert!(
            message.starts_with(
                "database shop holds 3 tables and 1 view; restore into an empty database or a new instance, or pass --replace"
            ),
            "{message}"
        );
        assert!(message.ends_with("nothing was restored"), "{message}");
    }
}
