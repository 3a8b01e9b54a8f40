//! The stand-in database: ONE real redis-server on loopback for every
//! instance. kwok only marks pods Ready, so nothing would answer the
//! operator's administration; this server does, for all of them. The
//! operator logs in as `admin` with each instance's own password: every
//! instance's admin Secret carries an ACL file with that password's SHA-256
//! (`user admin on #<hex> ...`), and Redis lets one user have many
//! passwords, so a watch on those Secrets adds each hash to `admin`. The
//! operator's `--endpoint-overrides` file maps every instance's Service to
//! this server. The bench itself logs in as its own user (`default` is
//! turned off by the operator's administration).

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

pub struct StandIn {
    pub port: u16,
    process: Child,
    task: tokio::task::JoinHandle<()>,
    /// The bench's own login.
    conn: redis::aio::MultiplexedConnection,
}

/// The `#<sha256 hex>` of the admin login in an instance's ACL file.
pub fn admin_hash(acl: &str) -> Option<&str> {
    acl.lines()
        .find_map(|line| line.strip_prefix("user admin "))
        .and_then(|rules| rules.split_whitespace().find(|w| w.starts_with('#') && w.len() == 65))
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(listener.local_addr().map_err(|e| e.to_string())?.port())
}

fn random_password() -> Result<String, String> {
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).map_err(|e| e.to_string())?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `namespace/<name>-db` -> this server, for every instance of the run.
pub fn write_overrides(file: &Path, namespace: &str, names: &[String], port: u16) -> Result<(), String> {
    let map: BTreeMap<String, String> =
        names.iter().map(|n| (format!("{namespace}/{n}-db"), format!("127.0.0.1:{port}"))).collect();
    let text = serde_json::to_string(&map).map_err(|e| e.to_string())?;
    std::fs::write(file, text).map_err(|e| format!("{}: {e}", file.display()))
}

impl StandIn {
    /// Starts redis-server in `dir` and, given a client, the watch that lets
    /// every admin Secret of `namespace` in.
    pub async fn start(client: Option<Client>, dir: &Path, namespace: &str) -> Result<StandIn, String> {
        let port = free_port()?;
        let password = random_password()?;
        let acl = dir.join("bench-users.acl");
        std::fs::write(&acl, format!("user default off\nuser bench on >{password} ~* &* +@all\n"))
            .map_err(|e| e.to_string())?;
        let process = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--maxclients", "20000", "--protected-mode", "yes"])
            .arg("--aclfile")
            .arg(&acl)
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start redis-server (apt-get install redis-server): {e}"))?;
        let url = format!("redis://bench:{password}@127.0.0.1:{port}/");
        let redis = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut conn = None;
        for _ in 0..100 {
            if let Ok(c) = redis.get_multiplexed_async_connection().await {
                conn = Some(c);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let conn = conn.ok_or("the stand-in redis-server did not accept a login within 10s")?;
        let task = match client {
            Some(client) => tokio::spawn(admit_admins(Api::namespaced(client, namespace), conn.clone())),
            None => tokio::spawn(async {}),
        };
        Ok(StandIn { port, process, task, conn })
    }

    /// Stops the watch, then the server (its own SHUTDOWN, then a kill).
    pub async fn stop(mut self) {
        self.task.abort();
        let _ = redis::cmd("SHUTDOWN").arg("NOSAVE").query_async::<()>(&mut self.conn).await;
        let _ = self.process.kill().await;
    }
}

/// The admin Secret's key that holds the instance's ACL file.
fn acl_key() -> &'static str {
    use servicedb::engine::Engine;
    servicedb::engine::Redis.derived_admin_key_names().first().copied().unwrap_or("users.acl")
}

/// One more password (as its `#<sha256>`) for the `admin` user: Redis
/// keeps every password a user was given, and the rules are the same each time.
async fn admit(conn: &mut redis::aio::MultiplexedConnection, hash: &str) -> Result<(), String> {
    redis::cmd("ACL")
        .arg("SETUSER")
        .arg("admin")
        .arg("on")
        .arg(hash)
        .arg("~*")
        .arg("&*")
        .arg("+@all")
        .query_async::<()>(conn)
        .await
        .map_err(|e| format!("ACL SETUSER admin: {e}"))
}

/// Adds the admin password hash of every instance's admin Secret to the
/// server's `admin` user, as the Secrets appear.
async fn admit_admins(secrets: Api<Secret>, mut conn: redis::aio::MultiplexedConnection) {
    let config = watcher::Config::default().labels("app.kubernetes.io/managed-by=servicedb");
    let mut seen: HashSet<String> = HashSet::new();
    let mut stream = watcher(secrets, config).default_backoff().applied_objects().boxed();
    while let Some(event) = stream.next().await {
        let Ok(secret) = event else { continue };
        if !secret.name_any().ends_with("-db-admin") {
            continue;
        }
        let acl = secret.data.as_ref().and_then(|d| d.get(acl_key())).and_then(|b| String::from_utf8(b.0.clone()).ok());
        let Some(hash) = acl.as_deref().and_then(admin_hash).map(str::to_string) else { continue };
        if seen.contains(&hash) {
            continue;
        }
        let added = admit(&mut conn, &hash).await;
        match added {
            Ok(()) => {
                seen.insert(hash);
            }
            Err(e) => eprintln!("[bench] stand-in: admin login of {}: {e}", secret.name_any()),
        }
    }
}

/// Where the stand-in keeps its files.
pub fn dir(work: &Path) -> Result<PathBuf, String> {
    let dir = work.join("redis");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_hash_is_read_from_the_instance_acl_file() {
        let acl = servicedb::engine::redis_acl_file(servicedb::engine::Logins {
            admin_username: "admin",
            admin_password: "secret-a",
            app_username: "orders",
            app_password: "secret-b",
        });
        let hash = admin_hash(&acl).unwrap();
        assert!(hash.starts_with('#') && hash.len() == 65);
        assert!(acl.contains(&format!("user admin on {hash} ")));
        assert_eq!(admin_hash("user default off\n"), None);
    }

    fn acl_of(admin_password: &str, app: &str) -> String {
        servicedb::engine::redis_acl_file(servicedb::engine::Logins {
            admin_username: "admin",
            admin_password,
            app_username: app,
            app_password: "unused-here",
        })
    }

    async fn whoami(port: u16, password: &str) -> Result<String, String> {
        let url = format!("redis://admin:{password}@127.0.0.1:{port}/");
        let client = redis::Client::open(url).map_err(|e| e.to_string())?;
        let mut conn = client.get_multiplexed_async_connection().await.map_err(|e| e.to_string())?;
        redis::cmd("ACL").arg("WHOAMI").query_async::<String>(&mut conn).await.map_err(|e| e.to_string())
    }

    /// The claim the README makes: one real server lets the operator in
    /// with every instance's own admin password, and no other.
    #[tokio::test]
    #[ignore = "needs redis-server: make engines runs it"]
    async fn one_server_accepts_every_admitted_instance_admin_login_and_no_other() {
        let dir = tempfile_dir();
        let standin = StandIn::start(None, &dir, "unused").await.unwrap();
        assert!(whoami(standin.port, "password-of-orders").await.is_err(), "nobody is let in before admission");
        for (password, app) in [("password-of-orders", "orders"), ("password-of-billing", "billing")] {
            let acl = acl_of(password, app);
            admit(&mut standin.conn.clone(), admin_hash(&acl).unwrap()).await.unwrap();
        }
        assert_eq!(whoami(standin.port, "password-of-orders").await.unwrap(), "admin");
        assert_eq!(whoami(standin.port, "password-of-billing").await.unwrap(), "admin");
        assert!(whoami(standin.port, "password-of-someone-else").await.is_err());
        standin.stop().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempfile_dir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sdb-bench-standin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
