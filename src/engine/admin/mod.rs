//! Live administration inside a running database, through the engine's own
//! driver: the service's database, its least-privilege login, a monitoring
//! login and a read-only backup login. Idempotent: run on every reconcile, it changes nothing
//! that is already right. Also what a restore needs to know and do there:
//! what a database already holds and, for MySQL/MariaDB, setting it aside
//! while a restore loads ([`mysql_stash`]). Callers go through
//! [`Engine::ensure`](super::Engine::ensure) and
//! [`Engine::contents`](super::Engine::contents); the per-engine modules here
//! are what those call. The MySQL stash and Redis data-file helpers stay
//! plain functions: only one engine has them, and only restore uses them.

pub mod contents;
pub(super) mod mysql;
pub(super) mod postgres;
pub mod quote;
pub(super) mod redis;

pub use contents::{Contents, Found, Kind};
pub use mysql::{
    RestoreLock as MysqlRestoreLock, clear as mysql_clear, drop_stash as mysql_drop_stash, lock as mysql_lock,
    recover as mysql_recover, stash as mysql_stash, unstash as mysql_unstash,
};
pub use postgres::REPLACE_PRELUDE as POSTGRES_REPLACE_PRELUDE;
pub use redis::{data_files as redis_data_files, keyspace_files as redis_keyspace_files};

/// Where the operator reaches the database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub host: String,
    pub port: u16,
    /// TLS, verifying the server; `None` for a server without TLS.
    pub tls: Option<TargetTls>,
}

impl Target {
    /// A server without TLS.
    pub fn plain(host: impl Into<String>, port: u16) -> Target {
        Target { host: host.into(), port, tls: None }
    }
}

/// What the operator checks the server's certificate against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetTls {
    /// PEM of the CA that signed it.
    pub ca_pem: String,
    /// The name it must carry (the Service's DNS name): a connection to an
    /// address from the endpoint overrides still checks it where the
    /// driver can (PostgreSQL, MySQL); Redis checks the address itself.
    pub server_name: String,
}

/// A login and its password.
#[derive(Clone, PartialEq)]
pub struct Login {
    pub username: String,
    pub password: String,
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Login({}, <redacted>)", self.username)
    }
}

/// One of the service's logins, and whether it may log in now.
#[derive(Clone, Debug)]
pub struct AppLogin {
    pub login: Login,
    pub enabled: bool,
}

/// What must exist inside the database.
#[derive(Clone, Debug)]
pub struct Wanted {
    pub database: String,
    /// The service's logins (A/B for rotation): the first owns the database
    /// and its objects; the others act as the first, so both see the same data.
    pub app: Vec<AppLogin>,
    pub monitor: Login,
    /// Reads the service's database for backups; writes nothing.
    pub backup: Login,
}

/// How long administration waits for a database to accept its connection.
/// Short: a reconcile waiting on a connect holds its object (a drift repair
/// waits behind it), and a Service just re-created answers on a new address
/// while DNS still hands out the old one, which drops packets. The retry
/// comes with the reconcile's backoff.
const CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

/// Runs a driver's connect under [`CONNECT_TIMEOUT`], for every engine.
async fn connect_within<C, E: std::fmt::Display>(
    target: &Target,
    connect: impl std::future::Future<Output = Result<C, E>>,
) -> Result<C, AdminError> {
    let failed = |message: String| AdminError::Connect { target: format!("{}:{}", target.host, target.port), message };
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(connected) => connected.map_err(|e| failed(e.to_string())),
        Err(_) => Err(failed(format!("no answer within {}s", CONNECT_TIMEOUT.as_secs()))),
    }
}

/// Errors carry no password: the drivers' messages are about the server.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot connect to {target}: {message}")]
    Connect { target: String, message: String },
    #[error("{step} failed: {message}")]
    Statement { step: &'static str, message: String },
    #[error("refusing unsafe name {0:?}: only lower-case letters, digits and '_' are allowed")]
    UnsafeName(String),
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    /// Asked of an engine something it does not do (a programming error).
    #[error("{0}")]
    Unsupported(String),
}

impl AdminError {
    pub fn metric_label(&self) -> &'static str {
        match self {
            AdminError::Connect { .. } => "database_unreachable",
            AdminError::Statement { .. } => "database_statement",
            AdminError::UnsafeName(_) => "unsafe_name",
            AdminError::Io { .. } => "io",
            AdminError::Unsupported(_) => "unsupported",
        }
    }
}

/// Names reach SQL and ACL commands only after this check, whatever the
/// CRD already validated.
pub fn safe_name(name: &str) -> Result<&str, AdminError> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok { Ok(name) } else { Err(AdminError::UnsafeName(name.to_string())) }
}

/// Where a restore would write: a running server's database, or the data
/// directory of an instance that has not started.
#[derive(Clone, Copy, Debug)]
pub enum Place<'a> {
    Server { target: &'a Target, admin: &'a Login, database: &'a str },
    DataDir(&'a std::path::Path),
}

impl Wanted {
    /// Names reach the server only after this: the logins must be safe
    /// names, the database must pass `database` (the engine's rule).
    pub fn check(&self, database: impl Fn(&str) -> Result<(), AdminError>) -> Result<(), AdminError> {
        database(&self.database)?;
        if self.app.is_empty() {
            return Err(AdminError::UnsafeName(String::new()));
        }
        for app in &self.app {
            safe_name(&app.login.username)?;
        }
        safe_name(&self.monitor.username)?;
        safe_name(&self.backup.username)?;
        Ok(())
    }
}

impl Place<'_> {
    /// The error for an engine asked about a place it does not restore into.
    pub fn unsupported(&self, engine: &str) -> AdminError {
        AdminError::Unsupported(format!("cannot inspect a {engine} instance through {self:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connect_that_hangs_fails_after_the_timeout_naming_its_target_and_a_refusal_passes_through() {
        let target = Target::plain("orders-db.shop.svc", 5432);
        let started = std::time::Instant::now();
        let hung = connect_within(&target, std::future::pending::<Result<(), String>>()).await.unwrap_err();
        assert!(started.elapsed() >= CONNECT_TIMEOUT && started.elapsed() < CONNECT_TIMEOUT * 2);
        assert_eq!(hung.to_string(), "cannot connect to orders-db.shop.svc:5432: no answer within 3s");
        assert_eq!(hung.metric_label(), "database_unreachable");
        let refused = connect_within(&target, async { Err::<(), _>("connection refused") }).await.unwrap_err();
        assert_eq!(refused.to_string(), "cannot connect to orders-db.shop.svc:5432: connection refused");
    }

    #[test]
    fn only_plain_identifiers_are_safe() {
        for good in ["orders", "billing_api", "a1"] {
            assert!(safe_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Orders",
            "x\"; DROP ROLE postgres; --",
            "a-b",
            "1abc",
            "é",
            "a b",
            &"a".repeat(64),
            "x'",
            "x`y",
            "a;b",
        ] {
            assert!(safe_name(bad).is_err(), "{bad:?}");
        }
    }
}
