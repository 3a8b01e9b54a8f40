//! Each launcher against its real server: it starts on a free loopback
//! port, accepts what a test sends it, and once dropped its process is gone
//! and its directory removed. Needs `make deps` (and `e2e/tools.sh
//! versitygw` for S3); `make engines` runs these.

use servicedb_test_support::{mariadb, postgres, redis, s3};
use std::path::PathBuf;

/// Whether a process with this PID exists (a zombie would still show, and
/// the launchers reap theirs).
fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

fn assert_gone(pid: u32, dir: PathBuf) {
    assert!(!alive(pid), "pid {pid} still runs after the drop");
    assert!(!dir.exists(), "{} is left behind", dir.display());
}

#[test]
fn postgres_starts_answers_and_is_gone_after_drop() {
    let options = postgres::Options {
        admin_user: "boss",
        admin_password: "s3cret-Pw",
        settings: &[("log_statement", "all"), ("max_connections", "20")],
    };
    let server = postgres::Server::start(&options).unwrap();
    assert_eq!(server.admin_sql("SHOW max_connections"), "20");
    // The superuser logs in over TCP with its password (SCRAM), not without.
    let tcp = server.sql_as("boss", "s3cret-Pw", "postgres", "SELECT current_user");
    assert_eq!(String::from_utf8_lossy(&tcp.stdout).trim(), "boss", "{}", String::from_utf8_lossy(&tcp.stderr));
    assert!(!server.sql_as("boss", "wrong", "postgres", "SELECT 1").status.success());
    // A script runs as an init script of the image: PGHOST/PGPORT set, env added.
    let out =
        server.run_script(r#"psql -U boss -d postgres -tAc "SELECT '$GREETING'""#, &[("GREETING", "hi")]).unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "hi", "{}", String::from_utf8_lossy(&out.stderr));
    assert!(server.log().contains("SELECT current_user"), "log_statement=all reaches server.log");
    let (pid, dir) = (server.pid(), server.dir().to_path_buf());
    drop(server);
    assert_gone(pid, dir);
}

#[test]
fn mariadb_starts_creates_logins_and_is_gone_after_drop() {
    let server =
        mariadb::Server::start(&mariadb::Options { general_log: true, settings: &["--max-connections=20"] }).unwrap();
    server.create_root_login(mariadb::Identified::Password("root-pw")).unwrap();
    // A name that needs quoting, and a password with a quote in it.
    server.create_login("or`ders", "orders", mariadb::Identified::Password("it's-mine")).unwrap();
    let out = server.as_user("orders", "it's-mine", "or`ders", "SELECT DATABASE()");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "or`ders", "{}", String::from_utf8_lossy(&out.stderr));
    let root = server.as_user("root", "root-pw", "mysql", "SELECT @@max_connections");
    assert_eq!(String::from_utf8_lossy(&root.stdout).trim(), "20", "{}", String::from_utf8_lossy(&root.stderr));
    assert!(std::fs::read_to_string(&server.log).unwrap().contains("SELECT DATABASE()"), "the general log");
    let refused = server.try_root("SELECT * FROM no_such_table").unwrap_err();
    assert!(refused.0.contains("No database selected") || refused.0.contains("doesn't exist"), "{refused}");
    let (pid, dir) = (server.pid(), server.dir().to_path_buf());
    drop(server);
    assert_gone(pid, dir);
}

#[test]
fn redis_starts_with_its_acl_file_and_keeps_data_where_told() {
    let acl = "user default off\nuser admin on >admin-pw ~* &* +@all\n";
    let data = tempfile::tempdir().unwrap();
    let mut server =
        redis::Server::start(&redis::Options { acl, dir: Some(data.path()), append_only: true, tls: None }).unwrap();
    assert_eq!(server.cmd(Some(("admin", "admin-pw")), &["SET", "k", "v"]), "OK");
    assert!(server.cmd(None, &["GET", "k"]).contains("NOAUTH"), "default is off");
    assert_eq!(std::fs::read_to_string(server.acl_file()).unwrap(), acl);
    server.cmd(Some(("admin", "admin-pw")), &["SHUTDOWN"]);
    server.wait_exit(std::time::Duration::from_secs(30)).unwrap();
    assert!(data.path().join("appendonlydir").exists(), "AOF in the given directory");
}

#[test]
fn a_server_that_exits_at_once_is_an_error_naming_it_not_a_60s_wait() {
    let started = std::time::Instant::now();
    let failed = redis::Server::start(&redis::Options {
        acl: "this is not an ACL line\n",
        dir: None,
        append_only: false,
        tls: None,
    });
    let message = failed.err().expect("a bad ACL file stops redis-server").0;
    assert!(message.contains("exited") && message.contains("redis-server"), "{message}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{:?}", started.elapsed());
}

#[test]
fn s3_serves_stops_and_resumes_on_the_same_port() {
    let mut s3 = s3::S3::start("backups").unwrap();
    let port = s3.port;
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    s3.stop();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err(), "stopped");
    s3.resume().unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(), "resumed");
    assert!(s3.objects().is_empty());
}
