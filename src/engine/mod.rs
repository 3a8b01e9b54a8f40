//! Database engines behind one trait. The reconciler and the builders ask
//! the engine for everything engine-specific and know no engine by name.

mod password;
mod postgres;

pub use password::generate_password;
pub use postgres::Postgres;

use crate::api;
use k8s_openapi::api::core::v1::{EnvVar, Probe};
use std::collections::BTreeMap;

/// How a client reaches the service's database; feeds the uniform secret keys.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection<'a> {
    pub host: &'a str,
    pub port: u16,
    pub username: &'a str,
    pub password: &'a str,
    pub database: &'a str,
}

/// Names of the Secrets an engine's container reads its settings from.
#[derive(Clone, Copy, Debug)]
pub struct SecretNames<'a> {
    pub admin: &'a str,
    pub credentials: &'a str,
}

/// Files an engine runs once when its data directory is first initialised.
#[derive(Clone, Debug, PartialEq)]
pub struct InitScripts {
    pub mount_path: &'static str,
    pub files: BTreeMap<String, String>,
}

pub trait Engine: Send + Sync {
    /// Versions the operator can run, newest last.
    fn supported_versions(&self) -> &'static [&'static str];
    /// The official image for a supported version.
    fn image(&self, version: &str) -> Option<String>;
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
    /// Environment of the database container, wired from the two Secrets.
    fn env(&self, secrets: SecretNames<'_>) -> Vec<EnvVar>;
    fn readiness_probe(&self) -> Probe;
    fn liveness_probe(&self) -> Probe;
    fn startup_probe(&self) -> Probe;
    /// Scripts that create the service's login and database at first start.
    fn init_scripts(&self) -> Option<InitScripts>;
    /// Extra keys of the admin Secret derived once from the app password
    /// (e.g. a password verifier), generated with fresh randomness.
    fn derived_admin_keys(&self, app_password: &str) -> BTreeMap<String, String>;
    /// The names of the keys [`Engine::derived_admin_keys`] returns.
    fn derived_admin_key_names(&self) -> &'static [&'static str];
    /// Connection strings beside the uniform keys: `uri` always, `jdbc-uri` for SQL engines.
    fn connection_uris(&self, c: &Connection<'_>) -> BTreeMap<&'static str, String>;
}

/// The engine implementation for an API engine value.
pub fn for_kind(kind: api::Engine) -> &'static dyn Engine {
    match kind {
        api::Engine::Postgres => &Postgres,
    }
}
