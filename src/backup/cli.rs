//! The `servicedb backup` and `servicedb restore` commands, run by the
//! backup Jobs (and by hand). Passwords come only from the environment.

use super::{BackupRequest, Destination, Location, RestoreInto, RestoreRequest, Retention};
use crate::api;
use crate::engine::Connection;
use k8s_openapi::jiff::SignedDuration;
use std::path::PathBuf;

#[derive(clap::Args, Debug)]
pub struct DestinationArgs {
    /// Directory (a mounted volume) holding the backups.
    #[arg(long, env = "SERVICEDB_BACKUP_DIR", required_unless_present = "s3_bucket", conflicts_with = "s3_bucket")]
    pub dir: Option<PathBuf>,
    /// S3 bucket holding the backups; credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
    #[arg(long, env = "SERVICEDB_S3_BUCKET")]
    pub s3_bucket: Option<String>,
    /// Key prefix of this instance's backups in the bucket.
    #[arg(long, env = "SERVICEDB_S3_PREFIX", default_value = "")]
    pub s3_prefix: String,
    /// S3 endpoint URL for other S3-compatible stores, e.g. https://minio.example:9000.
    #[arg(long, env = "SERVICEDB_S3_ENDPOINT")]
    pub s3_endpoint: Option<String>,
    #[arg(long, env = "SERVICEDB_S3_REGION", default_value = "us-east-1")]
    pub s3_region: String,
    /// Require TLS to S3 (turn off only for a store on a trusted network).
    #[arg(long, env = "SERVICEDB_S3_TLS", default_value_t = true, action = clap::ArgAction::Set)]
    pub s3_tls: bool,
}

impl DestinationArgs {
    pub fn destination(&self) -> Destination {
        match (&self.dir, &self.s3_bucket) {
            (Some(dir), _) => Destination::Directory(dir.clone()),
            (None, bucket) => Destination::S3 {
                endpoint: self.s3_endpoint.clone(),
                bucket: bucket.clone().unwrap_or_default(),
                prefix: self.s3_prefix.clone(),
                region: self.s3_region.clone(),
                tls: self.s3_tls,
            },
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct DatabaseArgs {
    /// Engine of the instance: postgres, mysql, mariadb or redis.
    #[arg(long, env = "SERVICEDB_ENGINE")]
    pub engine: api::Engine,
    /// Host of the database server.
    #[arg(long, env = "SERVICEDB_DB_HOST")]
    pub host: Option<String>,
    #[arg(long, env = "SERVICEDB_DB_PORT")]
    pub port: Option<u16>,
    /// The service's database (Redis: 0).
    #[arg(long, env = "SERVICEDB_DB_NAME")]
    pub database: Option<String>,
    /// The admin login; its password is read from SERVICEDB_DB_PASSWORD.
    #[arg(long, env = "SERVICEDB_DB_USERNAME")]
    pub username: Option<String>,
    /// How long to wait for the database to accept connections before
    /// failing (a new pod may be refused until network policies admit it).
    #[arg(long, env = "SERVICEDB_CONNECT_TIMEOUT_SECONDS", default_value_t = 30)]
    pub connect_timeout_seconds: u64,
}

/// The database accepts connections, or why not after the timeout.
async fn reachable(db: &DatabaseArgs, host: &str, port: u16) -> Result<(), String> {
    super::progress::phase("connecting");
    let within = std::time::Duration::from_secs(db.connect_timeout_seconds);
    let reached = super::reach::wait_reachable(host, port, within, std::time::Duration::from_secs(1)).await;
    if reached.is_err() {
        super::progress::finish();
    }
    reached
}

/// The admin connection, or which flag is missing.
fn connection_parts(db: &DatabaseArgs) -> Result<(String, u16, String, String, String), String> {
    let missing = |flag: &str| format!("{flag} is required to reach the database");
    Ok((
        db.host.clone().ok_or_else(|| missing("--host"))?,
        db.port.ok_or_else(|| missing("--port"))?,
        db.database.clone().ok_or_else(|| missing("--database"))?,
        db.username.clone().ok_or_else(|| missing("--username"))?,
        std::env::var("SERVICEDB_DB_PASSWORD").map_err(|_| "SERVICEDB_DB_PASSWORD is not set".to_string())?,
    ))
}

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub destination: DestinationArgs,
    /// The engine version the instance runs, recorded in the manifest.
    #[arg(long, env = "SERVICEDB_ENGINE_VERSION", default_value = "")]
    pub engine_version: String,
    /// Keep only the newest N backups (after the new one verified).
    #[arg(long, env = "SERVICEDB_KEEP_LAST", value_parser = clap::value_parser!(u32).range(1..))]
    pub keep_last: Option<u32>,
    /// Delete backups older than this many days (never the newest).
    #[arg(long, env = "SERVICEDB_MAX_AGE_DAYS", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_age_days: Option<u32>,
    /// Also write the manifest here, for the operator to read from the pod's status.
    #[arg(long, env = "SERVICEDB_TERMINATION_LOG")]
    pub termination_log: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub db: DatabaseArgs,
    #[command(flatten)]
    pub destination: DestinationArgs,
    /// Id of the backup to restore; the newest complete one when omitted.
    #[arg(long, env = "SERVICEDB_BACKUP_ID")]
    pub backup: Option<String>,
    /// Login that will own the restored objects (PostgreSQL).
    #[arg(long, env = "SERVICEDB_RESTORE_OWNER", default_value = "")]
    pub owner: String,
    /// Restore into this data directory of an instance that has not started (Redis).
    #[arg(long, env = "SERVICEDB_RESTORE_INTO_DIR")]
    pub into_dir: Option<PathBuf>,
    /// With --into-dir: succeed without restoring when the directory already
    /// holds the engine's data (an init container that runs on every start).
    #[arg(long, env = "SERVICEDB_RESTORE_SKIP_IF_PRESENT", default_value_t = false, action = clap::ArgAction::Set)]
    pub skip_if_present: bool,
    /// Replace what the database (or data directory) holds: a safety backup
    /// of it is taken first, to the same destination, and its id printed.
    /// Without it a restore into a target that holds data is refused.
    #[arg(long, env = "SERVICEDB_RESTORE_REPLACE", conflicts_with = "skip_if_present")]
    pub replace: bool,
}

fn open(args: &DestinationArgs) -> Result<Location, String> {
    args.destination().open().map_err(|e| e.to_string())
}

/// Runs the backup; the manifest, or the reason it failed, also goes to the
/// termination log, where the operator reads it for the status.
pub async fn run_backup(args: BackupArgs) -> Result<(), String> {
    let result = backup_once(&args).await;
    if let Some(path) = &args.termination_log {
        // Kubernetes keeps at most 4 KiB of a termination message.
        let message = match &result {
            Ok(json) => json.clone(),
            Err(e) => e.chars().take(4000).collect(),
        };
        std::fs::write(path, message).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!("{}", result?);
    Ok(())
}

/// The manifest as JSON.
async fn backup_once(args: &BackupArgs) -> Result<String, String> {
    let location = open(&args.destination)?;
    let (host, port, database, username, password) = connection_parts(&args.db)?;
    reachable(&args.db, &host, port).await?;
    let retention = Retention {
        keep_last: args.keep_last,
        max_age: args.max_age_days.map(|d| SignedDuration::from_hours(i64::from(d) * 24)),
    };
    let request = BackupRequest {
        engine: args.db.engine,
        engine_version: &args.engine_version,
        connection: Connection { host: &host, port, username: &username, password: &password, database: &database },
        location: &location,
        retention,
    };
    let manifest = super::backup(&request).await.map_err(|e| e.to_string())?;
    serde_json::to_string(&manifest).map_err(|e| e.to_string())
}

pub async fn run_restore(args: RestoreArgs) -> Result<(), String> {
    let _finish = super::progress::FinishOnDrop;
    let location = open(&args.destination)?;
    let parts;
    let into = match &args.into_dir {
        Some(dir)
            if args.skip_if_present
                && super::restore::data_present(args.db.engine, dir).map_err(|e| e.to_string())? =>
        {
            tracing::info!(dir = %dir.display(), "the data directory already holds data; nothing restored");
            return Ok(());
        }
        Some(dir) => RestoreInto::Directory(dir),
        None => {
            parts = connection_parts(&args.db)?;
            let (host, port, database, username, password) = &parts;
            reachable(&args.db, host, *port).await?;
            RestoreInto::Server {
                connection: Connection { host, port: *port, username, password, database },
                owner: &args.owner,
            }
        }
    };
    let request = RestoreRequest {
        engine: args.db.engine,
        location: &location,
        backup: args.backup.as_deref(),
        into,
        replace: args.replace,
    };
    let restored = super::restore(&request).await.map_err(|e| e.to_string())?;
    if let Some(safety) = &restored.safety_backup {
        eprintln!("servicedb: safety backup {} holds what was replaced ({})", safety.id, safety.location);
    }
    println!("{}", restored_json(&restored.manifest, restored.safety_backup.as_ref())?);
    Ok(())
}

/// The restored backup's manifest, with `safetyBackup` (the id) when one was taken.
fn restored_json(manifest: &super::Manifest, safety: Option<&super::Manifest>) -> Result<String, String> {
    let mut json = serde_json::to_value(manifest).map_err(|e| e.to_string())?;
    if let (Some(safety), Some(object)) = (safety, json.as_object_mut()) {
        object.insert("safetyBackup".into(), serde_json::Value::String(safety.id.clone()));
    }
    Ok(json.to_string())
}
