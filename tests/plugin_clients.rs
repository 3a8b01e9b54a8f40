//! Engine tier for `kubectl servicedb connect`: the client command it builds
//! (program, arguments, password in the environment) run for real against
//! PostgreSQL, MariaDB and Redis on loopback ports, logging in as the
//! service's login and running the caller's extra arguments. The
//! port-forward in front of it is covered on the real node (e2e).

mod common;

use servicedb::api::Engine;
use servicedb::engine::{generate_password, mysql_native_password_hash};
use servicedb::plugin::{Login, client_command};
use std::process::Command;

/// Runs what `connect` would run; stdout, or stdout and stderr on failure.
fn run(engine: Engine, password: &str, port: u16, extra: &[&str]) -> String {
    let login = Login { username: "orders".into(), password: password.into(), database: "orders".into() };
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
