//! A private MariaDB server (Debian's mariadb-server) on a loopback port,
//! root reachable on its private socket. Also what `mysql` instances get:
//! MySQL is not packaged for Debian, MariaDB speaks its protocol.

use crate::net::{accepts, wait_until};
use crate::process::{Process, SIGKILL};
use crate::{Result, failed, free_port, is_root, run};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

#[derive(Default)]
pub struct Options<'a> {
    /// Every statement to `general.log` (see [`Server::log`]), so a test
    /// sees what reached the server.
    pub general_log: bool,
    /// More server options, e.g. `--max-connections=20`.
    pub settings: &'a [&'a str],
}

/// How a login authenticates, as the official image's entrypoint takes it.
#[derive(Clone, Copy, Debug)]
pub enum Identified<'a> {
    /// A `mysql_native_password` hash (`MARIADB_PASSWORD_HASH`).
    Hash(&'a str),
    /// A clear-text password (`MYSQL_PASSWORD`: the mysql image needs one).
    Password(&'a str),
}

impl Identified<'_> {
    fn sql(&self) -> String {
        match self {
            Identified::Hash(hash) => format!("IDENTIFIED BY PASSWORD {}", literal(hash)),
            Identified::Password(password) => format!("IDENTIFIED BY {}", literal(password)),
        }
    }
}

/// A string literal (backslash escapes are on by default).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn identifier(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

pub struct Server {
    pub port: u16,
    /// The general log (with [`Options::general_log`]).
    pub log: PathBuf,
    /// Root's private socket.
    pub socket: PathBuf,
    // Declared before `dir`: the server stops before its files go.
    process: Process,
    dir: tempfile::TempDir,
}

impl Server {
    pub fn start(options: &Options) -> Result<Server> {
        let dir = crate::temp_dir("servicedb-mariadb-")?;
        let data = dir.path().join("data");
        let user = if is_root() { "root".to_string() } else { std::env::var("USER").unwrap_or_default() };
        // A temporary directory of its own: servers bootstrapping in parallel
        // have been seen to trip over each other's temporary tables in /tmp.
        let tmp = dir.path().join("tmp");
        std::fs::create_dir(&tmp).map_err(|e| failed("MariaDB's temporary directory", e))?;
        if is_root() {
            let _ = Command::new("chmod").arg("1777").arg(&tmp).status();
        }
        run(
            Command::new("mariadb-install-db")
                .env("TMPDIR", &tmp)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .arg(format!("--user={user}"))
                .arg("--auth-root-authentication-method=socket")
                .stdout(Stdio::null()),
            "mariadb-install-db (missing? run `make deps`: apt-get install mariadb-server)",
        )?;
        let port = free_port()?;
        let socket = dir.path().join("mysqld.sock");
        let log = dir.path().join("general.log");
        let errors = dir.path().join("error.log");
        let mut command = Command::new("mariadbd");
        command
            .env("TMPDIR", &tmp)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.path().join("mysqld.pid").display()))
            .arg(format!("--log-error={}", errors.display()))
            .args([&format!("--port={port}"), "--bind-address=127.0.0.1", &format!("--user={user}")])
            .args(["--skip-log-bin", "--skip-name-resolve"])
            .args(options.settings.iter().copied());
        if options.general_log {
            command.arg("--general-log").arg(format!("--general-log-file={}", log.display()));
        }
        command.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        // Its data is thrown away with the directory: no clean shutdown needed.
        let mut process = Process::spawn("mariadbd", &mut command, SIGKILL)?;
        wait_until(&mut process, || std::fs::read_to_string(&errors).unwrap_or_default(), || accepts(port))?;
        Ok(Server { port, log, socket, process, dir })
    }

    /// The directory of its data, socket and logs.
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// SQL as root over the private socket; Err with the server's message.
    pub fn try_root(&self, sql: &str) -> Result<String> {
        let out = run(
            Command::new("mariadb")
                .arg("--no-defaults")
                .arg(format!("--socket={}", self.socket.display()))
                .args(["-uroot", "-N", "-e", sql]),
            "mariadb as root",
        )?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// SQL as root over the private socket, for a test to assert on.
    pub fn root(&self, sql: &str) -> Output {
        Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "-N", "-e", sql])
            .output()
            .unwrap_or_else(|e| panic!("mariadb: {e}"))
    }

    /// SQL over TCP as `user`, as a client in another pod would.
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
            .unwrap_or_else(|e| panic!("mariadb: {e}"))
    }

    /// What the official image's entrypoint does for MARIADB_ROOT_PASSWORD(_HASH):
    /// root may also log in over TCP.
    pub fn create_root_login(&self, identified: Identified) -> Result<()> {
        self.try_root(&format!(
            "CREATE USER 'root'@'%' {}; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;",
            identified.sql()
        ))
        .map(drop)
    }

    /// What the official image's entrypoint does for MARIADB_USER,
    /// MARIADB_PASSWORD(_HASH) and MARIADB_DATABASE: the database, and a
    /// login with every privilege on it and nothing else.
    pub fn create_login(&self, database: &str, user: &str, identified: Identified) -> Result<()> {
        let (database, user) = (identifier(database), literal(user));
        self.try_root(&format!(
            "CREATE DATABASE {database}; CREATE USER {user}@'%' {}; GRANT ALL ON {database}.* TO {user}@'%';",
            identified.sql()
        ))
        .map(drop)
    }
}
