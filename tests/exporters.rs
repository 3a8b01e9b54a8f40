//! Monitoring logins with the real exporters (Debian's
//! prometheus-postgres-exporter, -mysqld-exporter and -redis-exporter): the
//! login the operator creates is enough for each to report the engine up.

mod common;

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
    let root = server.root(&format!(
        "CREATE USER 'root'@'%' IDENTIFIED BY PASSWORD '{}'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;",
        mysql_native_password_hash(&admin_password)
    ));
    assert!(root.status.success());
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
