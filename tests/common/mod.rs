//! Shared by the engine tests: the servers of `servicedb-test-support`
//! started the way these tests want them (statements logged, servicedb's
//! passwords, ACL file and init script), and a client reconnecting through a
//! rotation.

#![allow(dead_code)]

pub mod cli;

use servicedb_test_support::{mariadb, postgres, redis};
use std::time::Duration;

/// A private PostgreSQL server logging every statement, its superuser
/// `postgres` with a generated password.
pub fn postgres() -> postgres::Server {
    let password = servicedb::engine::generate_password().expect("a password");
    let options =
        postgres::Options { admin_user: "postgres", admin_password: &password, settings: &[("log_statement", "all")] };
    postgres::Server::start(&options).expect("PostgreSQL starts")
}

/// Runs servicedb's PostgreSQL init script the way the official image does.
pub fn run_init_script(
    server: &postgres::Server,
    username: &str,
    database: &str,
    verifier: &str,
) -> std::process::Output {
    use servicedb::engine::{Engine, Postgres};
    let scripts = Postgres.init_scripts(false).expect("PostgreSQL has init scripts");
    let script = scripts.files.values().next().expect("one init script");
    let env = [
        ("POSTGRES_USER", server.admin_user.as_str()),
        ("SERVICEDB_APP_USERNAME", username),
        ("SERVICEDB_APP_DATABASE", database),
        ("SERVICEDB_APP_PASSWORD_SCRAM", verifier),
    ];
    server.run_script(script, &env).expect("the init script runs")
}

/// A private MariaDB server logging every statement to its general log.
pub fn mariadb() -> mariadb::Server {
    mariadb::Server::start(&mariadb::Options { general_log: true, ..Default::default() }).expect("MariaDB starts")
}

/// What the official image's entrypoint runs for MARIADB_USER,
/// MARIADB_PASSWORD_HASH and MARIADB_DATABASE, all named `name`.
pub fn bootstrap(server: &mariadb::Server, name: &str, hash: &str) {
    server.create_login(name, name, mariadb::Identified::Hash(hash)).expect("the service's login is created");
}

/// A private Redis server with this ACL file, nothing on disk.
pub fn redis(acl: &str) -> redis::Server {
    redis::Server::start(&redis::Options { acl, dir: None, append_only: false, tls: None }).expect("Redis starts")
}

/// A Redis server whose ACL file has the operator's admin and the service's
/// login with these passwords; returns it with the ACL file's text.
pub fn redis_with_logins(admin_password: &str, app_password: &str) -> (redis::Server, String) {
    let acl = servicedb::engine::redis_acl_file(servicedb::engine::Logins {
        admin_username: "admin",
        admin_password,
        app_username: "orders",
        app_password,
    });
    (redis(&acl), acl)
}

/// What the service's pods read: the credentials Secret's username and password.
pub type Current = std::sync::Arc<std::sync::Mutex<(String, String)>>;

/// A client that, every 50 ms until `stop`, reads the current credentials and
/// opens a new connection with them (bounded: at most 1,000 attempts).
/// Returns (attempts, failures as messages).
pub async fn reconnect_loop<F, Fut>(
    current: Current,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connect: F,
) -> (usize, Vec<String>)
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut attempts = 0;
    let mut failures = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) && attempts < 1000 {
        let (user, password) = current.lock().unwrap().clone();
        attempts += 1;
        if let Err(e) = connect(user.clone(), password).await {
            failures.push(format!("{user}: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (attempts, failures)
}

/// Drives a rotation from login A (`one`) to login B (`two`) the way the
/// operator does, while a client reconnects every 50 ms with whatever the
/// "Secret" says: B gets its password (A still works), the Secret switches,
/// then A is disabled. Returns the client's (attempts, failures).
pub async fn rotate_under_load<F, Fut>(
    engine: servicedb::api::Engine,
    target: &servicedb::engine::admin::Target,
    admin: &servicedb::engine::admin::Login,
    database: &str,
    (one, two): (&str, &str),
    connect: F,
) -> (usize, Vec<String>)
where
    F: Fn(String, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    use servicedb::engine::admin::{AppLogin, Login, Wanted};
    use servicedb::engine::for_kind;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let login = |name: &str, password: &str, enabled| AppLogin {
        login: Login { username: name.into(), password: password.into() },
        enabled,
    };
    let wanted = |app| Wanted {
        database: database.into(),
        app,
        monitor: Login { username: "servicedb_monitor".into(), password: "m0nitor".into() },
        backup: Login { username: "servicedb_backup".into(), password: "b4ckup".into() },
    };
    let phase = |app| {
        let wanted = wanted(app);
        async move { for_kind(engine).ensure(target, admin, &wanted).await.expect("administered") }
    };
    phase(vec![login("orders", one, true)]).await;
    let current: Current = Arc::new(Mutex::new(("orders".into(), one.to_string())));
    let stop = Arc::new(AtomicBool::new(false));
    let client = tokio::spawn(reconnect_loop(current.clone(), stop.clone(), connect));
    let settle = || tokio::time::sleep(Duration::from_millis(800));
    settle().await;
    phase(vec![login("orders", one, true), login("orders_b", two, true)]).await;
    settle().await;
    *current.lock().unwrap() = ("orders_b".into(), two.to_string());
    settle().await;
    phase(vec![login("orders", one, false), login("orders_b", two, true)]).await;
    settle().await;
    stop.store(true, Ordering::SeqCst);
    client.await.expect("the client loop ran")
}
