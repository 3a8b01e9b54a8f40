//! PostgreSQL: the official `postgres` image, SCRAM-SHA-256 everywhere.

mod scram;

pub use scram::{scram_sha256_verifier, scram_verifies};

use super::admin::{self, AdminError, Contents, Login, Place, Target, Wanted, safe_name};
use super::env::{env_from_secret, env_value};
use super::{
    CA_KEY, ClientTls, Connection, Engine, Exporter, InitScripts, Logins, MONITOR_USERNAME, RestoreMethod, SecretNames,
    TLS_CERT_KEY, TLS_KEY_KEY, ToolCommand, monitor_password, tls_path,
};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{EnvVar, ExecAction, Probe};
use std::collections::BTreeMap;

pub struct Postgres;

const PORT: u16 = 5432;
const DATA_MOUNT: &str = "/var/lib/postgresql/data";
/// Admin Secret key of the app login's SCRAM verifier, read by the init script.
pub const APP_SCRAM_KEY: &str = "app-password-scram";
/// Creates the service's login (from a SCRAM verifier) and its database.
const CREATE_APP_LOGIN: &str = include_str!("create-app-login.sh");
const INIT_DIR: &str = "/docker-entrypoint-initdb.d";
/// With TLS, the server's pg_hba.conf: TCP logins over TLS only (a plain
/// one matches no line and is refused), the container's own socket as the
/// image has it. It lives with the init scripts, which the entrypoint
/// skips (it runs only `*.sh` and `*.sql*`).
const TLS_HBA_FILE: &str = "pg_hba.conf";
const TLS_HBA: &str = "# servicedb: spec.tls is on, TCP logins over TLS only\n\
local   all all     trust\n\
hostssl all all all scram-sha-256\n";

impl Engine for Postgres {
    fn supported_versions(&self) -> &'static [&'static str] {
        &["15", "16", "17", "18"]
    }

    fn image(&self, version: &str) -> Option<String> {
        self.supported_versions().contains(&version).then(|| format!("docker.io/library/postgres:{version}"))
    }

    fn port(&self) -> (u16, &'static str) {
        (PORT, "postgres")
    }

    fn admin_username(&self) -> &'static str {
        "postgres"
    }

    fn run_as_user(&self) -> i64 {
        999 // the `postgres` user of the Debian-based official image
    }

    fn data_mount_path(&self) -> &'static str {
        DATA_MOUNT
    }

    fn scratch_dirs(&self) -> &'static [&'static str] {
        &["/var/run/postgresql", "/tmp"]
    }

    /// The image's default command (`postgres`) with TLS settings.
    fn args(&self, tls: bool) -> Option<Vec<String>> {
        tls.then(|| {
            [
                "ssl=on".to_string(),
                format!("ssl_cert_file={}", tls_path(TLS_CERT_KEY)),
                format!("ssl_key_file={}", tls_path(TLS_KEY_KEY)),
                "ssl_min_protocol_version=TLSv1.2".to_string(),
                format!("hba_file={INIT_DIR}/{TLS_HBA_FILE}"),
            ]
            .into_iter()
            .flat_map(|setting| ["-c".to_string(), setting])
            .collect()
        })
    }

    fn env(&self, secrets: SecretNames<'_>) -> Vec<EnvVar> {
        vec![
            env_from_secret("POSTGRES_USER", secrets.admin, "username"),
            env_from_secret("POSTGRES_PASSWORD", secrets.admin, "password"),
            // A subdirectory, so that a volume's lost+found does not upset initdb.
            env_value("PGDATA", &format!("{DATA_MOUNT}/pgdata")),
            env_value("POSTGRES_HOST_AUTH_METHOD", "scram-sha-256"),
            env_value("POSTGRES_INITDB_ARGS", "--auth-host=scram-sha-256"),
            env_from_secret("SERVICEDB_APP_USERNAME", secrets.credentials, "username"),
            env_from_secret("SERVICEDB_APP_DATABASE", secrets.credentials, "database"),
            env_from_secret("SERVICEDB_APP_PASSWORD_SCRAM", secrets.admin, APP_SCRAM_KEY),
        ]
    }

    fn health_check(&self) -> Probe {
        Probe {
            exec: Some(ExecAction {
                command: Some(
                    ["pg_isready", "--host=127.0.0.1", "--port=5432", "--timeout=3"].map(String::from).to_vec(),
                ),
            }),
            ..Probe::default()
        }
    }

    fn init_scripts(&self, tls: bool) -> Option<InitScripts> {
        let mut files = BTreeMap::from([("10-create-app-login.sh".to_string(), CREATE_APP_LOGIN.to_string())]);
        if tls {
            files.insert(TLS_HBA_FILE.to_string(), TLS_HBA.to_string());
        }
        Some(InitScripts { mount_path: INIT_DIR, files })
    }

    fn derived_admin_keys(&self, logins: Logins<'_>) -> BTreeMap<String, String> {
        BTreeMap::from([(APP_SCRAM_KEY.to_string(), scram_sha256_verifier(logins.app_password))])
    }

    fn derived_admin_key_names(&self) -> &'static [&'static str] {
        &[APP_SCRAM_KEY]
    }

    /// With TLS, `sslmode=verify-full`: libpq and pgJDBC then check the
    /// server against `~/.postgresql/root.crt` unless `sslrootcert` (or
    /// PGSSLROOTCERT) names the `ca.crt` of the Secret.
    fn connection_uris(&self, c: &Connection<'_>) -> BTreeMap<&'static str, String> {
        let Connection { host, port, username, password, database, tls } = c;
        let (query, jdbc) = match tls {
            ClientTls::Off => ("", ""),
            ClientTls::Verify(_) => ("?sslmode=verify-full", "&sslmode=verify-full"),
        };
        BTreeMap::from([
            ("uri", format!("postgresql://{username}:{password}@{host}:{port}/{database}{query}")),
            (
                "jdbc-uri",
                format!("jdbc:postgresql://{host}:{port}/{database}?user={username}&password={password}{jdbc}"),
            ),
        ])
    }

    /// Custom format, uncompressed: the backup compresses the stream with
    /// zstd, which is faster and smaller than pg_dump's gzip.
    fn dump_command(&self, c: &Connection<'_>) -> ToolCommand {
        ToolCommand {
            program: "pg_dump",
            args: [&pg_connection_args(c)[..], &["--format=custom".into(), "--compress=0".into()]].concat(),
            env: pg_env(c),
            trailer: None,
        }
    }

    /// `pg_monitor` lets it read the statistics views; it connects to the
    /// `postgres` database, which the monitoring login may reach.
    fn exporter_image(&self) -> &'static str {
        "quay.io/prometheuscommunity/postgres-exporter:v0.17.1"
    }

    fn exporter(&self, admin_secret: &str, tls: bool) -> Exporter {
        let sslmode = if tls {
            format!("sslmode=verify-full&sslrootcert={}", tls_path(CA_KEY))
        } else {
            "sslmode=disable".into()
        };
        Exporter {
            up_metric: "pg_up",
            connections: ("pg_stat_database_numbackends", "pg_settings_max_connections"),
            port: Self::EXPORTER_PORT,
            args: vec![format!("--web.listen-address=:{}", Self::EXPORTER_PORT)],
            env: vec![
                env_value("DATA_SOURCE_URI", &format!("localhost:{PORT}/postgres?{sslmode}")),
                env_value("DATA_SOURCE_USER", MONITOR_USERNAME),
                monitor_password("DATA_SOURCE_PASS", admin_secret),
            ],
            config: None,
        }
    }

    /// One transaction: a restore that fails halfway leaves nothing behind.
    fn restore_method(&self, c: &Connection<'_>, owner: &str) -> RestoreMethod {
        let flags = ["--no-owner", "--no-acl", "--exit-on-error", "--single-transaction"].map(String::from);
        RestoreMethod::Stream(ToolCommand {
            program: "pg_restore",
            args: [&pg_connection_args(c)[..], &flags, &[format!("--role={owner}")]].concat(),
            env: pg_env(c),
            trailer: None,
        })
    }

    fn administer<'a>(
        &'a self,
        target: &'a Target,
        admin: &'a Login,
        wanted: &'a Wanted,
    ) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(admin::postgres::ensure(target, admin, wanted))
    }

    fn reload_tls<'a>(&'a self, target: &'a Target, admin: &'a Login) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(admin::postgres::reload_tls(target, admin))
    }

    /// The database's non-system schemas.
    fn contents<'a>(&'a self, place: Place<'a>) -> BoxFuture<'a, Result<Contents, AdminError>> {
        Box::pin(async move {
            match place {
                Place::Server { target, admin, database } => {
                    admin::postgres::contents(target, admin, safe_name(database)?).await
                }
                Place::DataDir(_) => Err(place.unsupported("postgres")),
            }
        })
    }
}

impl Postgres {
    const EXPORTER_PORT: u16 = 9187;
}

/// A restore that replaces what the database holds: `pg_restore` writing
/// SQL (no connection of its own) and `psql` running it, in the one
/// transaction the replace prelude opens.
pub fn replace_commands(c: &Connection<'_>, owner: &str) -> (ToolCommand, ToolCommand) {
    let mut flags: Vec<String> =
        ["--no-owner", "--no-acl", "--single-transaction", "--file=-"].map(String::from).into();
    if !owner.is_empty() {
        flags.push(format!("--role={owner}"));
    }
    let script = ToolCommand { program: "pg_restore", args: flags, env: Vec::new(), trailer: None };
    let psql_flags = ["--no-psqlrc", "--quiet", "--set=ON_ERROR_STOP=1"].map(String::from);
    let psql = ToolCommand {
        program: "psql",
        args: [&psql_flags[..], &pg_connection_args(c)].concat(),
        env: pg_env(c),
        trailer: None,
    };
    (script, psql)
}

/// The password travels in the environment, never in arguments; so does
/// TLS (libpq's PGSSLMODE and PGSSLROOTCERT).
fn pg_env(c: &Connection<'_>) -> Vec<(&'static str, String)> {
    let mut env = vec![("PGPASSWORD", c.password.to_string()), ("PGCONNECT_TIMEOUT", "10".into())];
    if let ClientTls::Verify(ca_file) = c.tls {
        env.push(("PGSSLMODE", "verify-full".into()));
        env.extend(ca_file.map(|file| ("PGSSLROOTCERT", file.to_string())));
    }
    env
}

fn pg_connection_args(c: &Connection<'_>) -> Vec<String> {
    vec![
        format!("--host={}", c.host),
        format!("--port={}", c.port),
        format!("--username={}", c.username),
        format!("--dbname={}", c.database),
        "--no-password".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replacing_tools_get_the_password_only_in_their_environment() {
        let c = Connection {
            host: "db",
            port: 5432,
            username: "postgres",
            password: "s3cret",
            database: "orders",
            tls: ClientTls::Off,
        };
        let (script, psql) = replace_commands(&c, "orders");
        assert!(script.args.contains(&"--file=-".to_string()) && script.args.contains(&"--role=orders".to_string()));
        assert!(!script.args.iter().any(|a| a.starts_with("--dbname")), "the script tool connects nowhere");
        assert!(psql.args.contains(&"--set=ON_ERROR_STOP=1".to_string()));
        assert!(psql.args.contains(&"--dbname=orders".to_string()));
        for command in [&script, &psql] {
            assert!(!command.args.iter().any(|a| a.contains("s3cret")), "{:?}", command.args);
        }
        assert_eq!(psql.env.iter().find(|(k, _)| *k == "PGPASSWORD").map(|(_, v)| v.as_str()), Some("s3cret"));
    }

    #[test]
    fn only_supported_versions_have_an_image() {
        assert_eq!(Postgres.image("16").as_deref(), Some("docker.io/library/postgres:16"));
        assert_eq!(Postgres.image("9.6"), None);
        assert_eq!(Postgres.image("16; rm -rf /"), None);
    }

    #[test]
    fn env_never_carries_a_secret_value() {
        let env = Postgres.env(SecretNames { admin: "a-db-admin", credentials: "a-db-credentials" });
        for var in &env {
            let secret_like = var.name.contains("PASSWORD") || var.name.contains("SCRAM");
            if secret_like {
                assert!(var.value.is_none(), "{} must come from a Secret", var.name);
                assert!(var.value_from.is_some());
            }
        }
        let names: Vec<_> = env.iter().map(|v| v.name.as_str()).collect();
        assert!(names.contains(&"POSTGRES_PASSWORD") && names.contains(&"SERVICEDB_APP_PASSWORD_SCRAM"));
    }

    #[test]
    fn connection_uris_carry_every_part() {
        let uris = Postgres.connection_uris(&Connection {
            host: "orders-db.shop.svc",
            port: 5432,
            username: "orders",
            password: "pw",
            database: "orders",
            tls: ClientTls::Off,
        });
        assert_eq!(uris["uri"], "postgresql://orders:pw@orders-db.shop.svc:5432/orders");
        assert_eq!(uris["jdbc-uri"], "jdbc:postgresql://orders-db.shop.svc:5432/orders?user=orders&password=pw");
    }

    #[test]
    fn with_tls_every_client_verifies_the_server() {
        let c = Connection {
            host: "orders-db.shop.svc",
            port: 5432,
            username: "orders",
            password: "pw",
            database: "orders",
            tls: ClientTls::Verify(Some("/etc/ca.crt")),
        };
        let uris = Postgres.connection_uris(&c);
        assert!(uris["uri"].ends_with("/orders?sslmode=verify-full"), "{}", uris["uri"]);
        assert!(uris["jdbc-uri"].ends_with("&sslmode=verify-full"), "{}", uris["jdbc-uri"]);
        let dump = Postgres.dump_command(&c);
        assert!(dump.env.contains(&("PGSSLMODE", "verify-full".into())));
        assert!(dump.env.contains(&("PGSSLROOTCERT", "/etc/ca.crt".into())));
        let args = Postgres.args(true).unwrap();
        assert!(args.contains(&"ssl=on".to_string()) && args.iter().any(|a| a.starts_with("hba_file=")));
        assert_eq!(Postgres.args(false), None, "the image's own command");
        let hba = &Postgres.init_scripts(true).unwrap().files[TLS_HBA_FILE];
        assert!(hba.contains("hostssl all all all scram-sha-256") && !hba.contains("\nhost "), "{hba}");
        assert!(!Postgres.init_scripts(false).unwrap().files.contains_key(TLS_HBA_FILE));
        let exporter = Postgres.exporter("a", true);
        let uri = exporter.env.iter().find(|e| e.name == "DATA_SOURCE_URI").and_then(|e| e.value.clone());
        assert!(uri.unwrap().contains("sslmode=verify-full&sslrootcert=/etc/servicedb/tls/ca.crt"));
    }
}
