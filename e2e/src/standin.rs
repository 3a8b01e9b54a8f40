//! Stand-in database servers. Pods never run on this control plane (kwok
//! only marks them Running), so when the operator's StatefulSet for an
//! instance appears, the harness starts a real local server initialised from
//! the same env and files the container would receive (resolved from the
//! referenced Secrets and ConfigMap), and maps the instance's Service to it
//! in the operator's endpoint-override file. `mysql` instances get a MariaDB
//! server: MySQL is not packaged for Debian.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Server {
    /// `<namespace>/<Service>` in the override file.
    key: String,
    port: u16,
    process: Child,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

pub struct StandIns {
    pub overrides: PathBuf,
    stop: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl StandIns {
    pub fn start(client: Client, dir: PathBuf) -> Result<StandIns, String> {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let overrides = dir.join("endpoints.json");
        std::fs::write(&overrides, "{}").map_err(|e| e.to_string())?;
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(watch(client, dir, overrides.clone(), stop.clone()));
        Ok(StandIns { overrides, stop, task: Some(task) })
    }

    /// Stops the watcher and every server, and removes their files.
    pub async fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
        if let Some(dir) = self.overrides.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Polls the operator's StatefulSets twice a second until stopped: starts a
/// server for each new one, stops the servers of deleted ones.
async fn watch(client: Client, dir: PathBuf, overrides: PathBuf, stop: Arc<AtomicBool>) {
    let sets: Api<StatefulSet> = Api::all(client.clone());
    let mut servers: BTreeMap<String, Server> = BTreeMap::new();
    // Bounded: the suite stops it, and it gives up after 3 hours regardless.
    let deadline = Instant::now() + Duration::from_secs(3 * 3600);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let listed = sets.list(&ListParams::default().labels("app.kubernetes.io/managed-by=servicedb")).await;
        if let Ok(list) = listed {
            let live: BTreeMap<String, StatefulSet> =
                list.items.into_iter().filter_map(|s| Some((s.uid()?, s))).collect();
            servers.retain(|uid, _| live.contains_key(uid));
            for (uid, sts) in live {
                if servers.contains_key(&uid) {
                    continue;
                }
                match start_for(&client, &dir, &sts).await {
                    Ok(server) => {
                        servers.insert(uid, server);
                    }
                    Err(e) => {
                        eprintln!("[e2e] stand-in for {}/{}: {e}", sts.namespace().unwrap_or_default(), sts.name_any())
                    }
                }
            }
            let map: BTreeMap<&str, String> =
                servers.values().map(|s| (s.key.as_str(), format!("127.0.0.1:{}", s.port))).collect();
            let tmp = overrides.with_extension("tmp");
            if std::fs::write(&tmp, serde_json::to_string(&map).unwrap_or_default()).is_ok() {
                let _ = std::fs::rename(&tmp, &overrides);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// The container's env with every Secret and ConfigMap reference resolved.
async fn resolve_env(client: &Client, ns: &str, container: &Container) -> Result<BTreeMap<String, String>, String> {
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut env = BTreeMap::new();
    for var in container.env.iter().flatten() {
        let value = match (&var.value, var.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref())) {
            (Some(v), _) => v.clone(),
            (None, Some(r)) => secret_value(&secrets, &r.name, &r.key).await?,
            (None, None) => continue,
        };
        env.insert(var.name.clone(), value);
    }
    Ok(env)
}

async fn secret_value(secrets: &Api<Secret>, name: &str, key: &str) -> Result<String, String> {
    let secret = secrets.get(name).await.map_err(|e| format!("Secret {name}: {e}"))?;
    let bytes = secret.data.and_then(|d| d.get(key).cloned()).ok_or(format!("Secret {name} has no {key}"))?;
    String::from_utf8(bytes.0).map_err(|e| e.to_string())
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn wait_for_port(port: u16) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("nothing listens on {port} after 60s"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(format!("{what}: {}", String::from_utf8_lossy(&out.stderr))) }
}

async fn start_for(client: &Client, dir: &Path, sts: &StatefulSet) -> Result<Server, String> {
    let ns = sts.namespace().unwrap_or_default();
    let name = sts.name_any();
    let container = sts
        .spec
        .as_ref()
        .and_then(|s| s.template.spec.as_ref())
        .and_then(|p| p.containers.first())
        .cloned()
        .ok_or("no container")?;
    let env = resolve_env(client, &ns, &container).await?;
    // Short: a Unix socket path must stay under 108 bytes.
    let here = dir.join(sts.uid().unwrap_or_default().chars().take(8).collect::<String>());
    let _ = std::fs::remove_dir_all(&here);
    std::fs::create_dir_all(&here).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let key = format!("{ns}/{name}");
    let process = match container.name.as_str() {
        "postgres" => {
            let configs: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
            let init = configs.get(&format!("{name}-init")).await.map_err(|e| e.to_string())?;
            let script = init.data.unwrap_or_default().into_values().next().ok_or("empty init ConfigMap")?;
            let here = here.clone();
            tokio::task::spawn_blocking(move || postgres(&here, port, &env, &script))
                .await
                .map_err(|e| e.to_string())??
        }
        "mariadb" | "mysql" => {
            let here = here.clone();
            tokio::task::spawn_blocking(move || mariadb(&here, port, &env)).await.map_err(|e| e.to_string())??
        }
        "redis" => {
            let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
            let acl = secret_value(&secrets, &format!("{name}-admin"), "users.acl").await?;
            std::fs::write(here.join("users.acl"), acl).map_err(|e| e.to_string())?;
            let child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .arg("--aclfile")
                .arg(here.join("users.acl"))
                .arg("--dir")
                .arg(&here)
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| e.to_string())?;
            wait_for_port(port)?;
            child
        }
        other => return Err(format!("no stand-in for engine {other}")),
    };
    Ok(Server { key, port, process })
}

fn pg_bin() -> Result<PathBuf, String> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|e| format!("no PostgreSQL server: {e}"))?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .collect();
    bins.sort();
    bins.pop().ok_or_else(|| "no PostgreSQL server".to_string())
}

/// As the official image: initdb with POSTGRES_USER/POSTGRES_PASSWORD, then
/// the init scripts, then the server.
fn postgres(dir: &Path, port: u16, env: &BTreeMap<String, String>, script: &str) -> Result<Child, String> {
    let bin = pg_bin()?;
    let as_postgres = |program: &str| {
        // setpriv execs in place, so killing the child kills the server.
        let mut c = if is_root() {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=postgres", "--regid=postgres", "--init-groups"]).arg(bin.join(program));
            c
        } else {
            Command::new(bin.join(program))
        };
        c.stdout(Stdio::null());
        c
    };
    let get = |k: &str| env.get(k).cloned().ok_or(format!("no {k} in the container env"));
    let pwfile = dir.join("pwfile");
    std::fs::write(&pwfile, get("POSTGRES_PASSWORD")?).map_err(|e| e.to_string())?;
    if is_root() {
        run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir), "chown")?;
    }
    let data = dir.join("data");
    run(
        as_postgres("initdb")
            .arg(format!("--username={}", get("POSTGRES_USER")?))
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["--auth-local=trust", "--auth-host=scram-sha-256", "-D"])
            .arg(&data),
        "initdb",
    )?;
    let _ = std::fs::remove_file(&pwfile);
    let child = as_postgres("postgres")
        .arg("-D")
        .arg(&data)
        .args([
            "-p",
            &port.to_string(),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "shared_buffers=8MB",
            "-c",
            "max_connections=20",
        ])
        .args(["-c", &format!("unix_socket_directories={}", dir.display())])
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    // The port opens before the server accepts logins; ask it until it does.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !Command::new(bin.join("pg_isready"))
        .arg("-h")
        .arg(dir)
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        if Instant::now() > deadline {
            return Err("PostgreSQL did not accept connections within 60s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut init = Command::new("sh");
    init.arg("-c").arg(script).env("PATH", format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default()));
    init.env("PGHOST", dir).env("PGPORT", port.to_string()).envs(env);
    run(&mut init, "init script")?;
    Ok(child)
}

/// As the official image: install the system tables, then root and the
/// service's login from the hashes (or passwords, for the mysql image).
fn mariadb(dir: &Path, port: u16, env: &BTreeMap<String, String>) -> Result<Child, String> {
    let user = if is_root() { "root".to_string() } else { std::env::var("USER").unwrap_or_default() };
    let data = dir.join("data");
    let socket = dir.join("mysqld.sock");
    // Its own temporary directory: parallel bootstraps share nothing in /tmp.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    run(
        Command::new("mariadb-install-db")
            .env("TMPDIR", &tmp)
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--user={user}"))
            .arg("--auth-root-authentication-method=socket"),
        "mariadb-install-db",
    )?;
    let child = Command::new("mariadbd")
        .env("TMPDIR", &tmp)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", socket.display()))
        .arg(format!("--pid-file={}", dir.join("mysqld.pid").display()))
        .args([
            &format!("--port={port}"),
            "--bind-address=127.0.0.1",
            &format!("--user={user}"),
            "--skip-log-bin",
            "--skip-name-resolve",
        ])
        .args(["--innodb-buffer-pool-size=8M", "--max-connections=20"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    wait_for_port(port)?;
    let pick = |mariadb: &str, mysql: &str| env.get(mariadb).or_else(|| env.get(mysql)).cloned().unwrap_or_default();
    let quote = |s: &str| s.replace('\\', "\\\\").replace('\'', "\\'");
    let identified = |hash_key: &str, password_key: &str| match env.get(hash_key) {
        Some(hash) => format!("IDENTIFIED BY PASSWORD '{}'", quote(hash)),
        None => format!("IDENTIFIED BY '{}'", quote(env.get(password_key).map(String::as_str).unwrap_or_default())),
    };
    let (database, app) = (pick("MARIADB_DATABASE", "MYSQL_DATABASE"), pick("MARIADB_USER", "MYSQL_USER"));
    let sql = format!(
        "CREATE USER 'root'@'%' {}; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION; CREATE DATABASE `{database}`; CREATE USER '{app}'@'%' {}; GRANT ALL ON `{database}`.* TO '{app}'@'%';",
        identified("MARIADB_ROOT_PASSWORD_HASH", "MYSQL_ROOT_PASSWORD"),
        identified("MARIADB_PASSWORD_HASH", "MYSQL_PASSWORD"),
    );
    run(
        Command::new("mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["-uroot", "-e", &sql]),
        "bootstrap",
    )?;
    Ok(child)
}
