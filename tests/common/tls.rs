//! TLS files and servers for the tests: the files of the TLS directory as
//! the kubelet mounts them, and a PostgreSQL server started with the
//! operator's TLS settings for the engine.

#![allow(dead_code)]

use servicedb::engine::{CA_KEY, Engine, Postgres, TLS_CERT_KEY, TLS_DIR, TLS_KEY_KEY};
use servicedb::tls::ServerKeys;
use servicedb_test_support::postgres;
use std::path::Path;
use std::process::Command;

/// The files of [`TLS_DIR`]; each replaced whole (rename), as the kubelet
/// swaps its `..data` link. `owner`: the uid the server runs as.
pub fn write_keys(dir: &Path, keys: &ServerKeys, owner: Option<u32>) {
    use std::os::unix::fs::PermissionsExt;
    for (name, text, mode) in
        [(TLS_CERT_KEY, &keys.cert_pem, 0o644), (TLS_KEY_KEY, &keys.key_pem, 0o600), (CA_KEY, &keys.ca_pem, 0o644)]
    {
        let staged = dir.join(format!(".{name}.new"));
        std::fs::write(&staged, text).unwrap();
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&staged, Some(uid), Some(uid)).unwrap();
        }
        std::fs::rename(&staged, dir.join(name)).unwrap();
    }
}

/// An engine's args with its files where a test keeps them.
pub fn relocated(args: Vec<String>, dir: &Path) -> Vec<String> {
    args.into_iter().map(|a| a.replace(TLS_DIR, &dir.display().to_string())).collect()
}

/// The uid of `user` when the tests run as root (servers then drop to it).
pub fn uid_of(user: &str) -> Option<u32> {
    if !servicedb_test_support::is_root() {
        return None;
    }
    let out = Command::new("id").args(["-u", user]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// A PostgreSQL server with the settings `Postgres.args(true)` gives the
/// container (ssl on, the certificate and key, the hba file of TCP logins
/// over TLS only), its files in `dir`.
pub fn postgres(admin_password: &str, keys: &ServerKeys, dir: &Path) -> postgres::Server {
    let owner = uid_of("postgres");
    if let Some(uid) = owner {
        std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    }
    write_keys(dir, keys, owner);
    let hba = Postgres.init_scripts(true).unwrap().files["pg_hba.conf"].clone();
    let hba_file = dir.join("pg_hba.conf");
    std::fs::write(&hba_file, hba).unwrap();
    let args = relocated(Postgres.args(true).unwrap(), dir);
    let settings: Vec<(String, String)> = args
        .iter()
        .filter(|a| *a != "-c")
        .filter_map(|a| a.split_once('='))
        .map(|(k, v)| (k.to_string(), if k == "hba_file" { hba_file.display().to_string() } else { v.to_string() }))
        .collect();
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let options = postgres::Options { admin_user: "postgres", admin_password, settings: &settings };
    postgres::Server::start(&options).expect("PostgreSQL starts with servicedb's TLS settings")
}
