//! A private PostgreSQL server (Debian's postgresql) on a loopback port,
//! with `log_statement=all` so a test sees what reached its log.

use servicedb::engine::{Engine, Postgres, generate_password};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn pg_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL server binaries are missing: run `make deps` (apt-get install postgresql)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("postgres").exists())
        .collect();
    versions.sort();
    versions.pop().expect("no /usr/lib/postgresql/<version>/bin/postgres: run `make deps`")
}

/// PostgreSQL refuses to run as root; as root, run its tools as `postgres`.
pub fn as_server_user(program: &Path) -> Command {
    let root = Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false);
    if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

pub fn ok(output: std::io::Result<Output>, what: &str) -> Output {
    let output = output.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(output.status.success(), "{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    output
}

pub struct Server {
    pub bin: PathBuf,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub admin_password: String,
}

impl Server {
    pub fn start() -> Server {
        let bin = pg_bin();
        let dir = tempfile::Builder::new().prefix("servicedb-pg-").tempdir().unwrap();
        let root = Command::new("id").arg("-u").output().unwrap().stdout == b"0\n";
        if root {
            ok(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).output(), "chown");
        }
        let data = dir.path().join("data");
        let admin_password = generate_password().unwrap();
        let pwfile = dir.path().join("pwfile");
        std::fs::write(&pwfile, &admin_password).unwrap();
        if root {
            ok(Command::new("chown").args(["postgres:postgres"]).arg(&pwfile).output(), "chown");
        }
        ok(
            as_server_user(&bin.join("initdb"))
                .args(["--username=postgres", "--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", pwfile.display()))
                .arg("-D")
                .arg(&data)
                .output(),
            "initdb",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c log_statement=all",
            dir.path().display()
        );
        ok(
            as_server_user(&bin.join("pg_ctl"))
                .args(["-w", "-t", "60", "-D"])
                .arg(&data)
                .args(["-l"])
                .arg(dir.path().join("server.log"))
                .args(["-o", &options, "start"])
                .output(),
            "pg_ctl start",
        );
        Server { bin, dir, port, admin_password }
    }

    /// Runs the engine's init script the way the official image does.
    pub fn run_init_script(&self, username: &str, database: &str, verifier: &str) -> Output {
        let scripts = Postgres.init_scripts().unwrap();
        let script = scripts.files.values().next().unwrap();
        Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("PATH", format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default()))
            .env("PGHOST", self.dir.path())
            .env("PGPORT", self.port.to_string())
            .env("POSTGRES_USER", "postgres")
            .env("SERVICEDB_APP_USERNAME", username)
            .env("SERVICEDB_APP_DATABASE", database)
            .env("SERVICEDB_APP_PASSWORD_SCRAM", verifier)
            .output()
            .unwrap()
    }

    /// Runs SQL over TCP with a password, as a client in another pod would.
    pub fn sql_as(&self, user: &str, password: &str, database: &str, sql: &str) -> Output {
        Command::new(self.bin.join("psql"))
            .args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-tA", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", user, "-d", database, "-c", sql])
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "10")
            .output()
            .unwrap()
    }

    pub fn admin_sql(&self, sql: &str) -> String {
        self.admin_sql_in("postgres", sql)
    }

    /// SQL as the superuser over the local socket, in `database`.
    pub fn admin_sql_in(&self, database: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-tA", "-p", &self.port.to_string(), "-U", "postgres"])
            .arg("-h")
            .arg(self.dir.path())
            .args(["-d", database, "-c", sql])
            .output();
        String::from_utf8(ok(out, sql).stdout).unwrap().trim().to_string()
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = as_server_user(&self.bin.join("pg_ctl"))
            .args(["-D"])
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
    }
}
