//! Stand-in database servers. Pods never run on this control plane (kwok
//! only marks them Running), so when the operator's StatefulSet for an
//! instance appears, the harness starts a real local server initialised from
//! the same env and files the container would receive (resolved from the
//! referenced Secrets and ConfigMap), and maps the instance's Service to it
//! in the operator's endpoint-override file. The servers are the engine
//! tests' (`servicedb-test-support`), each in its own temporary directory. `mysql` instances get a MariaDB
//! server: MySQL is not packaged for Debian.

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Container, Secret};
use kube::api::ListParams;
use kube::{Api, Client, ResourceExt};
use servicedb::builders::secret::read_key;
use servicedb::engine::{CA_KEY, TLS_CERT_KEY, TLS_DIR, TLS_KEY_KEY};
use servicedb_test_support::mariadb::{self, Identified};
use servicedb_test_support::tls::{self, Files};
use servicedb_test_support::{postgres, redis};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Server {
    /// `<namespace>/<Service>` in the override file.
    key: String,
    port: u16,
    _running: Running,
    /// Removed after the server stopped.
    _tls: Option<Files>,
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
        let task = tokio::spawn(watch(client, overrides.clone(), stop.clone()));
        Ok(StandIns { overrides, stop, task: Some(task) })
    }

    /// Stops the watcher and every server (each removes its own directory),
    /// and removes the override file.
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
async fn watch(client: Client, overrides: PathBuf, stop: Arc<AtomicBool>) {
    let sets: Api<StatefulSet> = Api::all(client.clone());
    let mut servers: BTreeMap<String, Server> = BTreeMap::new();
    // Bounded: the suite stops it, and it gives up after 3 hours regardless.
    let deadline = Instant::now() + Duration::from_secs(3 * 3600);
    while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
        let listed = sets.list(&ListParams::default().labels("app.kubernetes.io/managed-by=servicedb")).await;
        if let Ok(list) = listed {
            let live: BTreeMap<String, StatefulSet> =
                list.items.into_iter().filter_map(|s| Some((s.uid()?, s))).collect();
            // Stopping waits for the process: off the async workers.
            let deleted: Vec<String> = servers.keys().filter(|uid| !live.contains_key(*uid)).cloned().collect();
            let gone: Vec<Server> = deleted.iter().filter_map(|uid| servers.remove(uid)).collect();
            if !gone.is_empty() {
                tokio::task::spawn_blocking(move || drop(gone));
            }
            for (uid, sts) in live {
                if servers.contains_key(&uid) {
                    continue;
                }
                match start_for(&client, &sts).await {
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
    let _ = tokio::task::spawn_blocking(move || drop(servers)).await;
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

/// The server that stands in for one instance; stopped when dropped.
enum Running {
    Postgres(postgres::Server),
    Mariadb(mariadb::Server),
    Redis(redis::Server),
}

/// With TLS (the container's args name the TLS directory), the files the
/// kubelet would mount from the admin Secret, for a server running as `user`.
fn tls_files(admin: &Secret, container: &Container, user: Option<&str>) -> Result<Option<Files>, String> {
    if !container.args.iter().flatten().any(|a| a.contains(TLS_DIR)) {
        return Ok(None);
    }
    let key = |key: &str| read_key(admin, key).ok_or(format!("the admin Secret has no {key}"));
    Files::new(&key(TLS_CERT_KEY)?, &key(TLS_KEY_KEY)?, &key(CA_KEY)?, user).map(Some).map_err(String::from)
}

async fn start_for(client: &Client, sts: &StatefulSet) -> Result<Server, String> {
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
    let key = format!("{ns}/{name}");
    let secrets: Api<Secret> = Api::namespaced(client.clone(), &ns);
    // Read once: the TLS files and Redis's ACL file come from it.
    let admin_secret = format!("{name}-admin");
    let admin = secrets.get(&admin_secret).await.map_err(|e| format!("Secret {admin_secret}: {e}"))?;
    let args = container.args.clone().unwrap_or_default();
    let user = (container.name == "postgres").then_some("postgres");
    let tls = tls_files(&admin, &container, user)?;
    let tls_args = tls.as_ref().map(|files| files.relocate(&args, TLS_DIR)).unwrap_or_default();
    // The launchers block (they wait until the server accepts).
    let blocking = |start: Box<dyn FnOnce() -> Result<Running, String> + Send>| async move {
        tokio::task::spawn_blocking(start).await.map_err(|e| e.to_string())?
    };
    let running = match container.name.as_str() {
        "postgres" => {
            let configs: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
            let init = configs.get(&format!("{name}-init")).await.map_err(|e| e.to_string())?.data.unwrap_or_default();
            let script =
                init.iter().find(|(k, _)| k.ends_with(".sh")).map(|(_, v)| v.clone()).ok_or("no init script")?;
            let mut settings = tls::postgres_settings(&tls_args);
            if let Some(files) = &tls {
                let hba = init.get("pg_hba.conf").ok_or("TLS without pg_hba.conf in the init ConfigMap")?;
                let hba_file = files.add("pg_hba.conf", hba)?.display().to_string();
                settings.iter_mut().filter(|(k, _)| k == "hba_file").for_each(|(_, v)| *v = hba_file.clone());
            }
            let start = move || postgres_like_the_image(&env, &script, &settings).map(Running::Postgres);
            blocking(Box::new(start)).await?
        }
        "mariadb" | "mysql" => {
            let start = move || mariadb_like_the_image(&env, &tls_args).map(Running::Mariadb);
            blocking(Box::new(start)).await?
        }
        "redis" => {
            let acl = read_key(&admin, "users.acl").ok_or("the admin Secret has no users.acl")?;
            let tls_dir = tls.as_ref().map(|files| files.path().to_path_buf());
            let start = move || {
                let options = redis::Options { acl: &acl, dir: None, append_only: false, tls: tls_dir.as_deref() };
                redis::Server::start(&options).map(Running::Redis).map_err(String::from)
            };
            blocking(Box::new(start)).await?
        }
        other => return Err(format!("no stand-in for engine {other}")),
    };
    let port = match &running {
        Running::Postgres(s) => s.port,
        Running::Mariadb(s) => s.port,
        Running::Redis(s) => s.port,
    };
    Ok(Server { key, port, _running: running, _tls: tls })
}

/// As the official image: initdb with POSTGRES_USER/POSTGRES_PASSWORD, the
/// server, then the init script with the container's env.
fn postgres_like_the_image(
    env: &BTreeMap<String, String>,
    script: &str,
    tls: &[(String, String)],
) -> Result<postgres::Server, String> {
    let get = |k: &str| env.get(k).map(String::as_str).ok_or(format!("no {k} in the container env"));
    // Small: many stand-ins run at once on a small machine.
    let small = [("shared_buffers", "8MB"), ("max_connections", "20")];
    let settings: Vec<(&str, &str)> =
        small.into_iter().chain(tls.iter().map(|(k, v)| (k.as_str(), v.as_str()))).collect();
    let options = postgres::Options {
        admin_user: get("POSTGRES_USER")?,
        admin_password: get("POSTGRES_PASSWORD")?,
        settings: &settings,
    };
    let server = postgres::Server::start(&options)?;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = server.run_script(script, &env)?;
    if !out.status.success() {
        return Err(format!("init script: {}", String::from_utf8_lossy(&out.stderr)));
    }
    Ok(server)
}

/// As the official image: root and the service's login from the hashes (or
/// the passwords, for the mysql image) and the service's database.
fn mariadb_like_the_image(env: &BTreeMap<String, String>, tls: &[String]) -> Result<mariadb::Server, String> {
    let small = ["--innodb-buffer-pool-size=8M", "--max-connections=20"];
    let settings: Vec<&str> = small.into_iter().chain(tls.iter().map(String::as_str)).collect();
    let server = mariadb::Server::start(&mariadb::Options { general_log: false, settings: &settings })?;
    let pick = |mariadb: &str, mysql: &str| env.get(mariadb).or_else(|| env.get(mysql)).cloned().unwrap_or_default();
    let identified = |hash_key: &str, password_key: &str| match env.get(hash_key) {
        Some(hash) => Identified::Hash(hash),
        None => Identified::Password(env.get(password_key).map(String::as_str).unwrap_or_default()),
    };
    server.create_root_login(identified("MARIADB_ROOT_PASSWORD_HASH", "MYSQL_ROOT_PASSWORD"))?;
    let (database, app) = (pick("MARIADB_DATABASE", "MYSQL_DATABASE"), pick("MARIADB_USER", "MYSQL_USER"));
    server.create_login(&database, &app, identified("MARIADB_PASSWORD_HASH", "MYSQL_PASSWORD"))?;
    Ok(server)
}

/// The stand-ins started from the env a container gets, against real
/// servers (`make engines` runs them: `cargo test -p servicedb-e2e -- --ignored`).
#[cfg(test)]
mod tests {
    use super::*;
    use servicedb::engine::postgres::scram_sha256_verifier;
    use servicedb::engine::{Engine, Postgres, mysql_native_password_hash};

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    #[ignore = "needs PostgreSQL (make deps); make engines runs it"]
    fn postgres_gets_the_service_login_from_the_init_script() {
        let scripts = Postgres.init_scripts(false).unwrap();
        let script = scripts.files.values().next().unwrap();
        let verifier = scram_sha256_verifier("app-pw");
        let env = env(&[
            ("POSTGRES_USER", "admin"),
            ("POSTGRES_PASSWORD", "admin-pw"),
            ("SERVICEDB_APP_USERNAME", "orders"),
            ("SERVICEDB_APP_DATABASE", "orders"),
            ("SERVICEDB_APP_PASSWORD_SCRAM", &verifier),
        ]);
        let server = postgres_like_the_image(&env, script, &[]).unwrap();
        let out = server.sql_as("orders", "app-pw", "orders", "SELECT current_user");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "orders", "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(server.admin_sql("SHOW shared_buffers"), "8MB");
        let admin = server.sql_as("admin", "admin-pw", "postgres", "SELECT 1");
        assert!(admin.status.success(), "{}", String::from_utf8_lossy(&admin.stderr));
    }

    #[test]
    fn postgres_without_its_env_says_what_is_missing() {
        let message = postgres_like_the_image(&env(&[("POSTGRES_USER", "admin")]), "true", &[]).err().unwrap();
        assert_eq!(message, "no POSTGRES_PASSWORD in the container env");
    }

    #[test]
    #[ignore = "needs MariaDB (make deps); make engines runs it"]
    fn mariadb_from_hashes_and_mysql_from_passwords() {
        let hashes = env(&[
            ("MARIADB_ROOT_PASSWORD_HASH", &mysql_native_password_hash("root-pw")),
            ("MARIADB_USER", "orders"),
            ("MARIADB_PASSWORD_HASH", &mysql_native_password_hash("app-pw")),
            ("MARIADB_DATABASE", "orders"),
        ]);
        let passwords = env(&[
            ("MYSQL_ROOT_PASSWORD", "root-pw"),
            ("MYSQL_USER", "orders"),
            ("MYSQL_PASSWORD", "app-pw"),
            ("MYSQL_DATABASE", "orders"),
        ]);
        for env in [hashes, passwords] {
            let server = mariadb_like_the_image(&env, &[]).unwrap();
            let app = server.as_user("orders", "app-pw", "orders", "SELECT DATABASE()");
            assert_eq!(
                String::from_utf8_lossy(&app.stdout).trim(),
                "orders",
                "{}",
                String::from_utf8_lossy(&app.stderr)
            );
            let root = server.as_user("root", "root-pw", "mysql", "SELECT 1");
            assert!(root.status.success(), "{}", String::from_utf8_lossy(&root.stderr));
        }
    }
}
