//! TLS for the tests: a server's files from a certificate the operator's CA
//! issued, and a PostgreSQL server started with the operator's TLS
//! settings for the engine.

#![allow(dead_code)]

use servicedb::engine::{Engine, Postgres, TLS_DIR};
use servicedb::tls::ServerKeys;
use servicedb_test_support::{postgres, tls::Files};

/// The files of `keys`, for a server that runs as `user` (when root).
pub fn files(keys: &ServerKeys, user: Option<&str>) -> Files {
    Files::new(&keys.cert_pem, &keys.key_pem, &keys.ca_pem, user).expect("the TLS files")
}

/// A renewal (or any new certificate) as the kubelet delivers it.
pub fn replace(files: &Files, keys: &ServerKeys) {
    files.replace(&keys.cert_pem, &keys.key_pem, &keys.ca_pem).expect("the TLS files replaced");
}

/// An engine's args with its files where `files` keeps them.
pub fn relocated(files: &Files, args: &[String]) -> Vec<String> {
    files.relocate(args, TLS_DIR)
}

/// A PostgreSQL server with the settings `Postgres.args(true)` gives the
/// container (ssl on, the certificate and key, the hba file of TCP logins
/// over TLS only); `files` made for the user `postgres`.
pub fn postgres(admin_password: &str, files: &Files) -> postgres::Server {
    let hba = Postgres.init_scripts(true).unwrap().files["pg_hba.conf"].clone();
    let hba_file = files.add("pg_hba.conf", &hba).unwrap().display().to_string();
    let args = relocated(files, &Postgres.args(true).unwrap());
    let mut settings = servicedb_test_support::tls::postgres_settings(&args);
    for (name, value) in &mut settings {
        if name == "hba_file" {
            *value = hba_file.clone();
        }
    }
    let settings: Vec<(&str, &str)> = settings.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let options = postgres::Options { admin_user: "postgres", admin_password, settings: &settings };
    postgres::Server::start(&options).expect("PostgreSQL starts with servicedb's TLS settings")
}
