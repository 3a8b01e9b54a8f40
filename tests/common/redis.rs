//! A private redis-server (Debian's redis-server) on a loopback port.

use super::{Guard, free_port, wait_for_port};
use std::process::Command;

pub struct Server {
    pub port: u16,
    pub dir_path: std::path::PathBuf,
    _dir: tempfile::TempDir,
    _process: Guard,
}

pub fn start(acl: &str) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let acl_path = dir.path().join("users.acl");
    std::fs::write(&acl_path, acl).unwrap();
    let port = free_port();
    let process = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .arg("--aclfile")
        .arg(&acl_path)
        .arg("--dir")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("redis-server is missing: run `make deps` (apt-get install redis-server)");
    let process = Guard(process);
    wait_for_port(port);
    Server { port, dir_path: dir.path().to_path_buf(), _dir: dir, _process: process }
}

impl Server {
    /// One command; the reply as redis-cli prints it (errors included).
    pub fn cmd(&self, login: Option<(&str, &str)>, args: &[&str]) -> String {
        let mut c = Command::new("redis-cli");
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--no-auth-warning"]);
        if let Some((user, password)) = login {
            c.args(["--user", user, "--pass", password]);
        }
        let out = c.args(args).output().expect("redis-cli runs");
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
    }
}

/// A server whose ACL file has the operator's admin and the service's login
/// with these passwords; returns it with the ACL file's text.
pub fn start_with_logins(admin_password: &str, app_password: &str) -> (Server, String) {
    let acl = servicedb::engine::redis_acl_file(servicedb::engine::Logins {
        admin_username: "admin",
        admin_password,
        app_username: "orders",
        app_password,
    });
    (start(&acl), acl)
}
