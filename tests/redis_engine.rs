//! Engine tier: the Redis ACL file the operator generates, loaded by a real
//! redis-server (Debian's redis-server package) on a loopback port.

mod common;

use common::redis as start;
use servicedb::engine::{Logins, generate_password, redis_acl_file};

#[test]
fn the_service_login_works_without_dangerous_commands() {
    let (admin, app) = (generate_password().unwrap(), generate_password().unwrap());
    let acl = redis_acl_file(Logins {
        admin_username: "admin",
        admin_password: &admin,
        app_username: "orders",
        app_password: &app,
    });
    let server = start(&acl);
    let me = Some(("orders", app.as_str()));

    assert_eq!(server.cmd(me, &["SET", "order:1", "paid"]), "OK");
    assert_eq!(server.cmd(me, &["GET", "order:1"]), "paid");
    for dangerous in [
        &["FLUSHALL"][..],
        &["CONFIG", "GET", "*"],
        &["ACL", "LIST"],
        &["KEYS", "*"],
        &["CLIENT", "LIST"],
        &["SHUTDOWN"],
    ] {
        let reply = server.cmd(me, dangerous);
        assert!(reply.contains("NOPERM"), "{dangerous:?} was allowed: {reply}");
    }
    // Nobody gets in without a login, or with a wrong password.
    assert!(server.cmd(None, &["GET", "order:1"]).contains("NOAUTH"));
    assert!(server.cmd(Some(("orders", "wrong")), &["GET", "order:1"]).contains("WRONGPASS"));
    assert!(server.cmd(Some(("default", "")), &["GET", "order:1"]).contains("WRONGPASS"));

    // The operator's admin can administer; the server holds hashes, not passwords.
    let users = server.cmd(Some(("admin", admin.as_str())), &["ACL", "LIST"]);
    assert!(users.contains("user orders on") && users.contains("user default off"), "{users}");
    assert!(!users.contains(&app) && !users.contains(&admin), "a clear-text password in ACL LIST");
}

#[tokio::test]
async fn live_administration_adds_a_monitor_and_a_backup_login_that_cannot_read_keys() {
    use servicedb::api::Engine;
    use servicedb::engine::admin::{AppLogin, Login, Target, Wanted};
    use servicedb::engine::for_kind;
    let [admin, app, monitor, backup] = [(); 4].map(|()| generate_password().unwrap());
    let acl = redis_acl_file(Logins {
        admin_username: "admin",
        admin_password: &admin,
        app_username: "orders",
        app_password: &app,
    });
    let server = start(&acl);
    let target = Target::plain("127.0.0.1", server.port);
    let wanted = Wanted {
        database: "0".into(),
        app: vec![AppLogin { login: Login { username: "orders".into(), password: app.clone() }, enabled: true }],
        monitor: Login { username: "servicedb_monitor".into(), password: monitor.clone() },
        backup: Login { username: "servicedb_backup".into(), password: backup.clone() },
    };
    let admin_login = Login { username: "admin".into(), password: admin.clone() };
    for_kind(Engine::Redis).ensure(&target, &admin_login, &wanted).await.expect("administered");
    for_kind(Engine::Redis).ensure(&target, &admin_login, &wanted).await.expect("idempotent");

    let me = Some(("orders", app.as_str()));
    assert_eq!(server.cmd(me, &["SET", "secret", "42"]), "OK");
    let watcher = Some(("servicedb_monitor", monitor.as_str()));
    assert!(server.cmd(watcher, &["INFO", "server"]).contains("redis_version"));
    assert!(server.cmd(watcher, &["GET", "secret"]).contains("NOPERM"), "the monitor read application data");
    assert!(server.cmd(watcher, &["SET", "x", "1"]).contains("NOPERM"));
    // The backup login may replicate (`redis-cli --rdb`, in tests/backup.rs)
    // and nothing else: no key read or written, no configuration, no ACL.
    let backup_login = Some(("servicedb_backup", backup.as_str()));
    assert_eq!(server.cmd(backup_login, &["PING"]), "PONG");
    for command in [
        &["GET", "secret"][..],
        &["SET", "secret", "0"],
        &["KEYS", "*"],
        &["FLUSHALL"],
        &["CONFIG", "SET", "dir", "/tmp"],
        &["ACL", "SETUSER", "intruder", "on", ">x", "+@all"],
    ] {
        let refused = server.cmd(backup_login, command);
        assert!(refused.contains("NOPERM"), "the backup login ran {command:?}: {refused}");
    }
    assert_eq!(server.cmd(me, &["GET", "secret"]), "42", "nothing changed");
    // Wrong admin credentials are a clear error, without the password in it.
    let bad = for_kind(Engine::Redis)
        .ensure(&target, &Login { username: "admin".into(), password: "wrong".into() }, &wanted)
        .await
        .unwrap_err();
    assert!(bad.to_string().starts_with("cannot connect to 127.0.0.1:"), "{bad}");
    assert!(!bad.to_string().contains(&admin));
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_never_breaks_a_reconnecting_client() {
    use servicedb::api::Engine;
    use servicedb::engine::admin::{Login, Target};
    let (admin, one, two) = (generate_password().unwrap(), generate_password().unwrap(), generate_password().unwrap());
    let server = start(&redis_acl_file(Logins {
        admin_username: "admin",
        admin_password: &admin,
        app_username: "orders",
        app_password: &one,
    }));
    let target = Target::plain("127.0.0.1", server.port);
    let admin_login = Login { username: "admin".into(), password: admin.clone() };
    let port = server.port;
    let (attempts, failures) = common::rotate_under_load(
        Engine::Redis,
        &target,
        &admin_login,
        "0",
        (&one, &two),
        move |user, password| async move {
            let url = format!("redis://{user}:{password}@127.0.0.1:{port}/0");
            let client = redis::Client::open(url).map_err(|e| e.to_string())?;
            let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
            redis::cmd("SET").arg("k").arg("v").query_async::<()>(&mut conn).await.map_err(|e| e.to_string())
        },
    )
    .await;
    assert!(attempts >= 20, "only {attempts} attempts");
    assert!(failures.is_empty(), "{} of {attempts} connections failed: {failures:?}", failures.len());
    assert!(
        server.cmd(Some(("orders", one.as_str())), &["GET", "k"]).contains("WRONGPASS"),
        "the old login still works"
    );
    assert_eq!(server.cmd(Some(("orders_b", two.as_str())), &["GET", "k"]), "v");
}

#[test]
fn another_services_login_does_not_open_this_instance() {
    let logins = |app: &str, password: &str| {
        redis_acl_file(Logins {
            admin_username: "admin",
            admin_password: "a",
            app_username: app,
            app_password: password,
        })
    };
    let (orders_pw, billing_pw) = (generate_password().unwrap(), generate_password().unwrap());
    let orders = start(&logins("orders", &orders_pw));
    let _billing = start(&logins("billing", &billing_pw));
    assert!(orders.cmd(Some(("billing", billing_pw.as_str())), &["GET", "k"]).contains("WRONGPASS"));
    assert_eq!(orders.cmd(Some(("orders", orders_pw.as_str())), &["PING"]), "PONG");
}
