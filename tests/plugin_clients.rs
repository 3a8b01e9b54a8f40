//! Engine tier for `kubectl servicedb connect`: the client command it builds
//! (program, arguments, password in the environment) run for real against
//! PostgreSQL, MariaDB and Redis on loopback ports, logging in as the
//! service's login and running the caller's extra arguments. The
//! port-forward in front of it is covered on the real node (e2e).

mod common;
#[path = "common/tls.rs"]
mod tls_files;

use servicedb::api::Engine;
use servicedb::engine::{generate_password, mysql_native_password_hash};
use servicedb::plugin::{Login, ServerTls, client_command};
use std::process::Command;

/// Runs what `connect` would run; stdout, or stdout and stderr on failure.
fn run(engine: Engine, password: &str, port: u16, extra: &[&str]) -> String {
    run_as(engine, password, port, None, extra)
}

/// The same against a server that serves TLS: the client verifies it
/// against `ca_file` for the name of the Service.
fn run_as(engine: Engine, password: &str, port: u16, ca_file: Option<&std::path::Path>, extra: &[&str]) -> String {
    let tls =
        ca_file.map(|file| ServerTls { ca_file: file.display().to_string(), server_name: "orders-db.shop.svc".into() });
    let login = Login { username: "orders".into(), password: password.into(), database: "orders".into(), tls };
    let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
    let command = client_command(engine, login, port, &extra);
    assert!(command.args.iter().all(|a| !a.contains(password)), "the password is not on the command line");
    let out = Command::new(command.program)
        .args(&command.args)
        .envs(command.env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the engine's client is installed (make deps)");
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success(), "{} failed: {text}{}", command.program, String::from_utf8_lossy(&out.stderr));
    text
}

#[test]
fn psql_logs_in_as_the_service() {
    let server = common::postgres();
    let password = generate_password().unwrap();
    server.admin_sql(&format!("create role orders login password '{password}'"));
    server.admin_sql("create database orders owner orders");
    assert_eq!(
        run(Engine::Postgres, &password, server.port, &["-tAc", "select current_user || ' ' || current_database()"]),
        "orders orders"
    );
}

#[test]
fn mariadb_logs_in_as_the_service() {
    let server = common::mariadb();
    let password = generate_password().unwrap();
    common::bootstrap(&server, "orders", &mysql_native_password_hash(&password));
    let who = run(Engine::Mariadb, &password, server.port, &["-N", "-e", "select current_user(), database()"]);
    assert_eq!(who.split_whitespace().collect::<Vec<_>>(), ["orders@%", "orders"]);
}

#[test]
fn redis_cli_logs_in_as_the_service() {
    let password = generate_password().unwrap();
    let (server, _) = common::redis_with_logins(&generate_password().unwrap(), &password);
    assert_eq!(run(Engine::Redis, &password, server.port, &["ACL", "WHOAMI"]), "orders");
}

/// A certificate for `orders-db` in `shop` from a new CA.
fn keys() -> servicedb::tls::ServerKeys {
    let authority = servicedb::tls::Authority::generate(std::time::SystemTime::now()).unwrap();
    authority.issue(&servicedb::tls::server_names("orders-db", "shop"), std::time::SystemTime::now()).unwrap()
}

#[test]
fn over_tls_every_client_verifies_the_server_and_logs_in_as_the_service() {
    use servicedb::engine::{Engine as _, MySql};
    let password = generate_password().unwrap();

    let pg_files = tls_files::files(&keys(), Some("postgres"));
    let pg = tls_files::postgres(&generate_password().unwrap(), &pg_files);
    pg.admin_sql(&format!("create role orders login password '{password}'"));
    pg.admin_sql("create database orders owner orders");
    let ca = pg_files.path().join("ca.crt");
    let sql = ["-tAc", "select current_user || ' ' || ssl from pg_stat_ssl where pid = pg_backend_pid()"];
    assert_eq!(run_as(Engine::Postgres, &password, pg.port, Some(&ca), &sql), "orders true");

    let maria_files = tls_files::files(&keys(), None);
    let args = tls_files::relocated(&maria_files, &MySql::MARIADB.args(true).unwrap());
    let settings: Vec<&str> = args.iter().map(String::as_str).collect();
    let options = servicedb_test_support::mariadb::Options { general_log: false, settings: &settings };
    let maria = servicedb_test_support::mariadb::Server::start(&options).unwrap();
    common::bootstrap(&maria, "orders", &mysql_native_password_hash(&password));
    let ca = maria_files.path().join("ca.crt");
    let cipher =
        run_as(Engine::Mariadb, &password, maria.port, Some(&ca), &["-N", "-e", "show status like 'Ssl_cipher'"]);
    assert!(cipher.starts_with("Ssl_cipher") && cipher.split_whitespace().count() == 2, "no TLS: {cipher}");

    let redis_files = tls_files::files(&keys(), None);
    let acl = servicedb::engine::redis_acl_file(servicedb::engine::Logins {
        admin_username: "admin",
        admin_password: &generate_password().unwrap(),
        app_username: "orders",
        app_password: &password,
    });
    let options = servicedb_test_support::redis::Options {
        acl: &acl,
        dir: None,
        append_only: false,
        tls: Some(redis_files.path()),
    };
    let redis = servicedb_test_support::redis::Server::start(&options).unwrap();
    let ca = redis_files.path().join("ca.crt");
    assert_eq!(run_as(Engine::Redis, &password, redis.port, Some(&ca), &["ACL", "WHOAMI"]), "orders");
}
