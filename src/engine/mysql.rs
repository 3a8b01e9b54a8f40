//! MySQL and MariaDB: one protocol, two official images. The image's
//! entrypoint creates the service's login and database from env at first
//! start; MariaDB receives password hashes only, MySQL's image needs clear text.

use super::admin::{self, AdminError, Contents, Login, Place, Target, Wanted, safe_name};
use super::env::{env_from_secret, env_value};
use super::{
    CA_KEY, ClientTls, Connection, Engine, Exporter, ExporterConfig, Logins, MONITOR_USERNAME, RestoreMethod,
    SecretNames, TLS_CERT_KEY, TLS_KEY_KEY, ToolCommand, monitor_password, tcp_check, tls_path,
};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{EnvVar, Probe};
use sha1::{Digest, Sha1};
use std::collections::BTreeMap;

pub struct MySql {
    flavor: Flavor,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Flavor {
    MySql,
    MariaDb,
}

const PORT: u16 = 3306;
/// Admin Secret keys of the `mysql_native_password` hashes (MariaDB).
pub const ROOT_HASH_KEY: &str = "password-hash";
pub const APP_HASH_KEY: &str = "app-password-hash";

/// `mysql_native_password`: `*` and the upper-case hex of SHA1(SHA1(password)).
pub fn mysql_native_password_hash(password: &str) -> String {
    let twice = Sha1::digest(Sha1::digest(password.as_bytes()));
    let hex: String = twice.iter().map(|b| format!("{b:02X}")).collect();
    format!("*{hex}")
}

impl MySql {
    pub const MYSQL: MySql = MySql { flavor: Flavor::MySql };
    pub const MARIADB: MySql = MySql { flavor: Flavor::MariaDb };

    /// The official image's repository, also the engine's name in the API.
    fn repository(&self) -> &'static str {
        match self.flavor {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        }
    }

    /// The images' env prefix: MYSQL_* or MARIADB_*.
    fn var(&self, name: &str) -> String {
        match self.flavor {
            Flavor::MySql => format!("MYSQL_{name}"),
            Flavor::MariaDb => format!("MARIADB_{name}"),
        }
    }
}

impl Engine for MySql {
    fn supported_versions(&self) -> &'static [&'static str] {
        match self.flavor {
            Flavor::MySql => &["8.0", "8.4"],
            Flavor::MariaDb => &["10.11", "11.4", "11.8"],
        }
    }

    fn image(&self, version: &str) -> Option<String> {
        let repository = self.repository();
        self.supported_versions().contains(&version).then(|| format!("docker.io/library/{repository}:{version}"))
    }

    fn port(&self) -> (u16, &'static str) {
        (PORT, "mysql")
    }

    fn admin_username(&self) -> &'static str {
        "root"
    }

    fn run_as_user(&self) -> i64 {
        999 // the `mysql` user of both official images
    }

    fn data_mount_path(&self) -> &'static str {
        "/var/lib/mysql"
    }

    fn scratch_dirs(&self) -> &'static [&'static str] {
        &["/run/mysqld", "/tmp"]
    }

    /// The image's default command with TLS settings: every TCP login over
    /// TLS (the container's own socket counts as secure).
    fn args(&self, tls: bool) -> Option<Vec<String>> {
        tls.then(|| {
            vec![
                format!("--ssl-cert={}", tls_path(TLS_CERT_KEY)),
                format!("--ssl-key={}", tls_path(TLS_KEY_KEY)),
                format!("--ssl-ca={}", tls_path(CA_KEY)),
                "--require-secure-transport=ON".to_string(),
            ]
        })
    }

    fn env(&self, secrets: SecretNames<'_>) -> Vec<EnvVar> {
        let mut env = vec![
            env_from_secret(&self.var("DATABASE"), secrets.credentials, "database"),
            env_from_secret(&self.var("USER"), secrets.credentials, "username"),
        ];
        match self.flavor {
            Flavor::MariaDb => env.extend([
                env_from_secret("MARIADB_ROOT_PASSWORD_HASH", secrets.admin, ROOT_HASH_KEY),
                env_from_secret("MARIADB_PASSWORD_HASH", secrets.admin, APP_HASH_KEY),
                // The operator administers as root over the network; the
                // NetworkPolicy lets only the operator's pods reach the port.
                env_value("MARIADB_ROOT_HOST", "%"),
            ]),
            Flavor::MySql => env.extend([
                env_from_secret("MYSQL_ROOT_PASSWORD", secrets.admin, "password"),
                env_from_secret("MYSQL_PASSWORD", secrets.credentials, "password"),
                env_value("MYSQL_ROOT_HOST", "%"),
            ]),
        }
        env
    }

    fn health_check(&self) -> Probe {
        tcp_check(PORT)
    }

    fn derived_admin_keys(&self, logins: Logins<'_>) -> BTreeMap<String, String> {
        match self.flavor {
            Flavor::MariaDb => BTreeMap::from([
                (ROOT_HASH_KEY.to_string(), mysql_native_password_hash(logins.admin_password)),
                (APP_HASH_KEY.to_string(), mysql_native_password_hash(logins.app_password)),
            ]),
            Flavor::MySql => BTreeMap::new(),
        }
    }

    fn derived_admin_key_names(&self) -> &'static [&'static str] {
        match self.flavor {
            Flavor::MariaDb => &[ROOT_HASH_KEY, APP_HASH_KEY],
            Flavor::MySql => &[],
        }
    }

    /// With TLS, verification of the server's name and certificate in each
    /// driver's words: `ssl-mode=VERIFY_IDENTITY` (MySQL clients),
    /// Connector/J's `sslMode=VERIFY_IDENTITY`, MariaDB Connector/J's
    /// `sslMode=verify-full`.
    fn connection_uris(&self, c: &Connection<'_>) -> BTreeMap<&'static str, String> {
        let Connection { host, port, username, password, database, tls } = c;
        let jdbc = match self.flavor {
            Flavor::MySql => "mysql",
            Flavor::MariaDb => "mariadb",
        };
        let (query, jdbc_tls) = match (tls, self.flavor) {
            (ClientTls::Off, _) => ("", ""),
            (ClientTls::Verify(_), Flavor::MySql) => ("?ssl-mode=VERIFY_IDENTITY", "&sslMode=VERIFY_IDENTITY"),
            (ClientTls::Verify(_), Flavor::MariaDb) => ("?ssl-mode=VERIFY_IDENTITY", "&sslMode=verify-full"),
        };
        BTreeMap::from([
            ("uri", format!("mysql://{username}:{password}@{host}:{port}/{database}{query}")),
            (
                "jdbc-uri",
                format!("jdbc:{jdbc}://{host}:{port}/{database}?user={username}&password={password}{jdbc_tls}"),
            ),
        ])
    }

    /// One consistent snapshot of InnoDB tables without locking writers;
    /// binary values as hex so the dump is plain text; with routines,
    /// triggers and events, so a restore (or a safety backup) has them all.
    fn dump_command(&self, c: &Connection<'_>) -> ToolCommand {
        let flags = [
            "--single-transaction",
            "--quick",
            "--routines",
            "--triggers",
            "--events",
            "--hex-blob",
            "--no-create-db",
            // Tablespaces are the server's, not the service's (and need PROCESS).
            "--no-tablespaces",
        ];
        ToolCommand {
            program: self.client_program("dump"),
            args: [&mysql_connection_args(c)[..], &flags.map(String::from), &[c.database.to_string()]].concat(),
            env: vec![("MYSQL_PWD", c.password.to_string())],
            trailer: None,
        }
    }

    /// PROCESS, REPLICATION CLIENT and SELECT on performance_schema: what the
    /// exporter's default collectors read.
    fn exporter_image(&self) -> &'static str {
        "quay.io/prometheus/mysqld-exporter:v0.17.2"
    }

    /// With TLS, the exporter verifies the server against the CA named in
    /// its my.cnf (the only place mysqld_exporter takes a CA from).
    fn exporter(&self, admin_secret: &str, tls: bool) -> Exporter {
        let mut args = vec![
            format!("--web.listen-address=:{}", Self::EXPORTER_PORT),
            format!("--mysqld.address=127.0.0.1:{PORT}"),
            format!("--mysqld.username={MONITOR_USERNAME}"),
        ];
        let config = tls.then(|| {
            args.push(format!("--config.my-cnf={}", tls_path(Self::EXPORTER_CNF)));
            ExporterConfig {
                file: Self::EXPORTER_CNF,
                content: format!("[client]\nuser={MONITOR_USERNAME}\nssl-ca={}\n", tls_path(CA_KEY)),
            }
        });
        Exporter {
            up_metric: "mysql_up",
            connections: ("mysql_global_status_threads_connected", "mysql_global_variables_max_connections"),
            port: Self::EXPORTER_PORT,
            args,
            env: vec![monitor_password("MYSQLD_EXPORTER_PASSWORD", admin_secret)],
            config,
        }
    }

    fn restore_method(&self, c: &Connection<'_>, _owner: &str) -> RestoreMethod {
        RestoreMethod::Stream(ToolCommand {
            program: self.client_program(""),
            args: [&mysql_connection_args(c)[..], &[format!("--database={}", c.database)]].concat(),
            env: vec![("MYSQL_PWD", c.password.to_string())],
            trailer: None,
        })
    }

    fn administer<'a>(
        &'a self,
        target: &'a Target,
        admin: &'a Login,
        wanted: &'a Wanted,
    ) -> BoxFuture<'a, Result<(), AdminError>> {
        let flavor = match self.flavor {
            Flavor::MySql => admin::mysql::Flavor::MySql,
            Flavor::MariaDb => admin::mysql::Flavor::MariaDb,
        };
        Box::pin(admin::mysql::ensure(target, admin, wanted, flavor))
    }

    fn reload_tls<'a>(&'a self, target: &'a Target, admin: &'a Login) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(admin::mysql::reload_tls(target, admin))
    }

    /// The schema's tables, views and routines.
    fn contents<'a>(&'a self, place: Place<'a>) -> BoxFuture<'a, Result<Contents, AdminError>> {
        Box::pin(async move {
            match place {
                Place::Server { target, admin, database } => {
                    admin::mysql::contents(target, admin, safe_name(database)?).await
                }
                Place::DataDir(_) => Err(place.unsupported(self.repository())),
            }
        })
    }
}

impl MySql {
    const EXPORTER_PORT: u16 = 9104;
    /// Admin Secret key (and file in the TLS directory) of the exporter's my.cnf.
    const EXPORTER_CNF: &str = "exporter.cnf";

    /// `mariadb`/`mariadb-dump` or `mysql`/`mysqldump`.
    fn client_program(&self, suffix: &str) -> &'static str {
        match (self.flavor, suffix) {
            (Flavor::MariaDb, "") => "mariadb",
            (Flavor::MariaDb, _) => "mariadb-dump",
            (Flavor::MySql, "") => "mysql",
            (Flavor::MySql, _) => "mysqldump",
        }
    }
}

/// With TLS, the MariaDB and MySQL clients' flags that verify the server
/// (`--ssl-verify-server-cert` checks the name too).
fn mysql_connection_args(c: &Connection<'_>) -> Vec<String> {
    let mut args = vec![
        format!("--host={}", c.host),
        format!("--port={}", c.port),
        format!("--user={}", c.username),
        "--protocol=tcp".into(),
    ];
    if let ClientTls::Verify(ca_file) = c.tls {
        args.extend(ca_file.map(|file| format!("--ssl-ca={file}")));
        args.push("--ssl-verify-server-cert".into());
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn native_password_hash_matches_the_server_function() {
        // SELECT PASSWORD('password') on MySQL 5.7 / MariaDB.
        assert_eq!(mysql_native_password_hash("password"), "*2470C0C06DEE42FD1618BB99005ADCA2EC9D1E19");
    }

    #[test]
    fn mariadb_receives_hashes_never_passwords() {
        let env = MySql::MARIADB.env(SecretNames { admin: "a", credentials: "c" });
        let names: Vec<&str> = env.iter().map(|e| e.name.as_str()).collect();
        assert!(names.contains(&"MARIADB_PASSWORD_HASH") && names.contains(&"MARIADB_ROOT_PASSWORD_HASH"));
        assert!(!names.iter().any(|n| n.ends_with("PASSWORD")), "{names:?}");
        assert!(env.iter().all(|e| e.value.as_deref().is_none_or(|v| !v.contains("password"))));
    }

    #[test]
    fn with_tls_the_server_requires_it_and_every_client_verifies() {
        let args = MySql::MARIADB.args(true).unwrap();
        assert!(args.contains(&"--require-secure-transport=ON".to_string()), "{args:?}");
        assert_eq!(MySql::MARIADB.args(false), None);
        let c = Connection {
            host: "orders-db.shop.svc",
            port: 3306,
            username: "orders",
            password: "pw",
            database: "orders",
            tls: ClientTls::Verify(Some("/tls/ca.crt")),
        };
        let dump = MySql::MARIADB.dump_command(&c);
        assert!(dump.args.contains(&"--ssl-ca=/tls/ca.crt".to_string()));
        assert!(dump.args.contains(&"--ssl-verify-server-cert".to_string()));
        let uris = MySql::MARIADB.connection_uris(&c);
        assert!(
            uris["uri"].ends_with("?ssl-mode=VERIFY_IDENTITY") && uris["jdbc-uri"].ends_with("&sslMode=verify-full")
        );
        let exporter = MySql::MARIADB.exporter("a", true);
        let config = exporter.config.expect("a my.cnf naming the CA");
        assert!(config.content.contains("ssl-ca=/etc/servicedb/tls/ca.crt"));
        assert!(exporter.args.contains(&"--config.my-cnf=/etc/servicedb/tls/exporter.cnf".to_string()));
        assert!(MySql::MARIADB.exporter("a", false).config.is_none());
    }

    #[test]
    fn versions_and_images_per_flavor() {
        assert_eq!(MySql::MARIADB.image("11.4").as_deref(), Some("docker.io/library/mariadb:11.4"));
        assert_eq!(MySql::MYSQL.image("8.4").as_deref(), Some("docker.io/library/mysql:8.4"));
        assert_eq!(MySql::MYSQL.image("11.4"), None);
    }
}
