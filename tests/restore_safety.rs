//! A restore never replaces or mixes data it was not asked to: against real
//! PostgreSQL, MariaDB and Redis, through the `servicedb` binary. For each
//! engine: a target that holds data is refused with a sentence naming what
//! is there and keeps every row; `--replace` takes a safety backup first,
//! leaves exactly the backup's contents, and the safety backup gives back
//! exactly what was replaced; a load that fails part-way leaves the target
//! as it was; a freshly initialised instance is empty and restores.

mod common;

use common::cli::{args, connect_args, dir_args, failed, s3_args, servicedb, succeeded, truncated_copy};
use servicedb::engine::postgres::scram_sha256_verifier;
use servicedb::engine::{generate_password, mysql_native_password_hash};
use servicedb_test_support::s3::S3;
use servicedb_test_support::{mariadb, postgres, redis as redis_server};
use std::path::Path;
use std::process::Command;

fn id_of(json: &serde_json::Value) -> String {
    json["id"].as_str().expect("an id").to_string()
}

// ---------------------------------------------------------------- PostgreSQL

/// A new instance as the operator makes it: the engine's init script
/// creates the service's login and its database, nothing else.
fn pg_instance() -> postgres::Server {
    let server = common::postgres();
    let out = common::run_init_script(&server, "orders", "orders", &scram_sha256_verifier("app-password"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    server
}

/// What the backup holds: two tables (one large enough that a cut dump
/// stops inside its data) and a view.
fn pg_load_source(server: &postgres::Server) {
    server.admin_sql_in(
        "orders",
        "SET ROLE orders;
         CREATE TABLE customers(id int PRIMARY KEY, name text);
         INSERT INTO customers SELECT i, 'customer ' || i || ' ñ' FROM generate_series(1, 2000) i;
         CREATE TABLE events(id bigint PRIMARY KEY, payload text);
         INSERT INTO events SELECT i, repeat(md5(i::text), 4) FROM generate_series(1, 20000) i;
         CREATE VIEW big_customers AS SELECT id FROM customers WHERE id > 1000;",
    );
}

/// What the target holds that is not in the backup: 2 tables (one with the
/// backup's name), 1 view, 1 sequence (of the serial), 1 function.
fn pg_load_held(server: &postgres::Server) {
    server.admin_sql_in(
        "orders",
        "SET ROLE orders;
         CREATE TABLE orders(id serial PRIMARY KEY, total numeric);
         INSERT INTO orders(total) SELECT i * 1.5 FROM generate_series(1, 300) i;
         CREATE TABLE customers(id int PRIMARY KEY, name text);
         INSERT INTO customers VALUES (1, 'written after the backup');
         CREATE VIEW recent AS SELECT id FROM orders WHERE id > 250;
         CREATE FUNCTION total() RETURNS numeric LANGUAGE sql AS 'SELECT sum(total) FROM orders';",
    );
}

const PG_HELD: &str = "database orders holds 2 tables, 1 view, 1 sequence and 1 function; \
                       restore into an empty database or a new instance, or pass --replace";

/// Every object outside the system schemas, the views' definitions, the
/// functions, and each table's row count and MD5 over its rows.
fn pg_fingerprint(server: &postgres::Server) -> String {
    let sql = |q: &str| server.admin_sql_in("orders", q);
    let objects = sql(
        "SELECT coalesce(string_agg(n.nspname || '.' || c.relname || ':' || c.relkind::text || ':' || pg_get_userbyid(c.relowner), ',' ORDER BY n.nspname, c.relname), '')
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' AND c.relkind IN ('r', 'v', 'S', 'm', 'p', 'f')",
    );
    let views = sql(
        "SELECT coalesce(string_agg(viewname || '=' || definition, ',' ORDER BY viewname), '') FROM pg_views WHERE schemaname = 'public'",
    );
    let functions = sql("SELECT coalesce(string_agg(proname, ',' ORDER BY proname), '') FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'");
    let tables = sql(
        "SELECT coalesce(string_agg(tablename, ' ' ORDER BY tablename), '') FROM pg_tables WHERE schemaname = 'public'",
    );
    let rows: Vec<String> = tables
        .split_whitespace()
        .map(|t| {
            sql(&format!(
                "SELECT '{t}=' || count(*) || ':' || coalesce(md5(string_agg(x::text, '|' ORDER BY x::text)), '-') FROM {t} x"
            ))
        })
        .collect();
    format!("{objects}\n{views}\n{functions}\n{}", rows.join("\n"))
}

fn pg_restore_args(server: &postgres::Server, dir: &Path, id: &str) -> Vec<String> {
    [
        args(&["restore", "--backup", id, "--owner", "orders"]),
        connect_args("postgres", server.port, "orders", "postgres"),
        dir_args(dir),
    ]
    .concat()
}

/// The backup of a loaded source instance, in `dir`: (source, id).
fn pg_source_backup(dir: &Path) -> (postgres::Server, String) {
    let source = pg_instance();
    pg_load_source(&source);
    let backup =
        [args(&["backup"]), connect_args("postgres", source.port, "orders", "postgres"), dir_args(dir)].concat();
    let id = id_of(&succeeded(&servicedb(&backup, &source.admin_password)));
    (source, id)
}

#[test]
fn postgres_refuses_a_database_that_holds_data_and_replace_keeps_a_safety_backup() {
    let dir = tempfile::tempdir().unwrap();
    let (source, id) = pg_source_backup(dir.path());
    let target = pg_instance();
    pg_load_held(&target);
    let before = pg_fingerprint(&target);

    // (a) Refused, saying what is there; every row intact.
    let message = failed(&servicedb(&pg_restore_args(&target, dir.path(), &id), &target.admin_password));
    assert!(message.contains(PG_HELD), "{message}");
    assert_eq!(pg_fingerprint(&target), before);

    // (b) --replace: a safety backup, then exactly the backup's contents.
    let replace = [pg_restore_args(&target, dir.path(), &id), args(&["--replace"])].concat();
    let out = servicedb(&replace, &target.admin_password);
    let json = succeeded(&out);
    assert_eq!(id_of(&json), id);
    let safety = json["safetyBackup"].as_str().expect("safetyBackup in the JSON").to_string();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("safety backup {safety} holds what was replaced")), "{stderr}");
    for phase in ["connecting", "checking target", "verifying checksum", "safety backup: dumping+uploading", "loading"]
    {
        assert!(stderr.contains(&format!("phase={phase}")), "{phase}: {stderr}");
    }
    assert_eq!(pg_fingerprint(&target), pg_fingerprint(&source));
    assert!(pg_fingerprint(&target).contains("public.customers:r:orders"), "owned by the service's login");

    // (d) A freshly initialised instance counts as empty and restores, here
    // the safety backup: exactly what was replaced.
    let fresh = pg_instance();
    succeeded(&servicedb(&pg_restore_args(&fresh, dir.path(), &safety), &fresh.admin_password));
    assert_eq!(pg_fingerprint(&fresh), before);
}

#[test]
fn postgres_a_restore_that_fails_part_way_leaves_the_database_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let (_source, id) = pg_source_backup(dir.path());
    let cut = truncated_copy(dir.path(), &id, 0.6);

    // Into an empty database: still empty afterwards, although a table was loaded.
    let empty = pg_instance();
    let before = pg_fingerprint(&empty);
    let message = failed(&servicedb(&pg_restore_args(&empty, dir.path(), &cut), &empty.admin_password));
    assert!(message.contains("pg_restore failed"), "{message}");
    assert!(empty.log().contains("COPY public.customers"), "the load had begun");
    assert_eq!(pg_fingerprint(&empty), before);

    // With --replace over data: the old contents, exactly.
    let held = pg_instance();
    pg_load_held(&held);
    let before = pg_fingerprint(&held);
    let replace = [pg_restore_args(&held, dir.path(), &cut), args(&["--replace"])].concat();
    let message = failed(&servicedb(&replace, &held.admin_password));
    assert!(message.contains("pg_restore failed") && message.contains("safety backup"), "{message}");
    assert!(held.log().contains("COPY public.customers"), "the load had begun");
    assert_eq!(pg_fingerprint(&held), before);
}

#[test]
fn backup_progress_goes_to_stderr_and_only_the_manifest_to_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let source = pg_instance();
    pg_load_source(&source);
    let backup =
        [args(&["backup"]), connect_args("postgres", source.port, "orders", "postgres"), dir_args(dir.path())].concat();
    // Not a terminal (a Job's log): one info line per phase.
    let out = servicedb(&backup, &source.admin_password);
    succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for phase in ["connecting", "dumping+uploading", "verifying", "writing manifest", "pruning"] {
        assert!(stderr.contains(&format!("phase={phase}")), "{phase}: {stderr}");
    }
    // A phase that lasts: an info line every 5 s (here waiting for a port nothing listens on).
    let nobody = servicedb_test_support::free_port().unwrap();
    let waiting = [
        args(&["backup", "--connect-timeout-seconds", "7"]),
        connect_args("postgres", nobody, "orders", "postgres"),
        dir_args(dir.path()),
    ]
    .concat();
    let stderr = failed(&servicedb(&waiting, "unused"));
    assert!(stderr.contains("in progress phase=connecting bytes=0 mib_per_s=0"), "{stderr}");
    assert!(stderr.contains("cannot reach the database"), "{stderr}");
    // A terminal: the live line, redrawn in place, each phase left with its figures.
    let command: Vec<String> = std::iter::once(env!("CARGO_BIN_EXE_servicedb").to_string()).chain(backup).collect();
    let out = Command::new("script")
        .args(["-qec", &command.join(" "), "/dev/null"])
        .env("SERVICEDB_DB_PASSWORD", &source.admin_password)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stdout));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("\r\x1b[2Kdumping+uploading "), "{screen:?}");
    assert!(screen.contains(" MiB/s ("), "{screen:?}");
}

// ------------------------------------------------------------------- MariaDB

/// A new instance as the image makes it: the admin and an empty schema.
fn maria_instance(password: &str) -> mariadb::Server {
    let server = common::mariadb();
    maria(
        &server,
        &format!(
            "CREATE USER 'admin'@'%' IDENTIFIED BY PASSWORD '{}'; GRANT ALL ON *.* TO 'admin'@'%' WITH GRANT OPTION;
             CREATE DATABASE shop CHARACTER SET utf8mb4;",
            mysql_native_password_hash(password)
        ),
    );
    server
}

fn maria(server: &mariadb::Server, sql: &str) -> String {
    let out = server.root(sql);
    assert!(out.status.success(), "{sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Tables in alphabetical order (the dump's): audit, items, notes (the
/// largest, last), a view, a trigger and a procedure.
fn maria_load_source(server: &mariadb::Server) {
    maria(
        server,
        "USE shop;
         CREATE TABLE shop.audit(id INT AUTO_INCREMENT PRIMARY KEY, item INT) ENGINE=InnoDB;
         CREATE TABLE shop.items(id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB;
         INSERT INTO shop.items SELECT seq, CONCAT('item ', seq, ' ñ') FROM seq_1_to_2000;
         CREATE TABLE shop.notes(id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;
         INSERT INTO shop.notes SELECT seq, REPEAT(MD5(seq), 10) FROM seq_1_to_5000;
         CREATE VIEW shop.cheap AS SELECT id FROM shop.items WHERE id < 10;
         CREATE TRIGGER shop.log_item AFTER INSERT ON shop.items FOR EACH ROW INSERT INTO shop.audit(item) VALUES (NEW.id);
         CREATE PROCEDURE shop.count_items() SELECT COUNT(*) FROM shop.items;",
    );
}

fn maria_load_held(server: &mariadb::Server) {
    maria(
        server,
        "USE shop;
         CREATE TABLE shop.orders(id INT PRIMARY KEY, total DECIMAL(10,2)) ENGINE=InnoDB;
         INSERT INTO shop.orders SELECT seq, seq * 1.5 FROM seq_1_to_300;
         CREATE TABLE shop.items(id INT PRIMARY KEY, name VARCHAR(100)) ENGINE=InnoDB;
         INSERT INTO shop.items VALUES (1, 'written after the backup');
         CREATE VIEW shop.recent AS SELECT id FROM shop.orders WHERE id > 250;
         CREATE TRIGGER shop.no_negative BEFORE INSERT ON shop.orders FOR EACH ROW SET NEW.total = GREATEST(NEW.total, 0);
         CREATE PROCEDURE shop.total() SELECT SUM(total) FROM shop.orders;
         CREATE EVENT shop.nightly ON SCHEDULE EVERY 1 DAY STARTS '2030-01-01 00:00:00' DO DELETE FROM shop.orders WHERE id < 0;",
    );
}

const MARIA_HELD: &str = "database shop holds 2 tables, 1 view, 1 procedure, 1 trigger and 1 event; \
                          restore into an empty database or a new instance, or pass --replace";

/// Every object of the schema with its definition, each table's rows (count
/// and CHECKSUM TABLE), each view's rows, and which servicedb_* schemas exist.
fn maria_fingerprint(server: &mariadb::Server) -> String {
    let catalog = maria(
        server,
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' ORDER BY 1;
         SELECT TABLE_NAME, VIEW_DEFINITION FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop' ORDER BY 1;
         SELECT ROUTINE_TYPE, ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop' ORDER BY 2;
         SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_STATEMENT FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop' ORDER BY 1;
         SELECT EVENT_NAME, EVENT_DEFINITION, STARTS FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop' ORDER BY 1;
         SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'servicedb%';",
    );
    let relations = maria(
        server,
        "SELECT CONCAT(TABLE_NAME, ' ', TABLE_TYPE) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' ORDER BY 1",
    );
    let rows: Vec<String> = relations
        .lines()
        .map(|line| {
            let (name, kind) = line.split_once(' ').unwrap();
            if kind == "VIEW" {
                maria(
                    server,
                    &format!(
                        "SELECT '{name}', COUNT(*), COALESCE(SUM(CRC32(CONCAT_WS('|', v.id))), 0) FROM shop.{name} v"
                    ),
                )
            } else {
                maria(server, &format!("SELECT COUNT(*) FROM shop.{name}; CHECKSUM TABLE shop.{name} EXTENDED"))
            }
        })
        .collect();
    format!("{catalog}\n{}", rows.join(""))
}

fn maria_restore_args(server: &mariadb::Server, dir: &Path, id: &str) -> Vec<String> {
    [args(&["restore", "--backup", id]), connect_args("mariadb", server.port, "shop", "admin"), dir_args(dir)].concat()
}

fn maria_source_backup(dir: &Path, password: &str) -> (mariadb::Server, String) {
    let source = maria_instance(password);
    maria_load_source(&source);
    let backup = [args(&["backup"]), connect_args("mariadb", source.port, "shop", "admin"), dir_args(dir)].concat();
    (source, id_of(&succeeded(&servicedb(&backup, password))))
}

#[test]
fn mariadb_refuses_a_schema_that_holds_data_and_replace_keeps_a_safety_backup() {
    let password = generate_password().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (source, id) = maria_source_backup(dir.path(), &password);
    let target = maria_instance(&password);
    maria_load_held(&target);
    let before = maria_fingerprint(&target);
    assert!(before.contains("written after the backup") || before.contains("items"), "{before}");

    // (a) Refused, saying what is there; every row intact.
    let message = failed(&servicedb(&maria_restore_args(&target, dir.path(), &id), &password));
    assert!(message.contains(MARIA_HELD), "{message}");
    assert_eq!(maria_fingerprint(&target), before);

    // (b) --replace: exactly the backup's tables, rows, view, trigger and procedure.
    let out = servicedb(&[maria_restore_args(&target, dir.path(), &id), args(&["--replace"])].concat(), &password);
    let json = succeeded(&out);
    let safety = json["safetyBackup"].as_str().expect("safetyBackup in the JSON").to_string();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("safety backup {safety}")));
    assert_eq!(maria_fingerprint(&target), maria_fingerprint(&source));
    // The moved trigger fires on the moved table.
    maria(&target, "INSERT INTO shop.items VALUES (9001, 'new')");
    assert_eq!(maria(&target, "SELECT COUNT(*) FROM shop.audit WHERE item = 9001").trim(), "1");

    // (d) A freshly initialised instance restores; the safety backup gives
    // back exactly what was replaced, event included.
    let fresh = maria_instance(&password);
    succeeded(&servicedb(&maria_restore_args(&fresh, dir.path(), &safety), &password));
    assert_eq!(maria_fingerprint(&fresh), before);
}

#[test]
fn mariadb_a_restore_that_fails_part_way_leaves_the_schema_as_it_was() {
    let password = generate_password().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_source, id) = maria_source_backup(dir.path(), &password);
    // Cut inside the last table's rows: audit and items are loaded by then.
    let cut = truncated_copy(dir.path(), &id, 0.8);

    let empty = maria_instance(&password);
    let before = maria_fingerprint(&empty);
    let message = failed(&servicedb(&maria_restore_args(&empty, dir.path(), &cut), &password));
    assert!(message.contains("mariadb failed"), "{message}");
    let log = std::fs::read_to_string(&empty.log).unwrap();
    assert!(log.contains("INSERT INTO `items` VALUES"), "the load had begun");
    assert_eq!(maria_fingerprint(&empty), before, "no table, no scratch schema left");

    let held = maria_instance(&password);
    maria_load_held(&held);
    let before = maria_fingerprint(&held);
    let replace = [maria_restore_args(&held, dir.path(), &cut), args(&["--replace"])].concat();
    let message = failed(&servicedb(&replace, &password));
    assert!(message.contains("mariadb failed") && message.contains("safety backup"), "{message}");
    assert_eq!(maria_fingerprint(&held), before, "the schema as before, no scratch schema left");
}

// --------------------------------------------------------------------- Redis

/// A Redis server on `dir` the way the operator runs it (AOF on, ACL file).
fn redis_on(dir: &Path, acl: &Path) -> redis_server::Server {
    let acl = std::fs::read_to_string(acl).unwrap();
    redis_server::Server::start(&redis_server::Options { acl: &acl, dir: Some(dir), append_only: true, tls: None })
        .expect("Redis starts")
}

fn redis_conn(port: u16, password: &str) -> redis::Connection {
    redis::Client::open(format!("redis://admin:{password}@127.0.0.1:{port}/")).unwrap().get_connection().unwrap()
}

/// Shuts the server down cleanly (its AOF complete on disk).
fn redis_stop(mut server: redis_server::Server, password: &str) {
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut redis_conn(server.port, password));
    server.wait_exit(std::time::Duration::from_secs(30)).expect("Redis shuts down on SHUTDOWN");
}

/// Every key with its serialized value (DUMP), sorted.
fn keyspace(port: u16, password: &str) -> Vec<(String, Vec<u8>)> {
    let mut c = redis_conn(port, password);
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).unwrap();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            let dump: Vec<u8> = redis::cmd("DUMP").arg(&k).query(&mut c).unwrap();
            (k, dump)
        })
        .collect()
}

/// The keyspace a server started on `dir` holds.
fn keyspace_of(dir: &Path, acl: &Path, password: &str) -> Vec<(String, Vec<u8>)> {
    let server = redis_on(dir, acl);
    let port = server.port;
    let keys = keyspace(port, password);
    redis_stop(server, password);
    keys
}

fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> =
        walk(dir).into_iter().map(|p| (p.display().to_string(), std::fs::read(&p).unwrap())).collect();
    files.sort();
    files
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .flat_map(|e| if e.path().is_dir() { walk(&e.path()) } else { vec![e.path()] })
        .collect()
}

#[test]
fn redis_refuses_a_data_directory_with_a_keyspace_and_replace_keeps_a_safety_backup() {
    let password = generate_password().unwrap();
    let (source, acl) = common::redis_with_logins(&password, "app-password");
    {
        let mut c = redis_conn(source.port, &password);
        for i in 0..500u32 {
            let _: () =
                redis::cmd("SET").arg(format!("item:{i}")).arg(vec![(i % 251) as u8; 32]).query(&mut c).unwrap();
        }
        let _: () = redis::cmd("HSET").arg("profile").arg("name").arg("Zoë").query(&mut c).unwrap();
    }
    // To S3: the safety backup of the data files goes through the same multipart upload.
    let s3 = S3::start("backups").expect("S3 starts");
    let backup = [args(&["backup"]), connect_args("redis", source.port, "0", "admin"), s3_args(&s3, "cache")].concat();
    let id = id_of(&succeeded(&servicedb(&backup, &password)));
    let wanted = keyspace(source.port, &password);

    // An instance that has run: its keys are in the base RDB and the AOF increment.
    let acl_dir = tempfile::tempdir().unwrap();
    let acl_path = acl_dir.path().join("users.acl");
    std::fs::write(&acl_path, &acl).unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = redis_on(data.path(), &acl_path);
    let port = server.port;
    {
        let mut c = redis_conn(port, &password);
        for i in 0..300u32 {
            let _: () = redis::cmd("SET").arg(format!("order:{i}")).arg(i * 3).query(&mut c).unwrap();
        }
        let _: () = redis::cmd("SET").arg("item:1").arg("written after the backup").query(&mut c).unwrap();
    }
    let before = keyspace(port, &password);
    redis_stop(server, &password);
    let files = files_of(data.path());

    let restore = |extra: &[&str], id: &str, dir: &Path| {
        let into = dir.display().to_string();
        let parts = [args(&["restore", "--engine", "redis", "--backup", id, "--into-dir", &into]), args(extra)];
        servicedb(&[parts.concat(), s3_args(&s3, "cache")].concat(), "")
    };

    // (a) Refused, saying what is there; the files untouched, every key intact.
    let message = failed(&restore(&[], &id, data.path()));
    // A clean shutdown also saved dump.rdb (the default save points).
    let held = format!("data directory {} holds dump.rdb of ", data.path().display());
    assert!(message.contains(&held), "{message}");
    assert!(message.contains(", appendonlydir/appendonly.aof.1.base.rdb of "), "{message}");
    assert!(message.contains(" B and appendonlydir/appendonly.aof.1.incr.aof of "), "{message}");
    assert!(message.contains("(an existing keyspace); restore into a new instance, or pass --replace"), "{message}");
    assert_eq!(files_of(data.path()), files);
    // The init container's way: succeeds and leaves the data alone.
    let skipped = restore(&["--skip-if-present=true"], &id, data.path());
    assert!(skipped.status.success() && skipped.stdout.is_empty(), "{}", String::from_utf8_lossy(&skipped.stderr));
    assert_eq!(files_of(data.path()), files);
    assert_eq!(keyspace_of(data.path(), &acl_path, &password), before);

    // (b) --replace: the old files become a safety backup; then exactly the backup.
    let out = restore(&["--replace"], &id, data.path());
    let json = succeeded(&out);
    let safety = json["safetyBackup"].as_str().expect("safetyBackup in the JSON").to_string();
    assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("safety backup {safety}")));
    assert_eq!(keyspace_of(data.path(), &acl_path, &password), wanted);

    // (d) A new instance's empty directory restores; the safety backup
    // gives back exactly the replaced keyspace.
    let fresh = tempfile::tempdir().unwrap();
    succeeded(&restore(&[], &safety, fresh.path()));
    assert_eq!(keyspace_of(fresh.path(), &acl_path, &password), before);
    let kept = s3.objects();
    for id in [&id, &safety] {
        assert!(kept.contains(&format!("cache/{id}/manifest.json")), "{kept:?}");
    }
}

/// `servicedb restore` killed (with its client) while the dump loads: the
/// next restore of the database first drops what was loaded and puts the
/// set-aside contents back, then decides as usual (here: refuses).
#[test]
fn mariadb_a_restore_killed_mid_load_is_undone_by_the_next_one() {
    use std::os::unix::process::CommandExt;
    let password = generate_password().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_source, id) = maria_source_backup(dir.path(), &password);
    // A dump that stalls after the items table's rows.
    let stalls = common::cli::changed_copy(dir.path(), &id, "1", |dump| {
        let text = String::from_utf8_lossy(dump);
        let items = text.find("INSERT INTO `items` VALUES").expect("items rows");
        let after = items + text[items..].find("UNLOCK TABLES;").expect("end of items") + "UNLOCK TABLES;".len();
        format!("{}\nSELECT SLEEP(60);\n{}", &text[..after], &text[after..]).into_bytes()
    });
    let held = maria_instance(&password);
    maria_load_held(&held);
    let before = maria_fingerprint(&held);

    let replace = [maria_restore_args(&held, dir.path(), &stalls), args(&["--replace"])].concat();
    let mut child = Command::new(env!("CARGO_BIN_EXE_servicedb"))
        .args(&replace)
        .env("SERVICEDB_DB_PASSWORD", &password)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !std::fs::read_to_string(&held.log).unwrap_or_default().contains("SLEEP(60)") {
        assert!(std::time::Instant::now() < deadline, "the load never reached the stall");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: signals the process group of a child this test started.
    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
    let _ = child.wait();
    let loaded = maria(&held, "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop'");
    assert_ne!(maria_fingerprint(&held), before, "the kill left a partial load ({loaded} tables)");

    let message = failed(&servicedb(&maria_restore_args(&held, dir.path(), &id), &password));
    assert!(message.contains("an earlier restore was interrupted"), "{message}");
    assert!(message.contains(MARIA_HELD), "{message}");
    assert_eq!(maria_fingerprint(&held), before, "the old contents are back, no servicedb_* schema left");
}
