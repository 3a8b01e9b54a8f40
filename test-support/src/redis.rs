//! A private redis-server (Debian's redis-server) on a loopback port, with
//! an ACL file, as the operator runs Redis.

use crate::net::{accepts, wait_until};
use crate::process::{Process, SIGKILL};
use crate::{Result, failed, free_port};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

pub struct Options<'a> {
    /// The ACL file's text.
    pub acl: &'a str,
    /// Where its data lives; a private directory when None.
    pub dir: Option<&'a Path>,
    /// AOF on, as the operator runs it (off: nothing is written to disk).
    pub append_only: bool,
    /// TLS only, with `tls.crt`, `tls.key` and `ca.crt` of this directory
    /// (as the operator's args name them); no plain port.
    pub tls: Option<&'a Path>,
}

pub struct Server {
    pub port: u16,
    /// Its data directory.
    pub dir: PathBuf,
    // Declared before `scratch`: the server stops before its files go.
    process: Process,
    /// The ACL file, and the data unless `Options::dir` was given.
    scratch: tempfile::TempDir,
}

impl Server {
    pub fn start(options: &Options) -> Result<Server> {
        let scratch = crate::temp_dir("servicedb-redis-")?;
        let acl = scratch.path().join("users.acl");
        std::fs::write(&acl, options.acl).map_err(|e| failed("the ACL file", e))?;
        let dir = options.dir.map(Path::to_path_buf).unwrap_or_else(|| scratch.path().to_path_buf());
        let port = free_port()?;
        let mut command = Command::new("redis-server");
        match options.tls {
            None => command.args(["--port", &port.to_string()]),
            Some(files) => command
                .args(["--port", "0", "--tls-port", &port.to_string(), "--tls-auth-clients", "no"])
                .arg("--tls-cert-file")
                .arg(files.join("tls.crt"))
                .arg("--tls-key-file")
                .arg(files.join("tls.key"))
                .arg("--tls-ca-cert-file")
                .arg(files.join("ca.crt")),
        };
        command.args(["--bind", "127.0.0.1"]);
        if options.append_only {
            command.args(["--appendonly", "yes"]);
        } else {
            command.args(["--save", "", "--appendonly", "no"]);
        }
        command.arg("--aclfile").arg(&acl).arg("--dir").arg(&dir);
        command.stdin(Stdio::null()).stdout(Stdio::null());
        let mut process = Process::spawn("redis-server (missing? run `make deps`)", &mut command, SIGKILL)?;
        wait_until(&mut process, String::new, || accepts(port))?;
        Ok(Server { port, dir, process, scratch })
    }

    /// The ACL file it was started with.
    pub fn acl_file(&self) -> PathBuf {
        self.scratch.path().join("users.acl")
    }

    /// Waits at most `timeout` for it to exit, e.g. after SHUTDOWN.
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
        self.process.wait(timeout)
    }

    /// One command; the reply as redis-cli prints it (errors included).
    pub fn cmd(&self, login: Option<(&str, &str)>, args: &[&str]) -> String {
        let mut c = Command::new("redis-cli");
        c.args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--no-auth-warning"]);
        if let Some((user, password)) = login {
            c.args(["--user", user, "--pass", password]);
        }
        let out = c.args(args).output().unwrap_or_else(|e| panic!("redis-cli: {e}"));
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)).trim().to_string()
    }
}
