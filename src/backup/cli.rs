//! The `servicedb backup` and `servicedb restore` commands, run by the
//! backup Jobs (and by hand), and `servicedb backup list|verify`, which read
//! a destination without the cluster. Passwords come only from the
//! environment.

use super::inventory::{self, BackupEntry, BackupState};
use super::{BackupRequest, Destination, Location, RestoreInto, RestoreRequest, Retention};
use crate::api;
use crate::engine::{ClientTls, Connection};
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
    /// PEM bundle of the CA(s) that signed the S3 endpoint's certificate,
    /// trusted beside the system's roots (a store with a private CA).
    #[arg(long, env = "SERVICEDB_S3_CA_FILE", value_name = "FILE")]
    pub s3_ca_file: Option<PathBuf>,
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
                ca_file: self.s3_ca_file.clone(),
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
    /// The login: a backup reads with the instance's backup login, a restore
    /// writes with the admin. Its password is read from SERVICEDB_DB_PASSWORD.
    #[arg(long, env = "SERVICEDB_DB_USERNAME")]
    pub username: Option<String>,
    /// How long to wait for the database to accept connections before
    /// failing (a new pod may be refused until network policies admit it).
    #[arg(long, env = "SERVICEDB_CONNECT_TIMEOUT_SECONDS", default_value_t = 30)]
    pub connect_timeout_seconds: u64,
    /// Talk TLS to the database, verifying its certificate and name against
    /// this CA certificate (PEM): the `ca.crt` of the instance's Secrets.
    #[arg(long, env = "SERVICEDB_DB_CA_FILE", value_name = "FILE", conflicts_with = "db_ca")]
    pub db_ca_file: Option<PathBuf>,
    /// The same CA as PEM text (how the backup and restore Jobs pass the
    /// `ca.crt` of their Secret, present when the instance serves TLS).
    #[arg(long, env = "SERVICEDB_DB_CA", hide_env_values = true, hide = true)]
    pub db_ca: Option<String>,
}

impl DatabaseArgs {
    /// The CA file to verify the server with, if any; PEM text is written
    /// to a file first, because the engines' tools read a file.
    fn ca_file(&self) -> Result<Option<String>, String> {
        if let Some(file) = &self.db_ca_file {
            return Ok(Some(file.display().to_string()));
        }
        let Some(pem) = self.db_ca.as_deref().filter(|pem| !pem.trim().is_empty()) else { return Ok(None) };
        let path = std::env::temp_dir().join(format!("servicedb-db-ca-{}.crt", std::process::id()));
        std::fs::write(&path, pem).map_err(|e| format!("cannot write the database CA to {}: {e}", path.display()))?;
        Ok(Some(path.display().to_string()))
    }
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

/// What a [`Connection`] borrows, owned.
struct ConnectionParts {
    host: String,
    port: u16,
    database: String,
    username: String,
    password: String,
    ca_file: Option<String>,
}

impl ConnectionParts {
    fn connection(&self) -> Connection<'_> {
        Connection {
            host: &self.host,
            port: self.port,
            username: &self.username,
            password: &self.password,
            database: &self.database,
            tls: self.ca_file.as_deref().map_or(ClientTls::Off, |file| ClientTls::Verify(Some(file))),
        }
    }
}

/// The connection, or which flag is missing.
fn connection_parts(db: &DatabaseArgs) -> Result<ConnectionParts, String> {
    let missing = |flag: &str| format!("{flag} is required to reach the database");
    Ok(ConnectionParts {
        host: db.host.clone().ok_or_else(|| missing("--host"))?,
        port: db.port.ok_or_else(|| missing("--port"))?,
        database: db.database.clone().ok_or_else(|| missing("--database"))?,
        username: db.username.clone().ok_or_else(|| missing("--username"))?,
        password: std::env::var("SERVICEDB_DB_PASSWORD").map_err(|_| "SERVICEDB_DB_PASSWORD is not set".to_string())?,
        ca_file: db.ca_file()?,
    })
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

/// `servicedb backup`: without a subcommand it takes a backup, configured
/// by flags or (in the backup Jobs) by environment variables only; `list`
/// and `verify` read the destination's backups.
#[derive(Debug)]
pub enum BackupCommand {
    Take(Box<BackupArgs>),
    Inventory(InventoryCommand),
}

#[derive(clap::Subcommand, Debug)]
pub enum InventoryCommand {
    /// List every backup under the destination with its state (complete,
    /// missingData, sizeMismatch, unreadable) and data objects without a
    /// manifest (orphan). Reads only the listing and the manifests.
    List(ListArgs),
    /// Read each backup's data back whole and check its sha256 against the
    /// manifest (verified or corrupt); exits 1 when any did not verify.
    Verify(VerifyArgs),
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
pub enum OutputFormat {
    /// An aligned table with human sizes.
    Text,
    /// A JSON array of `servicedb::backup::BackupEntry`.
    Json,
}

#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub destination: DestinationArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
}

#[derive(clap::Args, Debug)]
pub struct VerifyArgs {
    #[command(flatten)]
    pub destination: DestinationArgs,
    #[arg(long, value_enum, default_value = "text")]
    pub output: OutputFormat,
    /// Ids of the backups to verify.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Verify every backup that has a manifest.
    #[arg(long)]
    pub all: bool,
}

// By hand rather than derived: with a subcommand, the backup's own required
// flags (--engine, --dir or --s3-bucket) are neither demanded nor parsed.
impl clap::FromArgMatches for BackupCommand {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        match matches.subcommand_name() {
            Some(_) => Ok(BackupCommand::Inventory(InventoryCommand::from_arg_matches(matches)?)),
            None => Ok(BackupCommand::Take(Box::new(BackupArgs::from_arg_matches(matches)?))),
        }
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl clap::Args for BackupCommand {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        <InventoryCommand as clap::Subcommand>::augment_subcommands(<BackupArgs as clap::Args>::augment_args(cmd))
            .args_conflicts_with_subcommands(true)
            .subcommand_negates_reqs(true)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

pub async fn run_backup_command(command: BackupCommand) -> Result<(), String> {
    match command {
        BackupCommand::Take(args) => run_backup(*args).await,
        BackupCommand::Inventory(InventoryCommand::List(args)) => run_list(args).await,
        BackupCommand::Inventory(InventoryCommand::Verify(args)) => run_verify(args).await,
    }
}

fn print_entries(entries: &[BackupEntry], output: OutputFormat) -> Result<(), String> {
    use std::io::Write;
    let text = match output {
        OutputFormat::Text => inventory::table(entries),
        OutputFormat::Json => serde_json::to_string_pretty(entries).map_err(|e| e.to_string())? + "\n",
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        // A reader that stopped early (`| head`) is not a failure.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(format!("cannot write to stdout: {e}")),
        _ => Ok(()),
    }
}

/// Lists the backups; fails only when the destination cannot be read.
pub async fn run_list(args: ListArgs) -> Result<(), String> {
    let location = args.destination.destination().open_existing().map_err(|e| e.to_string())?;
    let entries = inventory::inventory(&location).await.map_err(|e| e.to_string())?;
    print_entries(&entries, args.output)
}

/// Verifies the backups; fails when any of them is not `verified`.
pub async fn run_verify(args: VerifyArgs) -> Result<(), String> {
    let location = args.destination.destination().open_existing().map_err(|e| e.to_string())?;
    let entries = inventory::inventory(&location).await.map_err(|e| e.to_string())?;
    let selected = inventory::select(entries, &args.ids, &location.display).map_err(|e| e.to_string())?;
    let checked = inventory::verify(&location, selected).await.map_err(|e| e.to_string())?;
    print_entries(&checked, args.output)?;
    let failed: Vec<String> = checked
        .iter()
        .filter(|e| e.state != BackupState::Verified)
        .map(|e| format!("{} ({})", e.id, e.state.as_str()))
        .collect();
    match failed.is_empty() {
        true => Ok(()),
        false => Err(format!("{} of {} backups did not verify: {}", failed.len(), checked.len(), failed.join(", "))),
    }
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
    let parts = connection_parts(&args.db)?;
    reachable(&args.db, &parts.host, parts.port).await?;
    let retention = Retention {
        keep_last: args.keep_last,
        max_age: args.max_age_days.map(|d| SignedDuration::from_hours(i64::from(d) * 24)),
    };
    let request = BackupRequest {
        engine: args.db.engine,
        engine_version: &args.engine_version,
        connection: parts.connection(),
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
            reachable(&args.db, &parts.host, parts.port).await?;
            RestoreInto::Server { connection: parts.connection(), owner: &args.owner }
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

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Restore {
        #[command(flatten)]
        args: RestoreArgs,
    }

    fn parse(extra: &[&str]) -> Result<RestoreArgs, clap::Error> {
        let base = ["restore", "--engine", "postgres", "--dir", "/backups"];
        Restore::try_parse_from(base.iter().chain(extra)).map(|r| r.args)
    }

    #[test]
    fn replace_is_asked_for_explicitly_and_never_with_skip_if_present() {
        assert!(!parse(&[]).unwrap().replace, "off by default");
        assert!(parse(&["--replace"]).unwrap().replace);
        assert!(parse(&["--replace", "--into-dir", "/data", "--skip-if-present=true"]).is_err());
    }

    #[test]
    fn the_json_names_the_safety_backup_only_when_one_was_taken() {
        let manifest: super::super::Manifest = serde_json::from_value(serde_json::json!({
            "id": "20261130T010000Z-0001", "engine": "postgres", "engineVersion": "", "database": "orders",
            "tool": "pg_dump", "compression": "zstd", "startedAt": "2026-11-30T01:00:00Z",
            "finishedAt": "2026-11-30T01:00:01Z", "dumpBytes": 1, "storedBytes": 1, "sha256": "00", "location": "x"
        }))
        .unwrap();
        let plain: serde_json::Value = serde_json::from_str(&restored_json(&manifest, None).unwrap()).unwrap();
        assert!(plain.get("safetyBackup").is_none());
        let safety = super::super::Manifest { id: "20261130T020000Z-0002".into(), ..manifest.clone() };
        let with: serde_json::Value = serde_json::from_str(&restored_json(&manifest, Some(&safety)).unwrap()).unwrap();
        assert_eq!(with["safetyBackup"], "20261130T020000Z-0002");
        assert_eq!(with["id"], "20261130T010000Z-0001");
    }
}
