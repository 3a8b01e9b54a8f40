//! Database engines behind one trait. The reconciler and the builders ask
//! the engine for everything engine-specific and know no engine by name.

pub mod admin;
pub mod env;
pub mod image_catalog;
pub mod images;
mod mysql;
mod password;
pub mod postgres;
mod redis;

pub use image_catalog::{CatalogError, ImageCatalog};
pub use images::{Images, InstanceImages, NoImage};
pub use mysql::{MySql, mysql_native_password_hash};
pub use password::generate_password;
pub use postgres::Postgres;
pub use redis::{Redis, redis_acl_file, redis_eof_mark};

use crate::api;
use admin::{AdminError, Contents, Login, Place, Target, Wanted};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{EnvVar, Probe, TCPSocketAction};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// How a client reaches the service's database; feeds the uniform secret keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection<'a> {
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub password: &'a str,
    pub database: &'a str,
    pub tls: ClientTls<'a>,
}

impl Connection<'static> {
    /// For asking an engine about its tools where no server is involved.
    pub const NONE: Self =
        Connection { host: "", port: 0, username: "", password: "", database: "", tls: ClientTls::Off };
}

/// Whether a client talks TLS to the database, verifying the server's
/// certificate and name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientTls<'a> {
    Off,
    /// Against the CA certificate in this file; `None` where the client's
    /// own default applies (the connection URIs handed to the service).
    Verify(Option<&'a str>),
}

/// Where the database and exporter containers find the server's
/// certificate, its key and the CA (admin Secret keys of the same names).
pub const TLS_DIR: &str = "/etc/servicedb/tls";
/// Admin Secret keys (and file names in [`TLS_DIR`]) of the server's
/// certificate and key; the CA's key is also in the credentials and backup
/// login Secrets.
pub const TLS_CERT_KEY: &str = "tls.crt";
pub const TLS_KEY_KEY: &str = "tls.key";
pub const CA_KEY: &str = "ca.crt";

/// `<TLS_DIR>/<file>`.
pub fn tls_path(file: &str) -> String {
    format!("{TLS_DIR}/{file}")
}

/// Names of the Secrets an engine's container reads its settings from.
#[derive(Clone, Copy, Debug)]
pub struct SecretNames<'a> {
    pub admin: &'a str,
    pub credentials: &'a str,
}

/// The two logins every instance has, for keys derived from them.
#[derive(Clone, Copy, Debug)]
pub struct Logins<'a> {
    pub admin_username: &'a str,
    pub admin_password: &'a str,
    pub app_username: &'a str,
    pub app_password: &'a str,
}

/// Keys of the admin Secret mounted as files (read-only) into the container.
#[derive(Clone, Debug, PartialEq)]
pub struct SecretFiles {
    pub mount_path: &'static str,
    /// (Secret key, file name)
    pub files: &'static [(&'static str, &'static str)],
}

/// A TCP check of the database port, for engines whose image has no
/// credential-free health command.
pub fn tcp_check(port: u16) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction { port: IntOrString::Int(i32::from(port)), host: None }),
        ..Probe::default()
    }
}

/// Files an engine runs once when its data directory is first initialised.
#[derive(Clone, Debug, PartialEq)]
pub struct InitScripts {
    pub mount_path: &'static str,
    pub files: BTreeMap<String, String>,
}

/// The monitoring login every instance has (least privilege: metrics only).
pub const MONITOR_USERNAME: &str = "servicedb_monitor";
/// Admin Secret key of the monitoring login's password.
pub const MONITOR_PASSWORD_KEY: &str = "monitor-password";

/// The backup login every instance has: it reads the service's database
/// and nothing else, and only backup pods receive its password.
pub const BACKUP_USERNAME: &str = "servicedb_backup";
/// Admin Secret key of the backup login's password (the operator's copy;
/// backup pods read it from the backup login Secret).
pub const BACKUP_PASSWORD_KEY: &str = "backup-password";

/// The Prometheus exporter sidecar of an engine, logging in as
/// [`MONITOR_USERNAME`] with the password from the admin Secret.
#[derive(Clone, Debug, PartialEq)]
pub struct Exporter {
    pub port: u16,
    pub args: Vec<String>,
    pub env: Vec<EnvVar>,
    /// 1 while the exporter can talk to the database.
    pub up_metric: &'static str,
    /// Connections in use (summed per pod) and their limit.
    pub connections: (&'static str, &'static str),
    /// A file the exporter reads from [`TLS_DIR`] (kept in the admin Secret).
    pub config: Option<ExporterConfig>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ExporterConfig {
    pub file: &'static str,
    pub content: String,
}

/// The monitoring password, for an exporter's env.
fn monitor_password(name: &str, admin_secret: &str) -> EnvVar {
    env::env_from_secret(name, admin_secret, MONITOR_PASSWORD_KEY)
}

/// A program the backup tools run. Passwords travel in `env`, never in
/// `args`, so no process listing shows them.
#[derive(Clone, Debug)]
pub struct ToolCommand {
    pub program: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(&'static str, String)>,
    /// Bytes a tool may append after the dump proper, to drop.
    pub trailer: Option<Trailer>,
}

/// The last `window` bytes of a dump are held back; `excess` says how many
/// of them are not part of the dump.
#[derive(Clone, Copy, Debug)]
pub struct Trailer {
    pub window: usize,
    pub excess: fn(&[u8]) -> usize,
}

/// How a dump goes back into a fresh instance.
#[derive(Clone, Debug)]
pub enum RestoreMethod {
    /// Into the running server: the dump is the program's standard input.
    Stream(ToolCommand),
    /// Into the data directory before the server first starts: the dump
    /// as `file`, and small files `beside` it (path, content).
    DataFile { file: &'static str, beside: &'static [(&'static str, &'static str)] },
}

/// Everything engine-specific, static facts and live administration alike.
/// The administration methods return boxed futures: that keeps the trait
/// object-safe ([`for_kind`] hands out `&dyn Engine`) with the `futures`
/// crate we already use, instead of a macro crate for two methods.
pub trait Engine: Send + Sync {
    /// Versions the operator can run, newest last.
    fn supported_versions(&self) -> &'static [&'static str];
    /// The official image for a supported version. Which image an instance
    /// runs is decided by [`images::Images`], which may use a catalogue instead.
    fn image(&self, version: &str) -> Option<String>;
    /// The official image of the metrics exporter (see [`Engine::exporter`]).
    fn exporter_image(&self) -> &'static str;
    /// Container and Service port of the database protocol, and its name.
    fn port(&self) -> (u16, &'static str);
    /// Login of the superuser the operator keeps in the admin Secret.
    fn admin_username(&self) -> &'static str;
    /// UID and GID the official image runs as.
    fn run_as_user(&self) -> i64;
    /// Where the data volume is mounted.
    fn data_mount_path(&self) -> &'static str;
    /// Directories the engine writes to outside the data volume (the root
    /// filesystem is read-only): each gets an emptyDir.
    fn scratch_dirs(&self) -> &'static [&'static str];
    /// Arguments of the database container, when the image's default is
    /// not enough; with `tls`, what makes the server take TCP logins over
    /// TLS only, with the files of [`TLS_DIR`].
    fn args(&self, tls: bool) -> Option<Vec<String>>;
    /// Environment of the database container, wired from the two Secrets.
    fn env(&self, secrets: SecretNames<'_>) -> Vec<EnvVar>;
    /// How to tell the server answers: a probe with only its handler set;
    /// the builder adds the timings.
    fn health_check(&self) -> Probe;
    /// Scripts that create the service's login and database at first start
    /// (and files the server reads from the same place, given `tls`).
    fn init_scripts(&self, _tls: bool) -> Option<InitScripts> {
        None
    }
    /// Admin Secret keys the container reads as files.
    fn admin_secret_files(&self) -> Option<SecretFiles> {
        None
    }
    /// The value of the uniform `database` key for the service's identifier.
    fn app_database(&self, identifier: &str) -> String {
        identifier.to_string()
    }
    /// Extra keys of the admin Secret derived once from the passwords (a
    /// verifier, a hash, an ACL file), possibly with fresh randomness.
    fn derived_admin_keys(&self, logins: Logins<'_>) -> BTreeMap<String, String>;
    /// The names of the keys [`Engine::derived_admin_keys`] returns.
    fn derived_admin_key_names(&self) -> &'static [&'static str];
    /// Connection strings beside the uniform keys: `uri` always, `jdbc-uri` for SQL engines.
    fn connection_uris(&self, c: &Connection<'_>) -> BTreeMap<&'static str, String>;
    /// The engine's own dump tool, writing one consistent dump of the
    /// service's database to standard output, connected as `c` (the backup
    /// login: it reads, nothing more).
    fn dump_command(&self, c: &Connection<'_>) -> ToolCommand;
    /// How a dump is loaded back; `owner` is the login that must own what
    /// the restore creates.
    fn restore_method(&self, c: &Connection<'_>, owner: &str) -> RestoreMethod;
    /// The metrics exporter that runs beside the database in its pod; with
    /// `tls` it verifies the server against `<TLS_DIR>/ca.crt`.
    fn exporter(&self, admin_secret: &str, tls: bool) -> Exporter;

    /// Checks the service's database name before it reaches the server:
    /// a safe identifier ([`admin::safe_name`]) unless the engine says otherwise.
    fn check_database(&self, name: &str) -> Result<(), AdminError> {
        admin::safe_name(name).map(drop)
    }
    /// Ensures `wanted` inside the running server at `target`: the service's
    /// database, its logins and the monitoring login. Idempotent. Every name
    /// is checked before any reaches the server; engines implement
    /// [`Engine::administer`], and callers call this.
    fn ensure<'a>(
        &'a self,
        target: &'a Target,
        admin: &'a Login,
        wanted: &'a Wanted,
    ) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(async move {
            wanted.check(|database| self.check_database(database))?;
            self.administer(target, admin, wanted).await
        })
    }
    /// The engine's part of [`Engine::ensure`], given names already checked.
    fn administer<'a>(
        &'a self,
        target: &'a Target,
        admin: &'a Login,
        wanted: &'a Wanted,
    ) -> BoxFuture<'a, Result<(), AdminError>>;
    /// Makes the running server at `target` read its certificate and key
    /// files again (after a renewal); connections open stay as they are.
    fn reload_tls<'a>(&'a self, target: &'a Target, admin: &'a Login) -> BoxFuture<'a, Result<(), AdminError>>;
    /// What `place` already holds, for a restore to refuse or replace (a
    /// server's database or a data directory, whichever the engine restores into).
    fn contents<'a>(&'a self, place: Place<'a>) -> BoxFuture<'a, Result<Contents, AdminError>>;
}

/// The engine implementation for an API engine value.
pub fn for_kind(kind: api::Engine) -> &'static dyn Engine {
    match kind {
        api::Engine::Postgres => &Postgres,
        api::Engine::Mysql => &MySql::MYSQL,
        api::Engine::Mariadb => &MySql::MARIADB,
        api::Engine::Redis => &Redis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wanted(database: &str, app: &str) -> Wanted {
        let login = |name: &str| Login { username: name.to_string(), password: "pw".to_string() };
        Wanted {
            database: database.to_string(),
            app: vec![admin::AppLogin { login: login(app), enabled: true }],
            monitor: login(MONITOR_USERNAME),
            backup: login(BACKUP_USERNAME),
        }
    }

    /// Port 1 on loopback: nothing answers, so reaching it would fail with
    /// `Connect`; an `UnsafeName` proves the check came first.
    fn nowhere() -> Target {
        Target::plain("127.0.0.1", 1)
    }

    #[tokio::test]
    async fn unsafe_names_are_refused_before_the_server_is_reached() {
        let root = Login { username: "root".to_string(), password: "pw".to_string() };
        for kind in [api::Engine::Postgres, api::Engine::Mysql, api::Engine::Mariadb, api::Engine::Redis] {
            let bad_login = for_kind(kind).ensure(&nowhere(), &root, &wanted("orders", "x'; DROP")).await;
            assert!(matches!(bad_login, Err(AdminError::UnsafeName(_))), "{kind:?}: {bad_login:?}");
        }
        for kind in [api::Engine::Postgres, api::Engine::Mysql, api::Engine::Mariadb] {
            let bad_database = for_kind(kind).ensure(&nowhere(), &root, &wanted("Orders-DB", "orders")).await;
            assert!(matches!(bad_database, Err(AdminError::UnsafeName(_))), "{kind:?}: {bad_database:?}");
        }
    }

    #[tokio::test]
    async fn redis_takes_its_numbered_database_past_the_name_check() {
        let root = Login { username: "admin".to_string(), password: "pw".to_string() };
        let database = Redis.app_database("orders");
        let result = Redis.ensure(&nowhere(), &root, &wanted(&database, "orders")).await;
        assert!(matches!(result, Err(AdminError::Connect { .. })), "{result:?}");
    }

    #[tokio::test]
    async fn contents_of_a_place_the_engine_does_not_restore_into_is_refused() {
        let dir = std::path::Path::new("/nonexistent");
        let sql = for_kind(api::Engine::Mariadb).contents(Place::DataDir(dir)).await;
        assert!(matches!(&sql, Err(AdminError::Unsupported(m)) if m.contains("mariadb")), "{sql:?}");
        let root = Login { username: "admin".to_string(), password: "pw".to_string() };
        let server = Place::Server { target: &nowhere(), admin: &root, database: "0" };
        let redis = Redis.contents(server).await;
        assert!(matches!(&redis, Err(AdminError::Unsupported(m)) if m.contains("redis")), "{redis:?}");
    }
}
