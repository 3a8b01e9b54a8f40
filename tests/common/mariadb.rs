//! A private MariaDB server (Debian's mariadb-server) on a loopback port,
//! logging every statement to its general log.

use super::{Guard, free_port, is_root, wait_for_port};
use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Server {
    pub port: u16,
    pub log: PathBuf,
    pub socket: PathBuf,
    _process: Guard,
    _dir: tempfile::TempDir,
}

pub fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let user = if is_root() { "root".to_string() } else { std::env::var("USER").unwrap_or_default() };
    // A temporary directory of its own: servers bootstrapping in parallel
    // have been seen to trip over each other's temporary tables in /tmp.
    let tmp = dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    if is_root() {
        let _ = Command::new("chmod").arg("1777").arg(&tmp).status();
    }
    let install = Command::new("mariadb-install-db")
        .env("TMPDIR", &tmp)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--user={user}"))
        .arg("--auth-root-authentication-method=socket")
        .output()
        .expect("mariadb-install-db is missing: run `make deps` (apt-get install mariadb-server)");
    assert!(install.status.success(), "{}", String::from_utf8_lossy(&install.stderr));
    let port = free_port();
    let socket = dir.path().join("mysqld.sock");
    let process = Command::new("mariadbd")
        .env("TMPDIR", &tmp)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
        .args([
            &format!("--port={port}"),
            "--bind-address=127.0.0.1",
            &format!("--user={user}"),
            "--skip-log-bin",
            "--skip-name-resolve",
        ])
        // Every statement, so a test can see what reached the server.
        .arg("--general-log")
        .arg(format!("--general-log-file={}", dir.path().join("general.log").display()))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let process = Guard(process);
    wait_for_port(port);
    Server { port, socket, log: dir.path().join("general.log"), _process: process, _dir: dir }
}

impl Server {
    pub fn root(&self, sql: &str) -> Output {
        Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "-N", "-e", sql])
            .output()
            .unwrap()
    }

    pub fn as_user(&self, user: &str, password: &str, database: &str, sql: &str) -> Output {
        Command::new("mariadb")
            .args([
                "--no-defaults",
                "--protocol=TCP",
                "-h",
                "127.0.0.1",
                "-P",
                &self.port.to_string(),
                "-u",
                user,
                "-N",
            ])
            .arg(format!("-p{password}"))
            .args(["-D", database, "-e", sql])
            .output()
            .unwrap()
    }

    /// What the official image's entrypoint runs for MARIADB_USER,
    /// MARIADB_PASSWORD_HASH and MARIADB_DATABASE.
    pub fn bootstrap(&self, name: &str, hash: &str) {
        let sql = format!(
            "CREATE DATABASE `{name}`; CREATE USER '{name}'@'%' IDENTIFIED BY PASSWORD '{hash}'; GRANT ALL ON `{name}`.* TO '{name}'@'%';"
        );
        let out = self.root(&sql);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
