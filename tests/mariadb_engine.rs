//! Engine tier: MariaDB logins created from the `mysql_native_password`
//! hashes the operator puts in the admin Secret, the way the official
//! image's entrypoint creates them, on a real MariaDB server (Debian's
//! mariadb-server) on a loopback port. MySQL itself is not packaged for
//! Debian, so the `mysql` engine is covered only by this protocol sibling.

mod common;

use servicedb::engine::{generate_password, mysql_native_password_hash};
use std::process::Output;

fn text(out: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

#[test]
fn hashed_logins_work_and_stay_in_their_schema() {
    let server = common::mariadb();
    let (orders, billing) = (generate_password().unwrap(), generate_password().unwrap());
    common::bootstrap(&server, "orders", &mysql_native_password_hash(&orders));
    common::bootstrap(&server, "billing", &mysql_native_password_hash(&billing));

    let out = server.as_user(
        "orders",
        &orders,
        "orders",
        "CREATE TABLE t (k INT); INSERT INTO t VALUES (42); SELECT k FROM t;",
    );
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42");

    let wrong = server.as_user("orders", "wrong-password", "orders", "SELECT 1");
    assert!(text(&wrong).contains("Access denied"), "{}", text(&wrong));
    let other = server.as_user("billing", &billing, "orders", "SELECT 1");
    assert!(text(&other).contains("Access denied"), "billing reached orders: {}", text(&other));
    let privileged = server.as_user("orders", &orders, "orders", "CREATE USER intruder IDENTIFIED BY 'x'");
    assert!(text(&privileged).contains("denied"), "{}", text(&privileged));
    let stored = server.root("SELECT authentication_string FROM mysql.user WHERE user = 'orders'");
    assert!(!text(&stored).contains(&orders), "the server stores a hash, not the password");
}

#[tokio::test]
async fn live_administration_creates_least_privilege_logins() {
    use servicedb::api::Engine;
    use servicedb::engine::admin::{AppLogin, Login, Target, Wanted};
    use servicedb::engine::for_kind;
    let server = common::mariadb();
    let [admin, app, monitor, backup] = [(); 4].map(|()| generate_password().unwrap());
    // What the image does with MARIADB_ROOT_HOST=% and MARIADB_ROOT_PASSWORD_HASH.
    let hash = mysql_native_password_hash(&admin);
    server.create_root_login(servicedb_test_support::mariadb::Identified::Hash(&hash)).expect("root over TCP");
    let target = Target::plain("127.0.0.1", server.port);
    let wanted = Wanted {
        database: "orders".into(),
        app: vec![AppLogin { login: Login { username: "orders".into(), password: app.clone() }, enabled: true }],
        monitor: Login { username: "servicedb_monitor".into(), password: monitor.clone() },
        backup: Login { username: "servicedb_backup".into(), password: backup.clone() },
    };
    let admin_login = Login { username: "root".into(), password: admin.clone() };
    for_kind(Engine::Mariadb).ensure(&target, &admin_login, &wanted).await.expect("administered");
    for_kind(Engine::Mariadb).ensure(&target, &admin_login, &wanted).await.expect("idempotent");

    let out =
        server.as_user("orders", &app, "orders", "CREATE TABLE t (k INT); INSERT INTO t VALUES (7); SELECT k FROM t;");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "7", "{}", text(&out));
    let denied = server.as_user("orders", &app, "orders", "CREATE USER intruder IDENTIFIED BY 'x'");
    assert!(text(&denied).contains("denied"), "{}", text(&denied));
    // The monitor sees server status, not the application's rows.
    let status =
        server.as_user("servicedb_monitor", &monitor, "performance_schema", "SHOW GLOBAL STATUS LIKE 'Uptime'");
    assert!(text(&status).contains("Uptime"), "{}", text(&status));
    let peek = server.as_user("servicedb_monitor", &monitor, "orders", "SELECT k FROM t");
    assert!(text(&peek).contains("denied"), "the monitor read application data: {}", text(&peek));
    // The backup login reads the service's rows and changes nothing.
    let read = server.as_user("servicedb_backup", &backup, "orders", "SELECT k FROM t");
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "7", "{}", text(&read));
    for (what, sql) in [
        ("insert", "INSERT INTO t VALUES (8)"),
        ("update", "UPDATE t SET k = 0"),
        ("delete", "DELETE FROM t"),
        ("drop", "DROP TABLE t"),
        ("create", "CREATE TABLE stolen (k INT)"),
        ("user", "CREATE USER intruder IDENTIFIED BY 'x'"),
        ("grant", "GRANT SELECT ON orders.* TO servicedb_monitor"),
        ("read another schema", "SELECT user FROM mysql.user"),
    ] {
        let refused = server.as_user("servicedb_backup", &backup, "orders", sql);
        assert!(!refused.status.success(), "the backup login could {what}");
        assert!(text(&refused).contains("denied"), "{what}: {}", text(&refused));
    }
    let count = server.root("SELECT COUNT(*) FROM orders.t");
    assert_eq!(String::from_utf8_lossy(&count.stdout).trim(), "1", "nothing changed");
    let stored = server.root(
        "SELECT authentication_string FROM mysql.user WHERE user IN ('orders', 'servicedb_monitor', 'servicedb_backup')",
    );
    assert!(![&app, &monitor, &backup].iter().any(|p| text(&stored).contains(p.as_str())));
    // The general log saw every statement the operator sent: hashes only.
    let log = std::fs::read_to_string(&server.log).unwrap_or_default();
    assert!(log.contains("IDENTIFIED BY PASSWORD"), "the general log is empty");
    assert!(![&app, &monitor, &backup].iter().any(|p| log.contains(p.as_str())), "a password reached the server log");
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_never_breaks_a_reconnecting_client() {
    use servicedb::api::Engine;
    use servicedb::engine::admin::{Login, Target};
    let server = common::mariadb();
    let (admin, one, two) = (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    // What the image does with MARIADB_ROOT_HOST=% and MARIADB_ROOT_PASSWORD_HASH.
    let hash = mysql_native_password_hash(&admin);
    server.create_root_login(servicedb_test_support::mariadb::Identified::Hash(&hash)).expect("root over TCP");
    let target = Target::plain("127.0.0.1", server.port);
    let admin_login = Login { username: "root".into(), password: admin.clone() };
    let port = server.port;
    let (attempts, failures) = common::rotate_under_load(
        Engine::Mariadb,
        &target,
        &admin_login,
        "orders",
        (&one, &two),
        move |user, password| async move {
            use mysql_async::prelude::Queryable;
            let opts = mysql_async::OptsBuilder::default()
                .ip_or_hostname("127.0.0.1")
                .tcp_port(port)
                .user(Some(user))
                .pass(Some(password))
                .db_name(Some("orders"));
            let mut conn = mysql_async::Conn::new(opts).await.map_err(|e| e.to_string())?;
            conn.query_drop("SELECT 1").await.map_err(|e| e.to_string())?;
            conn.disconnect().await.map_err(|e| e.to_string())
        },
    )
    .await;
    assert!(attempts >= 20, "only {attempts} attempts");
    assert!(failures.is_empty(), "{} of {attempts} connections failed: {failures:?}", failures.len());
    let old = server.as_user("orders", &one, "orders", "SELECT 1");
    assert!(
        text(&old).contains("locked") || text(&old).contains("denied"),
        "the old login still works: {}",
        text(&old)
    );
}
