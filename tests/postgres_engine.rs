//! Engine tier: the PostgreSQL init script and SCRAM verifiers, run against a
//! real PostgreSQL server started on a loopback port (Debian's postgresql
//! package; `make test` installs it). The server runs with
//! `log_statement=all`, so the test also sees what reached its log.

mod common;

use servicedb::engine::{Engine, Logins, Postgres, generate_password};
use servicedb_test_support::postgres::Server;

fn logins(app_password: &str) -> Logins<'_> {
    Logins { admin_username: "postgres", admin_password: "unused", app_username: "unused", app_password }
}

fn provision(server: &Server, name: &str) -> String {
    let password = generate_password().unwrap();
    let keys = Postgres.derived_admin_keys(logins(&password));
    let out = common::run_init_script(server, name, name, &keys["app-password-scram"]);
    assert!(out.status.success(), "init script: {}", String::from_utf8_lossy(&out.stderr));
    password
}

#[test]
fn the_service_login_works_is_unprivileged_and_isolated() {
    let server = common::postgres();
    let orders = provision(&server, "orders");
    let billing = provision(&server, "billing");

    // The generated password, checked against the verifier, lets the service work.
    let out = server.sql_as(
        "orders",
        &orders,
        "orders",
        "CREATE TABLE t (k int); INSERT INTO t VALUES (42); SELECT k FROM t;",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().last(), Some("42"));

    // A wrong password is refused.
    let out = server.sql_as("orders", "not-the-password", "orders", "SELECT 1");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("password authentication failed"));

    // Another service's login cannot even connect to this database.
    let out = server.sql_as("billing", &billing, "orders", "SELECT 1");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("permission denied for database"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The login is not privileged, and creating a role is refused.
    assert_eq!(
        server.admin_sql(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = 'orders'"
        ),
        "f|f|f|f"
    );
    let out = server.sql_as("orders", &orders, "orders", "CREATE ROLE intruder");
    assert!(!out.status.success());

    // The server stored a SCRAM verifier and never saw the clear-text password.
    assert!(
        server
            .admin_sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'orders'")
            .starts_with("SCRAM-SHA-256$4096:")
    );
    let log = server.log();
    assert!(log.contains("CREATE ROLE"), "log_statement=all must have logged the statement");
    assert!(!log.contains(&orders) && !log.contains(&billing), "a password reached the server log");
}

#[test]
fn hostile_names_stay_names() {
    let server = common::postgres();
    let hostile = r#"x"; DROP ROLE postgres; --'"#;
    let password = generate_password().unwrap();
    let keys = Postgres.derived_admin_keys(logins(&password));
    let out = common::run_init_script(&server, hostile, hostile, &keys["app-password-scram"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(server.admin_sql("SELECT count(*) FROM pg_roles WHERE rolname = 'postgres'"), "1");
    assert_eq!(
        server.admin_sql(&format!("SELECT count(*) FROM pg_roles WHERE rolname = '{}'", hostile.replace('\'', "''"))),
        "1"
    );
}

#[tokio::test]
async fn live_administration_creates_least_privilege_logins() {
    use servicedb::api::Engine;
    use servicedb::engine::admin::{AppLogin, Login, Target, Wanted};
    use servicedb::engine::for_kind;
    let server = common::postgres();
    let (app, monitor, backup) =
        (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    let target = Target::plain("127.0.0.1", server.port);
    let admin = Login { username: "postgres".into(), password: server.admin_password.clone() };
    let wanted = Wanted {
        database: "orders".into(),
        app: vec![AppLogin { login: Login { username: "orders".into(), password: app.clone() }, enabled: true }],
        monitor: Login { username: "servicedb_monitor".into(), password: monitor.clone() },
        backup: Login { username: "servicedb_backup".into(), password: backup.clone() },
    };
    for_kind(Engine::Postgres).ensure(&target, &admin, &wanted).await.expect("administered");
    let verifier = || server.admin_sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'orders'");
    let first = verifier();
    for_kind(Engine::Postgres).ensure(&target, &admin, &wanted).await.expect("idempotent");
    // The stored verifier was recognised as this password: not set again.
    assert_eq!(verifier(), first);

    let out =
        server.sql_as("orders", &app, "orders", "CREATE TABLE t (k int); INSERT INTO t VALUES (7); SELECT k FROM t;");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("7"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        server.admin_sql(
            "SELECT rolsuper, rolcreaterole, rolcreatedb, rolreplication FROM pg_roles WHERE rolname = 'orders'"
        ),
        "f|f|f|f"
    );
    // The monitor reads statistics, and cannot even connect to the service's database.
    let stats = server.sql_as("servicedb_monitor", &monitor, "postgres", "SELECT count(*) > 0 FROM pg_stat_activity");
    assert_eq!(String::from_utf8_lossy(&stats.stdout).trim(), "t", "{}", String::from_utf8_lossy(&stats.stderr));
    let peek = server.sql_as("servicedb_monitor", &monitor, "orders", "SELECT k FROM t");
    assert!(
        String::from_utf8_lossy(&peek.stderr).contains("permission denied for database"),
        "{}",
        String::from_utf8_lossy(&peek.stderr)
    );
    // The backup login reads every row and changes nothing.
    let as_backup = |sql: &str| server.sql_as("servicedb_backup", &backup, "orders", sql);
    let read = as_backup("SELECT k FROM t");
    assert_eq!(String::from_utf8_lossy(&read.stdout).trim(), "7", "{}", String::from_utf8_lossy(&read.stderr));
    for (what, sql) in [
        ("insert", "INSERT INTO t VALUES (8)"),
        ("update", "UPDATE t SET k = 0"),
        ("delete", "DELETE FROM t"),
        ("drop", "DROP TABLE t"),
        ("create", "CREATE TABLE public.stolen (k int)"),
        ("temporary table", "CREATE TEMPORARY TABLE scratch (k int)"),
        ("role", "CREATE ROLE intruder LOGIN"),
    ] {
        let refused = as_backup(sql);
        assert!(!refused.status.success(), "the backup login could {what}");
        let why = String::from_utf8_lossy(&refused.stderr);
        assert!(why.contains("permission denied") || why.contains("must be owner"), "{what}: {why}");
    }
    // A GRANT by a login without the grant option succeeds and grants nothing.
    let grant = as_backup("GRANT SELECT ON t TO PUBLIC");
    assert!(String::from_utf8_lossy(&grant.stderr).contains("no privileges were granted"), "{grant:?}");
    assert_eq!(server.admin_sql_in("orders", "SELECT count(*) FROM t"), "1", "nothing changed");
    assert_eq!(server.admin_sql_in("orders", "SELECT has_table_privilege('public', 't', 'SELECT')"), "f");
    // Only verifiers were sent: no password in the statement log.
    let log = server.log();
    assert!(
        !log.contains(&app)
            && !log.contains(&monitor)
            && !log.contains(&backup)
            && !log.contains(&server.admin_password),
        "a password reached the server log"
    );
    assert!(
        server
            .admin_sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'servicedb_monitor'")
            .starts_with("SCRAM-SHA-256$")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_never_breaks_a_reconnecting_client() {
    use servicedb::api::Engine;
    use servicedb::engine::admin::{Login, Target};
    let server = common::postgres();
    let target = Target::plain("127.0.0.1", server.port);
    let admin = Login { username: "postgres".into(), password: server.admin_password.clone() };
    let (one, two) = (generate_password().unwrap(), generate_password().unwrap());
    let port = server.port;
    // The table exists before the rotation: B must see what A made.
    let setup = servicedb::engine::admin::Wanted {
        database: "orders".into(),
        app: vec![servicedb::engine::admin::AppLogin {
            login: Login { username: "orders".into(), password: one.clone() },
            enabled: true,
        }],
        monitor: Login { username: "servicedb_monitor".into(), password: "m0nitor".into() },
        backup: Login { username: "servicedb_backup".into(), password: "b4ckup".into() },
    };
    servicedb::engine::for_kind(Engine::Postgres).ensure(&target, &admin, &setup).await.unwrap();
    assert!(
        server
            .sql_as("orders", &one, "orders", "CREATE TABLE kept (k int); INSERT INTO kept VALUES (1);")
            .status
            .success()
    );
    let (attempts, failures) = common::rotate_under_load(
        Engine::Postgres,
        &target,
        &admin,
        "orders",
        (&one, &two),
        move |user, password| async move {
            let mut config = tokio_postgres::Config::new();
            config.host("127.0.0.1").port(port).user(&user).password(&password).dbname("orders");
            let (c, conn) = config.connect(tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
            tokio::spawn(conn);
            c.simple_query("SELECT k FROM kept").await.map_err(|e| e.to_string())?;
            Ok(())
        },
    )
    .await;
    assert!(attempts >= 20, "only {attempts} attempts");
    assert!(failures.is_empty(), "{} of {attempts} connections failed: {failures:?}", failures.len());

    // The old login is refused now; B sees A's data, and what B creates belongs to A.
    let old = server.sql_as("orders", &one, "orders", "SELECT 1");
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("not permitted to log in"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    let out = server.sql_as("orders_b", &two, "orders", "CREATE TABLE made_by_b (k int); SELECT count(*) FROM kept;");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).lines().last(),
        Some("1"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let owner =
        server.sql_as("orders_b", &two, "orders", "SELECT tableowner FROM pg_tables WHERE tablename = 'made_by_b'");
    assert_eq!(String::from_utf8_lossy(&owner.stdout).trim(), "orders");
}

/// Verifiers come from postgres-protocol, which SASLprep's the password as
/// libpq and the server do: a password with a no-break space logs in. The
/// hand-written check recognises a verifier PostgreSQL made itself.
#[test]
fn verifiers_agree_with_postgresql_on_what_was_hashed() {
    use servicedb::engine::postgres::{scram_sha256_verifier, scram_verifies};
    let server = common::postgres();
    let password = format!("{}\u{a0}x", generate_password().unwrap());
    let out = common::run_init_script(&server, "orders", "orders", &scram_sha256_verifier(&password));
    assert!(out.status.success(), "init script: {}", String::from_utf8_lossy(&out.stderr));
    let out = server.sql_as("orders", &password, "orders", "SELECT 42");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "42", "{}", String::from_utf8_lossy(&out.stderr));

    server.admin_sql("SET password_encryption = 'scram-sha-256'; CREATE ROLE made_by_server PASSWORD 'pencil'");
    let stored = server.admin_sql("SELECT rolpassword FROM pg_authid WHERE rolname = 'made_by_server'");
    assert!(scram_verifies(&stored, "pencil"), "{stored}");
    assert!(!scram_verifies(&stored, "pencil2"));
}
