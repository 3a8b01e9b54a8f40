//! Monitoring logins with the real exporters (Debian's
//! prometheus-postgres-exporter, -mysqld-exporter and -redis-exporter): the
//! login the operator creates is enough for each to report the engine up.

mod common;
#[path = "common/tls.rs"]
mod tls_files;

use servicedb::api::Engine;
use servicedb::engine::admin::{AppLogin, Login, Target, Wanted};
use servicedb::engine::for_kind;
use servicedb::engine::{generate_password, mysql_native_password_hash};
use servicedb_test_support::process::SIGKILL;
use servicedb_test_support::{Process, free_port};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MONITOR: &str = "servicedb_monitor";

fn wanted(app: &str, monitor: &str) -> Wanted {
    Wanted {
        database: "orders".into(),
        app: vec![AppLogin { login: Login { username: "orders".into(), password: app.into() }, enabled: true }],
        monitor: Login { username: MONITOR.into(), password: monitor.into() },
        backup: Login { username: "servicedb_backup".into(), password: "b4ckup".into() },
    }
}

/// Starts an exporter on a free loopback port and returns its first scrape
/// that has `metric`; panics after 30 s.
fn scrape(mut command: Command, listen_flag: &str, metric: &str) -> String {
    let port = free_port().expect("a free port");
    command.arg(format!("{listen_flag}=127.0.0.1:{port}")).stdout(Stdio::null()).stderr(Stdio::null());
    let _exporter = Process::spawn("the exporter (installed by make deps)", &mut command, SIGKILL).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new("curl").args(["-fsS", &format!("http://127.0.0.1:{port}/metrics")]).output().unwrap();
        let body = String::from_utf8_lossy(&out.stdout).to_string();
        if body.lines().any(|l| l.starts_with(metric)) {
            return body;
        }
        assert!(Instant::now() < deadline, "no {metric} from the exporter after 30s");
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn value(body: &str, metric: &str) -> Option<f64> {
    body.lines().find(|l| l.starts_with(&format!("{metric} "))).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
}

#[tokio::test]
async fn postgres_exporter_reports_up_with_the_monitoring_login() {
    let server = common::postgres();
    let (app, monitor) = (generate_password().unwrap(), generate_password().unwrap());
    let target = Target::plain("127.0.0.1", server.port);
    let admin = Login { username: "postgres".into(), password: server.admin_password.clone() };
    for_kind(Engine::Postgres).ensure(&target, &admin, &wanted(&app, &monitor)).await.expect("administered");

    let mut exporter = Command::new("prometheus-postgres-exporter");
    exporter
        .env("DATA_SOURCE_URI", format!("127.0.0.1:{}/postgres?sslmode=disable", server.port))
        .env("DATA_SOURCE_USER", MONITOR)
        .env("DATA_SOURCE_PASS", &monitor);
    let body = scrape(exporter, "--web.listen-address", "pg_up");
    assert_eq!(value(&body, "pg_up"), Some(1.0), "pg_up is not 1");
    // pg_monitor lets it read the statistics views, too.
    assert!(body.lines().any(|l| l.starts_with("pg_stat_database_")), "no pg_stat_database metrics");
}

#[tokio::test]
async fn mysqld_exporter_reports_up_with_the_monitoring_login() {
    let server = common::mariadb();
    let (admin_password, app, monitor) =
        (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    // What the image does with MARIADB_ROOT_HOST=% and MARIADB_ROOT_PASSWORD_HASH.
    let hash = mysql_native_password_hash(&admin_password);
    server.create_root_login(servicedb_test_support::mariadb::Identified::Hash(&hash)).expect("root over TCP");
    let target = Target::plain("127.0.0.1", server.port);
    let admin = Login { username: "root".into(), password: admin_password };
    for_kind(Engine::Mariadb).ensure(&target, &admin, &wanted(&app, &monitor)).await.expect("administered");

    let mut exporter = Command::new("prometheus-mysqld-exporter");
    exporter.env("DATA_SOURCE_NAME", format!("{MONITOR}:{monitor}@(127.0.0.1:{})/", server.port));
    let body = scrape(exporter, "--web.listen-address", "mysql_up");
    assert_eq!(value(&body, "mysql_up"), Some(1.0), "mysql_up is not 1");
    // The exporter itself is connected, which the status variables must show.
    assert!(value(&body, "mysql_global_status_threads_connected").is_some_and(|v| v >= 1.0), "no status variables");
}

#[tokio::test]
async fn redis_exporter_reports_up_with_the_monitoring_login() {
    let (admin_password, app, monitor) =
        (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    let (server, _) = common::redis_with_logins(&admin_password, &app);
    let target = Target::plain("127.0.0.1", server.port);
    let admin = Login { username: "admin".into(), password: admin_password };
    for_kind(Engine::Redis).ensure(&target, &admin, &wanted(&app, &monitor)).await.expect("administered");

    let mut exporter = Command::new("prometheus-redis-exporter");
    exporter
        .args(["-redis.addr", &format!("redis://127.0.0.1:{}", server.port), "-redis.user", MONITOR])
        .env("REDIS_PASSWORD", &monitor);
    let body = scrape(exporter, "-web.listen-address", "redis_up");
    assert_eq!(value(&body, "redis_up"), Some(1.0), "redis_up is not 1");
    assert!(value(&body, "redis_connected_clients").is_some_and(|v| v >= 1.0), "no INFO metrics");
}

/// What an engine's exporter gets in its pod, for a server on `port` with
/// its TLS files in `files`: its args and env with the monitoring
/// password in place of the Secret reference; `--web.listen-address` left
/// to [`scrape`].
fn exporter_command(
    program: &str,
    exporter: &servicedb::engine::Exporter,
    default_port: u16,
    port: u16,
    files: &servicedb_test_support::tls::Files,
    monitor: &str,
) -> Command {
    let place = |text: &str| {
        let moved = tls_files::relocated(files, &[text.to_string()]).remove(0);
        moved.replace(&format!(":{default_port}"), &format!(":{port}"))
    };
    let mut command = Command::new(program);
    command.args(exporter.args.iter().filter(|a| !a.starts_with("--web.listen-address")).map(|a| place(a)));
    for var in &exporter.env {
        if var.name.ends_with("WEB_LISTEN_ADDRESS") {
            continue;
        }
        let value = var.value.as_deref().map_or_else(|| monitor.to_string(), place);
        command.env(&var.name, value);
    }
    command
}

fn tls_keys() -> servicedb::tls::ServerKeys {
    let authority = servicedb::tls::Authority::generate(std::time::SystemTime::now()).unwrap();
    authority.issue(&servicedb::tls::server_names("orders-db", "shop"), std::time::SystemTime::now()).unwrap()
}

/// The operator's administration over verified TLS: the monitoring login.
async fn administer_over_tls(
    engine: Engine,
    port: u16,
    keys: &servicedb::tls::ServerKeys,
    admin: &Login,
    (app, monitor): (&str, &str),
) {
    servicedb::install_crypto_provider();
    let tls =
        servicedb::engine::admin::TargetTls { ca_pem: keys.ca_pem.clone(), server_name: "orders-db.shop.svc".into() };
    let target = Target { tls: Some(tls), ..Target::plain("127.0.0.1", port) };
    for_kind(engine).ensure(&target, admin, &wanted(app, monitor)).await.expect("administered over TLS");
}

#[tokio::test]
async fn with_tls_the_postgres_exporter_verifies_the_server_and_reports_up() {
    use servicedb::engine::{Engine as _, Postgres};
    let keys = tls_keys();
    let files = tls_files::files(&keys, Some("postgres"));
    let admin_password = generate_password().unwrap();
    let server = tls_files::postgres(&admin_password, &files);
    let (app, monitor) = (generate_password().unwrap(), generate_password().unwrap());
    let admin = Login { username: "postgres".into(), password: admin_password };
    administer_over_tls(Engine::Postgres, server.port, &keys, &admin, (&app, &monitor)).await;
    let exporter = Postgres.exporter("admin", true);
    let command = exporter_command("prometheus-postgres-exporter", &exporter, 5432, server.port, &files, &monitor);
    let body = scrape(command, "--web.listen-address", "pg_up");
    assert_eq!(value(&body, "pg_up"), Some(1.0), "pg_up is not 1 over verified TLS");
}

#[tokio::test]
async fn with_tls_the_mysqld_exporter_verifies_the_server_and_reports_up() {
    use servicedb::engine::{Engine as _, MySql};
    let keys = tls_keys();
    let files = tls_files::files(&keys, None);
    let args = tls_files::relocated(&files, &MySql::MARIADB.args(true).unwrap());
    let settings: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = servicedb_test_support::mariadb::Server::start(&servicedb_test_support::mariadb::Options {
        general_log: false,
        settings: &settings,
    })
    .unwrap();
    let (admin_password, app, monitor) =
        (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    // What the image does with MARIADB_ROOT_HOST=% and MARIADB_ROOT_PASSWORD_HASH.
    let hash = mysql_native_password_hash(&admin_password);
    server.create_root_login(servicedb_test_support::mariadb::Identified::Hash(&hash)).expect("root over TCP");
    let admin = Login { username: "root".into(), password: admin_password };
    administer_over_tls(Engine::Mariadb, server.port, &keys, &admin, (&app, &monitor)).await;
    let exporter = MySql::MARIADB.exporter("admin", true);
    let config = exporter.config.clone().expect("a my.cnf with the CA");
    files.add(config.file, &tls_files::relocated(&files, &[config.content]).remove(0)).unwrap();
    // The image's entrypoint, as e2e/images builds it around Debian's 0.14.
    let double = concat!(env!("CARGO_MANIFEST_DIR"), "/e2e/images/mysqld-exporter/mysqld_exporter");
    let command = exporter_command(double, &exporter, 3306, server.port, &files, &monitor);
    let body = scrape(command, "--web.listen-address", "mysql_up");
    assert_eq!(value(&body, "mysql_up"), Some(1.0), "mysql_up is not 1 over verified TLS");
}

#[tokio::test]
async fn with_tls_the_redis_exporter_verifies_the_server_and_reports_up() {
    use servicedb::engine::{Engine as _, Redis};
    let keys = tls_keys();
    let files = tls_files::files(&keys, None);
    let (admin_password, app, monitor) =
        (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    let acl = servicedb::engine::redis_acl_file(servicedb::engine::Logins {
        admin_username: "admin",
        admin_password: &admin_password,
        app_username: "orders",
        app_password: &app,
    });
    let options =
        servicedb_test_support::redis::Options { acl: &acl, dir: None, append_only: false, tls: Some(files.path()) };
    let server = servicedb_test_support::redis::Server::start(&options).unwrap();
    let admin = Login { username: "admin".into(), password: admin_password };
    administer_over_tls(Engine::Redis, server.port, &keys, &admin, (&app, &monitor)).await;
    let exporter = Redis.exporter("admin", true);
    let command = exporter_command("prometheus-redis-exporter", &exporter, 6379, server.port, &files, &monitor);
    let body = scrape(command, "-web.listen-address", "redis_up");
    assert_eq!(value(&body, "redis_up"), Some(1.0), "redis_up is not 1 over verified TLS");
}
