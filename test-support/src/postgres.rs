//! A private PostgreSQL server (Debian's postgresql, the newest installed
//! major version) on a loopback port, initialised the way the official
//! image does it: `initdb` with a superuser and its password, SCRAM for TCP
//! logins, trust on the private socket. Its log is `server.log` in its
//! directory.

use crate::net::wait_until;
use crate::process::{Process, SIGQUIT};
use crate::{Error, Result, failed, free_port, is_root, run};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub struct Options<'a> {
    /// The superuser `initdb` creates (`POSTGRES_USER`).
    pub admin_user: &'a str,
    /// Its password, for TCP logins (`POSTGRES_PASSWORD`).
    pub admin_password: &'a str,
    /// Server settings, each passed as `-c name=value`.
    pub settings: &'a [(&'a str, &'a str)],
}

pub struct Server {
    /// The directory of the server's programs (psql, pg_dump, ...).
    pub bin: PathBuf,
    pub port: u16,
    pub admin_user: String,
    pub admin_password: String,
    // Declared before `dir`: the server stops before its files go.
    process: Process,
    dir: tempfile::TempDir,
}

/// The newest `/usr/lib/postgresql/<version>/bin` with a server in it.
pub fn bin() -> Result<PathBuf> {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| failed("PostgreSQL server binaries are missing: run `make deps` (apt-get install postgresql)", e))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().ok_or_else(|| Error("no /usr/lib/postgresql/<version>/bin/postgres: run `make deps`".into()))
}

/// PostgreSQL refuses to run as root; as root, run its programs as
/// `postgres`. setpriv execs in place, so the PID is the program's own.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("setpriv");
        c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn chown_to_server_user(path: &Path) -> Result<()> {
    if is_root() {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(path), "chown to postgres")?;
    }
    Ok(())
}

impl Server {
    pub fn start(options: &Options) -> Result<Server> {
        let bin = bin()?;
        let dir = crate::temp_dir("servicedb-pg-")?;
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, options.admin_password).map_err(|e| failed("the password file for initdb", e))?;
        chown_to_server_user(dir.path())?;
        run(
            as_server_user(&bin.join("initdb"))
                .arg(format!("--username={}", options.admin_user))
                .arg(format!("--pwfile={}", pwfile.display()))
                .args(["--auth-local=trust", "--auth-host=scram-sha-256", "-D"])
                .arg(&data)
                .stdout(Stdio::null()),
            "initdb",
        )?;
        let _ = std::fs::remove_file(&pwfile);
        let port = free_port()?;
        let log_path = dir.path().join("server.log");
        let log = std::fs::File::create(&log_path).map_err(|e| failed("the server log", e))?;
        let log_err = log.try_clone().map_err(|e| failed("the server log", e))?;
        let mut command = as_server_user(&bin.join("postgres"));
        command
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string(), "-c", "listen_addresses=127.0.0.1"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", dir.path().display()));
        for (name, value) in options.settings {
            command.arg("-c").arg(format!("{name}={value}"));
        }
        command.stdin(Stdio::null()).stdout(log).stderr(log_err);
        let mut process = Process::spawn("postgres", &mut command, SIGQUIT)?;
        // The port opens before the server accepts logins; ask until it does.
        let socket_dir = dir.path().to_path_buf();
        let ready = || {
            Command::new(bin.join("pg_isready"))
                .arg("-h")
                .arg(&socket_dir)
                .args(["-p", &port.to_string()])
                .stdout(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        wait_until(&mut process, || std::fs::read_to_string(&log_path).unwrap_or_default(), ready)?;
        Ok(Server {
            bin,
            port,
            admin_user: options.admin_user.to_string(),
            admin_password: options.admin_password.to_string(),
            process,
            dir,
        })
    }

    /// The directory of its data, socket and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// What the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// Runs a shell script as an init script of the official image runs:
    /// the server's programs on the PATH, PGHOST/PGPORT its socket, `env` added.
    pub fn run_script(&self, script: &str, env: &[(&str, &str)]) -> Result<Output> {
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("PGHOST", self.dir.path())
            .env("PGPORT", self.port.to_string())
            .envs(env.iter().copied())
            .output()
            .map_err(|e| failed("sh for the script", e))
    }

    /// Runs SQL over TCP with a password, as a client in another pod would.
    pub fn sql_as(&self, user: &str, password: &str, database: &str, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-tA", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", user, "-d", database, "-c", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap_or_else(|e| panic!("psql: {e}"))
    }

    /// SQL as the superuser over the private socket, in its `postgres`
    /// database; panics if it fails. Its output, trimmed.
    pub fn admin_sql(&self, sql: &str) -> String {
        self.admin_sql_in("postgres", sql)
    }

    /// SQL as the superuser over the private socket, in `database`; panics
    /// if it fails. Its output, trimmed.
    pub fn admin_sql_in(&self, database: &str, sql: &str) -> String {
        let out = run(
            Command::new(self.bin.join("psql"))
                .args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-tA", "-p", &self.port.to_string()])
                .args(["-U", &self.admin_user])
                .arg("-h")
                .arg(self.dir.path())
                .args(["-d", database, "-c", sql]),
            sql,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}
