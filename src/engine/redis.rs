//! Redis: one ACL file from the admin Secret with SHA-256 password hashes
//! (never clear text): the default user off, the operator's admin, and the
//! service's login with every key but no dangerous command.

use super::admin::{self, AdminError, Contents, Login, Place, Target, Wanted};
use super::env::env_value;
use super::{
    CA_KEY, ClientTls, Connection, Engine, Exporter, Logins, MONITOR_USERNAME, RestoreMethod, SecretFiles, SecretNames,
    TLS_CERT_KEY, TLS_KEY_KEY, ToolCommand, Trailer, monitor_password, tcp_check, tls_path,
};
use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{EnvVar, Probe};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub struct Redis;

const PORT: u16 = 6379;
pub const ACL_KEY: &str = "users.acl";
const ACL_DIR: &str = "/etc/servicedb";

fn sha256_hex(password: &str) -> String {
    Sha256::digest(password.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The ACL file. Usernames are validated identifiers ([a-z0-9_]); passwords
/// appear only as `#<sha256>`.
pub fn redis_acl_file(logins: Logins<'_>) -> String {
    format!(
        "user default off\nuser {} on #{} ~* &* +@all\nuser {} on #{} ~* &* +@all -@dangerous\n",
        logins.admin_username,
        sha256_hex(logins.admin_password),
        logins.app_username,
        sha256_hex(logins.app_password)
    )
}

const EOF_MARK: usize = 40;

/// With diskless replication the server ends the RDB with a 40-character
/// mark that `redis-cli --rdb -` cannot cut off a pipe. An RDB ends with
/// 0xFF and an 8-byte checksum, so a dump that ends with them followed by
/// 40 alphanumeric characters carries the mark (a clean RDB never does: its
/// last 9 bytes hold 0xFF, which is not alphanumeric).
pub fn redis_eof_mark(tail: &[u8]) -> usize {
    let carries = tail.len() >= EOF_MARK + 9
        && tail[tail.len() - EOF_MARK - 9] == 0xFF
        && tail[tail.len() - EOF_MARK..].iter().all(u8::is_ascii_alphanumeric);
    if carries { EOF_MARK } else { 0 }
}

impl Engine for Redis {
    fn supported_versions(&self) -> &'static [&'static str] {
        &["7.2", "7.4", "8.0"]
    }

    fn image(&self, version: &str) -> Option<String> {
        self.supported_versions().contains(&version).then(|| format!("docker.io/library/redis:{version}"))
    }

    fn port(&self) -> (u16, &'static str) {
        (PORT, "redis")
    }

    fn admin_username(&self) -> &'static str {
        "admin"
    }

    fn run_as_user(&self) -> i64 {
        999 // the `redis` user of the official image
    }

    fn data_mount_path(&self) -> &'static str {
        "/data"
    }

    fn scratch_dirs(&self) -> &'static [&'static str] {
        &["/tmp"]
    }

    /// With TLS, the same port speaks TLS only (no plain port); clients
    /// need no certificate of their own, their ACL login is the check.
    fn args(&self, tls: bool) -> Option<Vec<String>> {
        let acl = format!("{ACL_DIR}/{ACL_KEY}");
        let mut args: Vec<String> =
            ["redis-server", "--aclfile", &acl, "--dir", "/data", "--appendonly", "yes", "--protected-mode", "no"]
                .map(String::from)
                .to_vec();
        if tls {
            args.extend(
                [
                    ("--port", "0".to_string()),
                    ("--tls-port", PORT.to_string()),
                    ("--tls-cert-file", tls_path(TLS_CERT_KEY)),
                    ("--tls-key-file", tls_path(TLS_KEY_KEY)),
                    ("--tls-ca-cert-file", tls_path(CA_KEY)),
                    ("--tls-auth-clients", "no".to_string()),
                ]
                .into_iter()
                .flat_map(|(flag, value)| [flag.to_string(), value]),
            );
        }
        Some(args)
    }

    fn env(&self, _secrets: SecretNames<'_>) -> Vec<EnvVar> {
        Vec::new()
    }

    fn health_check(&self) -> Probe {
        tcp_check(PORT)
    }

    fn admin_secret_files(&self) -> Option<SecretFiles> {
        Some(SecretFiles { mount_path: ACL_DIR, files: &[(ACL_KEY, ACL_KEY)] })
    }

    /// Redis has numbered databases; the service gets the keyspace of 0.
    fn app_database(&self, _identifier: &str) -> String {
        "0".to_string()
    }

    fn derived_admin_keys(&self, logins: Logins<'_>) -> BTreeMap<String, String> {
        BTreeMap::from([(ACL_KEY.to_string(), redis_acl_file(logins))])
    }

    fn derived_admin_key_names(&self) -> &'static [&'static str] {
        &[ACL_KEY]
    }

    /// With TLS, `rediss://`: clients verify the server by default.
    fn connection_uris(&self, c: &Connection<'_>) -> BTreeMap<&'static str, String> {
        let Connection { host, port, username, password, database, tls } = c;
        let scheme = if *tls == ClientTls::Off { "redis" } else { "rediss" };
        BTreeMap::from([("uri", format!("{scheme}://{username}:{password}@{host}:{port}/{database}"))])
    }

    /// An RDB snapshot through the replication protocol, as the server
    /// itself writes it.
    fn dump_command(&self, c: &Connection<'_>) -> ToolCommand {
        let mut args: Vec<String> =
            vec!["-h".into(), c.host.to_string(), "-p".into(), c.port.to_string(), "--user".into(), c.username.into()];
        if let ClientTls::Verify(ca_file) = c.tls {
            args.push("--tls".into());
            args.extend(ca_file.into_iter().flat_map(|file| ["--cacert".to_string(), file.to_string()]));
        }
        args.extend(["--rdb".into(), "-".into()]);
        ToolCommand {
            program: "redis-cli",
            args,
            env: vec![("REDISCLI_AUTH", c.password.to_string())],
            trailer: Some(Trailer { window: EOF_MARK + 9, excess: redis_eof_mark }),
        }
    }

    /// INFO, CONFIG GET and a few read-only diagnostics, no key access
    /// (the monitoring user's ACL rules).
    fn exporter_image(&self) -> &'static str {
        "quay.io/oliver006/redis_exporter:v1.74.0"
    }

    fn exporter(&self, admin_secret: &str, tls: bool) -> Exporter {
        let scheme = if tls { "rediss" } else { "redis" };
        let mut env = vec![
            env_value("REDIS_ADDR", &format!("{scheme}://localhost:{PORT}")),
            env_value("REDIS_USER", MONITOR_USERNAME),
            monitor_password("REDIS_PASSWORD", admin_secret),
            env_value("REDIS_EXPORTER_WEB_LISTEN_ADDRESS", ":9121"),
        ];
        if tls {
            env.push(env_value("REDIS_EXPORTER_TLS_CA_CERT_FILE", &tls_path(CA_KEY)));
        }
        Exporter {
            up_metric: "redis_up",
            connections: ("redis_connected_clients", "redis_config_maxclients"),
            port: 9121,
            args: Vec::new(),
            env,
            config: None,
        }
    }

    /// Redis loads an RDB only at start. The instance runs with AOF on, and
    /// then reads only its AOF: the RDB becomes the base of a multi-part AOF.
    fn restore_method(&self, _c: &Connection<'_>, _owner: &str) -> RestoreMethod {
        RestoreMethod::DataFile {
            file: "appendonlydir/appendonly.aof.1.base.rdb",
            beside: &[("appendonlydir/appendonly.aof.manifest", "file appendonly.aof.1.base.rdb seq 1 type b\n")],
        }
    }

    /// The database is the number [`Engine::app_database`] picks, never a
    /// name the service chose, and no ACL command carries it.
    fn check_database(&self, _name: &str) -> Result<(), AdminError> {
        Ok(())
    }

    fn administer<'a>(
        &'a self,
        target: &'a Target,
        admin: &'a Login,
        wanted: &'a Wanted,
    ) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(admin::redis::ensure(target, admin, wanted))
    }

    fn reload_tls<'a>(&'a self, target: &'a Target, admin: &'a Login) -> BoxFuture<'a, Result<(), AdminError>> {
        Box::pin(admin::redis::reload_tls(target, admin))
    }

    /// The keyspace files in the data directory (restores go there, before
    /// the server first starts).
    fn contents<'a>(&'a self, place: Place<'a>) -> BoxFuture<'a, Result<Contents, AdminError>> {
        Box::pin(async move {
            match place {
                Place::DataDir(dir) => admin::redis::contents(dir),
                Place::Server { .. } => Err(place.unsupported("redis")),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acl_file_holds_hashes_and_disables_the_default_user() {
        let acl = redis_acl_file(Logins {
            admin_username: "admin",
            admin_password: "A-secret",
            app_username: "orders",
            app_password: "B-secret",
        });
        assert!(acl.starts_with("user default off\n"));
        assert!(acl.contains(&format!("user orders on #{} ~* &* +@all -@dangerous", sha256_hex("B-secret"))));
        assert!(!acl.contains("A-secret") && !acl.contains("B-secret"));
    }

    #[test]
    fn with_tls_the_port_speaks_tls_only_and_clients_verify() {
        let args = Redis.args(true).unwrap();
        let pair = |flag: &str| args.iter().position(|a| a == flag).map(|i| args[i + 1].as_str());
        assert_eq!(pair("--port"), Some("0"), "no plain port");
        assert_eq!(pair("--tls-port"), Some("6379"));
        assert!(!Redis.args(false).unwrap().contains(&"--tls-port".to_string()));
        let c = Connection {
            host: "orders-db.shop.svc",
            port: 6379,
            username: "servicedb_backup",
            password: "pw",
            database: "0",
            tls: ClientTls::Verify(Some("/tls/ca.crt")),
        };
        let dump = Redis.dump_command(&c);
        assert!(dump.args.windows(2).any(|w| w == ["--cacert", "/tls/ca.crt"]) && dump.args.contains(&"--tls".into()));
        assert!(Redis.connection_uris(&c)["uri"].starts_with("rediss://"));
        let exporter = Redis.exporter("a", true);
        assert!(exporter.env.iter().any(|e| e.name == "REDIS_EXPORTER_TLS_CA_CERT_FILE"));
    }

    #[test]
    fn only_the_diskless_eof_mark_is_cut() {
        let clean: Vec<u8> = [&b"REDIS0010"[..], &[0xFF], &[1, 2, 3, 4, 5, 6, 7, 8]].concat();
        let marked: Vec<u8> = [&clean[..], &b"e7431c4a06759cc625e233854b9fbbd8520d3312"[..]].concat();
        assert_eq!(redis_eof_mark(&marked), EOF_MARK);
        assert_eq!(redis_eof_mark(&clean), 0);
        assert_eq!(redis_eof_mark(&marked[marked.len() - 49..]), EOF_MARK);
        assert_eq!(redis_eof_mark(&marked[marked.len() - 48..]), 0, "too short to tell: keep");
    }
}
