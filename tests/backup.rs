//! Backups and restores with real parts: the `servicedb backup` and
//! `servicedb restore` commands against real PostgreSQL, MariaDB and Redis
//! servers, and a real S3-compatible server (versitygw) on loopback.

mod common;
#[path = "common/tls.rs"]
mod tls_files;

use common::cli::{args, connect_args, dir_args, failed, s3_args, servicedb, succeeded};
use servicedb::backup::Manifest;
use servicedb::engine::{generate_password, mysql_native_password_hash};
use servicedb_test_support::s3::{ACCESS_KEY, S3, SECRET_KEY};
use servicedb_test_support::{files_under, mariadb, postgres, redis as redis_server};
use std::path::Path;
use std::process::{Command, Output};

/// Makes the instance's read-only backup login with the operator's own
/// administration, as a reconcile does; returns its password. Backups in
/// these tests run as it, the way the backup Jobs do.
fn backup_login(engine: servicedb::api::Engine, port: u16, admin: (&str, &str), database: &str, owner: &str) -> String {
    backup_login_at(engine, servicedb::engine::admin::Target::plain("127.0.0.1", port), admin, database, owner)
}

/// The same at `target` (a server with TLS).
fn backup_login_at(
    engine: servicedb::api::Engine,
    target: servicedb::engine::admin::Target,
    admin: (&str, &str),
    database: &str,
    owner: &str,
) -> String {
    use servicedb::engine::admin::{AppLogin, Login, Wanted};
    servicedb::install_crypto_provider();
    let login = |username: &str| Login { username: username.into(), password: generate_password().unwrap() };
    let wanted = Wanted {
        database: database.into(),
        app: vec![AppLogin { login: login(owner), enabled: true }],
        monitor: login("servicedb_monitor"),
        backup: login(servicedb::engine::BACKUP_USERNAME),
    };
    let admin = Login { username: admin.0.into(), password: admin.1.into() };
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(servicedb::engine::for_kind(engine).ensure(&target, &admin, &wanted)).expect("administered");
    wanted.backup.password
}

/// The manifest a successful backup or restore printed.
fn manifest_of(out: &std::process::Output) -> Manifest {
    serde_json::from_value(succeeded(out)).expect("stdout is the manifest")
}

// ---------------------------------------------------------------- PostgreSQL

const PG_TABLES: [&str; 3] = ["customers", "events", "empty_table"];

/// What the operator creates in a new instance: the owner and its database.
fn orders_database(server: &postgres::Server) {
    server.admin_sql("CREATE ROLE orders LOGIN");
    server.admin_sql("CREATE DATABASE orders OWNER orders");
}

/// Three tables, binary values, and > 50 MB of rows.
fn load_postgres(server: &postgres::Server) {
    orders_database(server);
    server.admin_sql_in(
        "orders",
        "SET ROLE orders;
         CREATE TABLE customers(id int PRIMARY KEY, name text, photo bytea);
         INSERT INTO customers SELECT i, 'customer ' || i || ' ñ ✓', decode(md5(i::text) || md5((i * 7)::text), 'hex')
           FROM generate_series(1, 20000) i;
         CREATE TABLE events(id bigint PRIMARY KEY, payload text);
         INSERT INTO events SELECT i, repeat(md5(i::text), 20) FROM generate_series(1, 90000) i;
         CREATE TABLE empty_table(x int);
         -- Row security hides every row from whoever is not the owner or exempt.
         ALTER TABLE events ENABLE ROW LEVEL SECURITY;
         CREATE POLICY nobody ON events USING (false);",
    );
}

/// Row count and an MD5 over every row, per table.
fn postgres_fingerprint(server: &postgres::Server) -> Vec<String> {
    PG_TABLES
        .iter()
        .map(|table| {
            server.admin_sql_in(
                "orders",
                &format!("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM {table} t"),
            )
        })
        .collect()
}

#[test]
fn postgres_backup_to_s3_restores_identically_into_a_new_instance() {
    let source = common::postgres();
    load_postgres(&source);
    let size: i64 = source.admin_sql("SELECT pg_database_size('orders')").parse().unwrap();
    assert!(size > 50 << 20, "the test database is only {size} bytes");
    let s3 = S3::start("backups").expect("S3 starts");
    let admin = ("postgres", source.admin_password.as_str());
    let backup_password = backup_login(servicedb::api::Engine::Postgres, source.port, admin, "orders", "orders");

    let backup = [
        connect_args("postgres", source.port, "orders", "servicedb_backup"),
        s3_args(&s3, "shop/orders"),
        args(&["--engine-version", "16"]),
    ]
    .concat();
    let manifest = manifest_of(&servicedb(&[args(&["backup"]), backup].concat(), &backup_password));
    assert_eq!((manifest.engine.as_str(), manifest.tool.as_str()), ("postgres", "pg_dump"));
    assert!(manifest.dump_bytes > 50 << 20 && manifest.stored_bytes > 0, "{manifest:?}");
    assert_eq!(manifest.location, format!("s3://backups/shop/orders/{}/data.zst", manifest.id));
    assert_eq!(
        s3.objects(),
        vec![format!("shop/orders/{}/data.zst", manifest.id), format!("shop/orders/{}/manifest.json", manifest.id)]
    );

    let target = common::postgres();
    orders_database(&target);
    let restore = [
        args(&["restore"]),
        connect_args("postgres", target.port, "orders", "postgres"),
        s3_args(&s3, "shop/orders"),
        args(&["--owner", "orders"]),
    ]
    .concat();
    let restored = manifest_of(&servicedb(&restore, &target.admin_password));
    assert_eq!(restored.id, manifest.id, "the newest backup is the default");
    assert_eq!(postgres_fingerprint(&target), postgres_fingerprint(&source));
    assert_eq!(target.admin_sql_in("orders", "SELECT tableowner FROM pg_tables WHERE tablename = 'events'"), "orders");
    assert_eq!(target.admin_sql_in("orders", "SELECT policyname FROM pg_policies"), "nobody", "row security kept");
    for server in [&source, &target] {
        let log = server.log();
        assert!(
            ![&source.admin_password, &target.admin_password, &backup_password]
                .iter()
                .any(|p| log.contains(p.as_str()))
        );
    }
}

#[test]
fn a_corrupted_backup_is_refused_before_anything_is_loaded() {
    let source = common::postgres();
    orders_database(&source);
    source.admin_sql_in("orders", "CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 1000)");
    let dir = tempfile::tempdir().unwrap();
    let backup =
        [args(&["backup"]), connect_args("postgres", source.port, "orders", "postgres"), dir_args(dir.path())].concat();
    let manifest = manifest_of(&servicedb(&backup, &source.admin_password));

    // One flipped byte in the middle of the stored data.
    let data = dir.path().join(&manifest.id).join("data.zst");
    let mut bytes = std::fs::read(&data).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(&data, bytes).unwrap();

    let target = common::postgres();
    orders_database(&target);
    let restore = [
        args(&["restore"]),
        connect_args("postgres", target.port, "orders", "postgres"),
        dir_args(dir.path()),
        args(&["--owner", "orders"]),
    ]
    .concat();
    let message = failed(&servicedb(&restore, &target.admin_password));
    assert!(message.contains(&format!("backup {} is corrupt", manifest.id)), "{message}");
    assert!(message.contains("nothing was restored"), "{message}");
    assert_eq!(target.admin_sql_in("orders", "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"), "0");
}

#[test]
fn failures_say_why_and_keep_every_earlier_backup() {
    let source = common::postgres();
    orders_database(&source);
    let mut s3 = S3::start("backups").expect("S3 starts");
    let backup = |s3: &S3, password: &str| {
        servicedb(
            &[args(&["backup"]), connect_args("postgres", source.port, "orders", "postgres"), s3_args(s3, "p")]
                .concat(),
            password,
        )
    };
    let first = manifest_of(&backup(&s3, &source.admin_password));
    let before = s3.objects();
    assert_eq!(before.len(), 2);

    // Wrong credentials: the dump tool's reason, no password, nothing
    // written; the reason also in the termination log the operator reads.
    let wrong = "not-the-password-0123456789";
    let log = tempfile::NamedTempFile::new().unwrap();
    let with_log = [
        args(&["backup", "--termination-log", &log.path().display().to_string()]),
        connect_args("postgres", source.port, "orders", "postgres"),
        s3_args(&s3, "p"),
    ]
    .concat();
    let message = failed(&servicedb(&with_log, wrong));
    assert!(message.contains("pg_dump failed") && message.contains("password authentication failed"), "{message}");
    assert!(!message.contains(wrong), "the password leaked: {message}");
    let reported = std::fs::read_to_string(log.path()).unwrap();
    assert!(reported.starts_with("pg_dump failed") && message.contains(&reported), "{reported}");
    assert_eq!(s3.objects(), before);

    // The store is down: a clear failure within the retry budget.
    s3.stop();
    let started = std::time::Instant::now();
    let message = failed(&backup(&s3, &source.admin_password));
    assert!(message.contains("cannot use the backup destination s3://backups/p"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(120), "took {:?}", started.elapsed());
    s3.resume().expect("S3 starts again");
    assert_eq!(s3.objects(), before, "the earlier backup is intact");

    // And it still restores.
    let target = common::postgres();
    orders_database(&target);
    let restore = [
        args(&["restore", "--backup", &first.id, "--owner", "orders"]),
        connect_args("postgres", target.port, "orders", "postgres"),
        s3_args(&s3, "p"),
    ]
    .concat();
    assert_eq!(manifest_of(&servicedb(&restore, &target.admin_password)).id, first.id);
}

#[test]
fn retention_keeps_exactly_the_newest_n() {
    let source = common::postgres();
    orders_database(&source);
    let s3 = S3::start("backups").expect("S3 starts");
    let mut ids = Vec::new();
    for _ in 0..4 {
        let backup = [
            args(&["backup", "--keep-last", "2"]),
            connect_args("postgres", source.port, "orders", "postgres"),
            s3_args(&s3, "r"),
        ]
        .concat();
        ids.push(manifest_of(&servicedb(&backup, &source.admin_password)).id);
        // Ids have a one-second resolution; keep them in order.
        std::thread::sleep(std::time::Duration::from_millis(1100));
    }
    let kept: Vec<String> =
        ids[2..].iter().flat_map(|id| [format!("r/{id}/data.zst"), format!("r/{id}/manifest.json")]).collect();
    assert_eq!(s3.objects(), kept);
}

// ------------------------------------------------------ list, verify, orphans

/// `servicedb <args>` configured the way the backup Jobs are: by the
/// environment only.
fn servicedb_env(args: &[&str], env: &[(&str, String)], password: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_servicedb"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("SERVICEDB_DB_PASSWORD", password)
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .output()
        .expect("the servicedb binary runs")
}

/// The environment of a backup Job of `orders` on `source`, without the destination.
fn job_env(source: &postgres::Server) -> Vec<(&'static str, String)> {
    vec![
        ("SERVICEDB_ENGINE", "postgres".into()),
        ("SERVICEDB_DB_HOST", "127.0.0.1".into()),
        ("SERVICEDB_DB_PORT", source.port.to_string()),
        ("SERVICEDB_DB_NAME", "orders".into()),
        ("SERVICEDB_DB_USERNAME", "postgres".into()),
        ("SERVICEDB_ENGINE_VERSION", "16".into()),
    ]
}

/// The two destinations, as (environment, directory on disk of the backups).
fn destinations(dir: &Path, s3: &S3) -> Vec<(Vec<(&'static str, String)>, std::path::PathBuf)> {
    vec![
        (vec![("SERVICEDB_BACKUP_DIR", dir.display().to_string())], dir.to_path_buf()),
        (
            vec![
                ("SERVICEDB_S3_BUCKET", s3.bucket.clone()),
                ("SERVICEDB_S3_PREFIX", "shop/orders".into()),
                ("SERVICEDB_S3_ENDPOINT", s3.endpoint()),
                ("SERVICEDB_S3_TLS", "false".into()),
            ],
            s3.bucket_dir.join("shop/orders"),
        ),
    ]
}

fn entries(out: &Output) -> Vec<servicedb::backup::BackupEntry> {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    })
}

fn states(entries: &[servicedb::backup::BackupEntry]) -> Vec<(String, String)> {
    entries
        .iter()
        .map(|e| (e.id.clone(), serde_json::to_value(e.state).unwrap().as_str().unwrap().to_string()))
        .collect()
}

#[test]
fn list_and_verify_report_every_backup_and_what_is_wrong_with_it() {
    let source = common::postgres();
    orders_database(&source);
    source.admin_sql_in("orders", "CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 20000)");
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start("backups").expect("S3 starts");
    for (destination, on_disk) in destinations(dir.path(), &s3) {
        let env = [job_env(&source), destination.clone()].concat();
        // `servicedb backup` with no flags at all, as the Jobs run it.
        let ids: Vec<String> =
            (0..5).map(|_| manifest_of(&servicedb_env(&["backup"], &env, &source.admin_password)).id).collect();
        let data = |id: &str| on_disk.join(id).join("data.zst");
        // [0] untouched; [1] one flipped byte; [2] truncated; [3] lost its
        // manifest (an interrupted prune); [4] lost its data.
        let mut bytes = std::fs::read(data(&ids[1])).unwrap();
        let middle = bytes.len() / 2;
        bytes[middle] ^= 0xff;
        std::fs::write(data(&ids[1]), bytes).unwrap();
        let bytes = std::fs::read(data(&ids[2])).unwrap();
        std::fs::write(data(&ids[2]), &bytes[..bytes.len() - 1]).unwrap();
        std::fs::remove_file(on_disk.join(&ids[3]).join("manifest.json")).unwrap();
        std::fs::remove_file(data(&ids[4])).unwrap();

        // list: no cluster, no database flags, the destination from the environment.
        let listed = servicedb_env(&["backup", "list", "--output", "json"], &destination, "");
        assert!(listed.status.success(), "{}", String::from_utf8_lossy(&listed.stderr));
        let listed = entries(&listed);
        let mut expected: Vec<(String, String)> = ids
            .iter()
            .zip(["complete", "complete", "sizeMismatch", "orphan", "missingData"])
            .map(|(id, state)| (id.clone(), state.to_string()))
            .collect();
        expected.sort();
        assert_eq!(states(&listed), expected);
        let first = listed.iter().find(|e| e.id == ids[0]).unwrap();
        assert_eq!((first.engine.as_deref(), first.engine_version.as_deref()), (Some("postgres"), Some("16")));
        assert_eq!(first.database.as_deref(), Some("orders"));
        assert!(first.stored_bytes.unwrap() > 0 && first.dump_bytes.unwrap() > first.stored_bytes.unwrap());
        assert!(first.started_at.unwrap() <= first.finished_at.unwrap());
        let truncated = listed.iter().find(|e| e.id == ids[2]).unwrap();
        assert!(truncated.message.as_deref().unwrap().contains("bytes but the manifest says"), "{truncated:?}");

        let text = servicedb_env(&["backup", "list"], &destination, "");
        let text = String::from_utf8_lossy(&text.stdout).to_string();
        assert!(text.starts_with("ID "), "{text}");
        assert!(text.lines().any(|l| l.starts_with(&ids[0]) && l.contains("complete") && l.contains("KiB")), "{text}");

        // verify --all: every backup with a manifest read back whole.
        let all = servicedb_env(&["backup", "verify", "--all", "--output", "json"], &destination, "");
        // A failed verify still prints what it found, for scripts.
        let stderr = String::from_utf8_lossy(&all.stderr);
        assert!(!all.status.success() && stderr.contains("3 of 4 backups did not verify"), "{stderr}");
        let verified = entries(&all);
        let mut expected: Vec<(String, String)> =
            [(0, "verified"), (1, "corrupt"), (2, "sizeMismatch"), (4, "missingData")]
                .iter()
                .map(|(i, state)| (ids[*i].clone(), state.to_string()))
                .collect();
        expected.sort();
        assert_eq!(states(&verified), expected);
        let corrupt = verified.iter().find(|e| e.id == ids[1]).unwrap();
        let message = corrupt.message.as_deref().unwrap();
        assert!(
            message.contains(corrupt.sha256.as_deref().unwrap()) && message.contains("the data has sha256"),
            "{message}"
        );

        // One good backup by id: exit 0. An unknown id: said so.
        let one = servicedb_env(&["backup", "verify", &ids[0]], &destination, "");
        assert!(one.status.success(), "{}", String::from_utf8_lossy(&one.stderr));
        assert!(String::from_utf8_lossy(&one.stdout).contains("verified"));
        let unknown = failed(&servicedb_env(&["backup", "verify", "20990101T000000Z-0000"], &destination, ""));
        assert!(unknown.contains("no backup 20990101T000000Z-0000 at"), "{unknown}");
    }
}

#[test]
fn a_directory_nothing_was_backed_up_to_lists_nothing_and_is_not_created() {
    let root = tempfile::tempdir().unwrap();
    let missing = root.path().join("orders");
    let env = [("SERVICEDB_BACKUP_DIR", missing.display().to_string())];
    let out = servicedb_env(&["backup", "list", "--output", "json"], &env, "");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(entries(&out).is_empty());
    assert!(!missing.exists(), "list must not create the directory");
    let unknown = failed(&servicedb_env(&["backup", "verify", "20261129T030000Z-3f9a"], &env, ""));
    assert!(unknown.contains("no backup 20261129T030000Z-3f9a at"), "{unknown}");
}

#[test]
fn the_next_prune_removes_data_an_interrupted_prune_left_and_nothing_else() {
    let source = common::postgres();
    orders_database(&source);
    source.admin_sql_in("orders", "CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 1000)");
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3::start("backups").expect("S3 starts");
    for (destination, on_disk) in destinations(dir.path(), &s3) {
        let env = [job_env(&source), destination.clone()].concat();
        let backup = || {
            let id = manifest_of(&servicedb_env(&["backup"], &env, &source.admin_password)).id;
            // Ids have a one-second resolution; keep them in order.
            std::thread::sleep(std::time::Duration::from_millis(1100));
            id
        };
        let ids: Vec<String> = (0..3).map(|_| backup()).collect();
        // A prune that died between the manifest's deletion and the data's.
        std::fs::remove_file(on_disk.join(&ids[0]).join("manifest.json")).unwrap();
        // And data newer than any complete backup: one still being verified.
        let in_progress = "20991231T000000Z-0000/data.zst";
        std::fs::create_dir_all(on_disk.join(in_progress).parent().unwrap()).unwrap();
        std::fs::copy(on_disk.join(&ids[1]).join("data.zst"), on_disk.join(in_progress)).unwrap();
        let listed = entries(&servicedb_env(&["backup", "list", "--output", "json"], &destination, ""));
        assert_eq!(listed.iter().filter(|e| e.state == servicedb::backup::BackupState::Orphan).count(), 2);

        let newest = backup();
        let mut kept: Vec<String> = ids[1..]
            .iter()
            .chain([&newest])
            .flat_map(|id| [format!("{id}/data.zst"), format!("{id}/manifest.json")])
            .chain([in_progress.to_string()])
            .collect();
        kept.sort();
        assert_eq!(files_under(&on_disk), kept, "only the orphan of {} is gone", ids[0]);
    }
}

#[test]
fn s3_over_tls_with_a_private_ca_backs_up_and_restores_only_when_told_the_ca() {
    let source = common::postgres();
    orders_database(&source);
    source.admin_sql_in("orders", "CREATE TABLE t(id int); INSERT INTO t SELECT generate_series(1, 5000)");
    let s3 = S3::start_tls("backups").expect("S3 starts");
    let ca = s3.ca_file.clone().unwrap().display().to_string();
    let https = args(&["--s3-bucket", &s3.bucket, "--s3-prefix", "tls", "--s3-endpoint", &s3.endpoint()]);
    let backup =
        [args(&["backup"]), connect_args("postgres", source.port, "orders", "postgres"), https.clone()].concat();

    // Without the CA: refused, saying why and what fixes it; nothing stored.
    let message = failed(&servicedb(&backup, &source.admin_password));
    assert!(message.contains("the S3 server's certificate is not trusted"), "{message}");
    assert!(message.contains("--s3-ca-file") && message.contains("spec.backup.destination.s3.caBundle"), "{message}");
    assert!(s3.objects().is_empty());

    // A CA file that is not there, or not PEM: named.
    let missing = failed(&servicedb(&[backup.clone(), args(&["--s3-ca-file", "/nonexistent/ca.crt"])].concat(), ""));
    assert!(
        missing.contains("the S3 CA bundle /nonexistent/ca.crt") && missing.contains("cannot be read"),
        "{missing}"
    );

    let manifest = manifest_of(&servicedb(&[backup, args(&["--s3-ca-file", &ca])].concat(), &source.admin_password));
    assert_eq!(manifest.location, format!("s3://backups/tls/{}/data.zst", manifest.id));

    // The pods get the CA as SERVICEDB_S3_CA_FILE.
    let env = [
        ("SERVICEDB_S3_BUCKET", s3.bucket.clone()),
        ("SERVICEDB_S3_PREFIX", "tls".into()),
        ("SERVICEDB_S3_ENDPOINT", s3.endpoint()),
        ("SERVICEDB_S3_CA_FILE", ca.clone()),
    ];
    let listed = entries(&servicedb_env(&["backup", "list", "--output", "json"], &env, ""));
    assert_eq!(states(&listed), vec![(manifest.id.clone(), "complete".to_string())]);

    let target = common::postgres();
    orders_database(&target);
    let restore = [
        args(&["restore", "--owner", "orders", "--s3-ca-file", &ca]),
        connect_args("postgres", target.port, "orders", "postgres"),
        https,
    ]
    .concat();
    assert_eq!(manifest_of(&servicedb(&restore, &target.admin_password)).id, manifest.id);
    assert_eq!(target.admin_sql_in("orders", "SELECT count(*) FROM t"), "5000");
}

// ------------------------------------------------------------------- MariaDB

fn mariadb_fingerprint(server: &mariadb::Server) -> String {
    let out = server.root("SELECT COUNT(*) FROM shop.items; CHECKSUM TABLE shop.items, shop.notes EXTENDED;");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).to_string()
}

fn mariadb_admin(server: &mariadb::Server, password: &str) {
    let out = server.root(&format!(
        "CREATE USER 'admin'@'%' IDENTIFIED BY PASSWORD '{}'; GRANT ALL ON *.* TO 'admin'@'%' WITH GRANT OPTION; CREATE DATABASE shop CHARACTER SET utf8mb4;",
        mysql_native_password_hash(password)
    ));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn mariadb_backup_to_a_volume_restores_identically() {
    let password = generate_password().unwrap();
    let source = common::mariadb();
    mariadb_admin(&source, &password);
    let out = source.root(
        "USE shop;
         CREATE TABLE shop.items(id INT PRIMARY KEY, name VARCHAR(100), digest BLOB) ENGINE=InnoDB;
         INSERT INTO shop.items SELECT seq, CONCAT('item ', seq, ' ñ ✓'), UNHEX(SHA2(seq, 256)) FROM seq_1_to_20000;
         CREATE TABLE shop.notes(id INT PRIMARY KEY, body TEXT) ENGINE=InnoDB;
         INSERT INTO shop.notes SELECT seq, REPEAT(MD5(seq), 10) FROM seq_1_to_5000;
         CREATE VIEW shop.named AS SELECT id, name FROM shop.items;
         CREATE FUNCTION shop.double_it(x INT) RETURNS INT DETERMINISTIC RETURN x * 2;
         CREATE TRIGGER shop.no_empty BEFORE INSERT ON shop.notes FOR EACH ROW SET NEW.body = COALESCE(NEW.body, '');
         CREATE EVENT shop.tidy ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM shop.notes WHERE id < 0;",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let backup_password =
        backup_login(servicedb::api::Engine::Mariadb, source.port, ("admin", &password), "shop", "shop");
    let dir = tempfile::tempdir().unwrap();
    let backup =
        [args(&["backup"]), connect_args("mariadb", source.port, "shop", "servicedb_backup"), dir_args(dir.path())]
            .concat();
    let manifest = manifest_of(&servicedb(&backup, &backup_password));
    assert_eq!(manifest.tool, "mariadb-dump");
    assert!(dir.path().join(&manifest.id).join("manifest.json").exists());

    let target = common::mariadb();
    mariadb_admin(&target, &password);
    let restore =
        [args(&["restore"]), connect_args("mariadb", target.port, "shop", "admin"), dir_args(dir.path())].concat();
    manifest_of(&servicedb(&restore, &password));
    let fingerprint = mariadb_fingerprint(&source);
    assert!(fingerprint.starts_with("20000\n"), "{fingerprint}");
    assert_eq!(mariadb_fingerprint(&target), fingerprint);
    // What the backup login reads beside rows came back too.
    let objects = "SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = 'shop'),
        (SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = 'shop'),
        (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = 'shop'),
        (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = 'shop')";
    let restored = String::from_utf8_lossy(&target.root(objects).stdout).trim().to_string();
    assert_eq!(restored.split('\t').collect::<Vec<_>>(), ["1", "RETURN x * 2", "1", "1"], "{restored}");
    let log = std::fs::read_to_string(&source.log).unwrap_or_default();
    assert!(!log.contains(&password) && !log.contains(&backup_password), "a password reached MariaDB's general log");
}

// --------------------------------------------------------------------- Redis

/// Everything the test stored: key count, binary values, a hash and a list.
#[derive(Debug, PartialEq)]
struct RedisContent {
    keys: usize,
    values: Vec<Vec<u8>>,
    hash: Vec<(String, String)>,
    list: Vec<String>,
}

fn redis_values(port: u16, password: &str) -> RedisContent {
    let client = redis::Client::open(format!("redis://admin:{password}@127.0.0.1:{port}/")).unwrap();
    let mut c = client.get_connection().unwrap();
    let keys: usize = redis::cmd("DBSIZE").query(&mut c).unwrap();
    let values: Vec<Vec<u8>> =
        (0..2000).map(|i| redis::cmd("GET").arg(format!("bin:{i}")).query(&mut c).unwrap()).collect();
    let hash: Vec<(String, String)> = redis::cmd("HGETALL").arg("profile").query(&mut c).unwrap();
    let list: Vec<String> = redis::cmd("LRANGE").arg("queue").arg(0).arg(-1).query(&mut c).unwrap();
    RedisContent { keys, values, hash, list }
}

#[test]
fn redis_rdb_backup_to_s3_loads_into_a_new_instance() {
    let password = generate_password().unwrap();
    let app_password = generate_password().unwrap();
    let (source, acl) = common::redis_with_logins(&password, &app_password);
    {
        let client = redis::Client::open(format!("redis://admin:{password}@127.0.0.1:{}/", source.port)).unwrap();
        let mut c = client.get_connection().unwrap();
        for i in 0..2000u32 {
            let value: Vec<u8> = (0..64u32).map(|j| (i.wrapping_mul(31).wrapping_add(j * 7) % 256) as u8).collect();
            let _: () = redis::cmd("SET").arg(format!("bin:{i}")).arg(value).query(&mut c).unwrap();
        }
        let _: () =
            redis::cmd("HSET").arg("profile").arg("name").arg("Zoë").arg("plan").arg("pro").query(&mut c).unwrap();
        let _: () = redis::cmd("RPUSH").arg("queue").arg("a").arg("b").arg("c").query(&mut c).unwrap();
    }
    let s3 = S3::start("backups").expect("S3 starts");
    let backup_password = backup_login(servicedb::api::Engine::Redis, source.port, ("admin", &password), "0", "orders");
    let backup =
        [args(&["backup"]), connect_args("redis", source.port, "0", "servicedb_backup"), s3_args(&s3, "cache")]
            .concat();
    let manifest = manifest_of(&servicedb(&backup, &backup_password));
    assert_eq!(manifest.tool, "redis-cli");

    // A new instance's data directory, before its server starts.
    let data = tempfile::tempdir().unwrap();
    let restore = [
        args(&["restore", "--engine", "redis", "--into-dir", &data.path().display().to_string()]),
        s3_args(&s3, "cache"),
    ]
    .concat();
    manifest_of(&servicedb(&restore, ""));
    let again = failed(&servicedb(&restore, ""));
    assert!(again.contains("(an existing keyspace); restore into a new instance"), "{again}");
    // What the init container runs on every start: existing data is left alone.
    let skipped = servicedb(&[restore.clone(), args(&["--skip-if-present=true"])].concat(), "");
    assert!(skipped.status.success() && skipped.stdout.is_empty(), "{}", String::from_utf8_lossy(&skipped.stderr));

    // Started the way the operator runs Redis: with its ACL file and AOF on.
    let options = redis_server::Options { acl: &acl, dir: Some(data.path()), append_only: true, tls: None };
    let server = redis_server::Server::start(&options).expect("Redis starts");
    let restored = redis_values(server.port, &password);
    assert_eq!(restored.keys, 2002);
    assert_eq!(restored, redis_values(source.port, &password));
}

// ----------------------------------------------------------------------- TLS

use servicedb::engine::admin::{Target, TargetTls};

/// A backup Job's way to the CA: the `ca.crt` of its Secret as PEM text
/// in SERVICEDB_DB_CA; a restore by hand names the file.
#[test]
fn over_tls_backups_verify_the_server_and_restore_identically_and_a_stranger_ca_is_refused() {
    let authority = servicedb::tls::Authority::generate(std::time::SystemTime::now()).unwrap();
    let names = servicedb::tls::server_names("orders-db", "shop");
    let issue = || authority.issue(&names, std::time::SystemTime::now()).unwrap();
    let keys = issue();
    let (source_files, target_files) =
        (tls_files::files(&issue(), Some("postgres")), tls_files::files(&keys, Some("postgres")));
    let password = generate_password().unwrap();
    let (source, target) =
        (tls_files::postgres(&password, &source_files), tls_files::postgres(&password, &target_files));
    orders_database(&source);
    source.admin_sql_in("orders", "SET ROLE orders; CREATE TABLE customers(id int PRIMARY KEY, name text); INSERT INTO customers SELECT i, 'c' || i FROM generate_series(1, 5000) i;");
    let tls = TargetTls { ca_pem: keys.ca_pem.clone(), server_name: "orders-db.shop.svc".into() };
    let target_tls = Target { tls: Some(tls), ..Target::plain("127.0.0.1", source.port) };
    let backup_password =
        backup_login_at(servicedb::api::Engine::Postgres, target_tls, ("postgres", &password), "orders", "orders");
    let dir = tempfile::tempdir().unwrap();
    let backup =
        [args(&["backup"]), connect_args("postgres", source.port, "orders", "servicedb_backup"), dir_args(dir.path())]
            .concat();

    let backup: Vec<&str> = backup.iter().map(String::as_str).collect();
    let stranger = servicedb::tls::Authority::generate(std::time::SystemTime::now()).unwrap();
    let refused =
        failed(&servicedb_env(&backup, &[("SERVICEDB_DB_CA", stranger.cert_pem().to_string())], &backup_password));
    assert!(
        refused.contains("certificate verify failed"),
        "a CA that did not sign the server's certificate: {refused}"
    );
    let ok = servicedb_env(&backup, &[("SERVICEDB_DB_CA", keys.ca_pem.clone())], &backup_password);
    let manifest = manifest_of(&ok);

    orders_database(&target);
    let ca_file = target_files.path().join("ca.crt").display().to_string();
    let restore = [
        args(&["restore"]),
        connect_args("postgres", target.port, "orders", "postgres"),
        dir_args(dir.path()),
        args(&["--owner", "orders", "--db-ca-file", &ca_file]),
    ]
    .concat();
    assert_eq!(manifest_of(&servicedb(&restore, &password)).id, manifest.id);
    let count = |server: &postgres::Server| {
        server.admin_sql_in("orders", "SELECT count(*) || md5(string_agg(name, ',' ORDER BY id)) FROM customers")
    };
    assert_eq!(count(&target), count(&source));
}
