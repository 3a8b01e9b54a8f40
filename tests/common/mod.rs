//! Shared by the engine tests: loopback ports and bounded waits.

#![allow(dead_code)]

pub mod cli;
pub mod mariadb;
pub mod postgres;
pub mod redis;
pub mod s3;

use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until something accepts connections on the port; panics after 60 s.
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on 127.0.0.1:{port} after 60s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The files under `root` (hidden ones left out), relative to it, sorted.
pub fn files_under(root: &std::path::Path) -> Vec<String> {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if !entry.file_name().to_string_lossy().starts_with('.') {
                out.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

pub fn is_root() -> bool {
    std::process::Command::new("id").arg("-u").output().map(|o| o.stdout == b"0\n").unwrap_or(false)
}

/// Kills the server process when the test ends, whatever happens.
pub struct Guard(pub std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the service's pods read: the credentials Secret's username and password.
pub type Current = std::sync::Arc<std::sync::Mutex<(String, String)>>;

/// A client that, every 50 ms until `stop`, reads the current credentials and
/// opens a new connection with them (bounded: at most 1,000 attempts).
/// Returns (attempts, failures as messages).
async fn reconnect_loop<F, Fut>(
    current: Current,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    connect: F,
) -> (usize, Vec<String>)
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut attempts = 0;
    let mut failures = Vec::new();
    while !stop.load(std::sync::atomic::Ordering::SeqCst) && attempts < 1000 {
        let (user, password) = current.lock().unwrap().clone();
        attempts += 1;
        if let Err(e) = connect(user.clone(), password).await {
            failures.push(format!("{user}: {e}"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (attempts, failures)
}

/// Drives a rotation from login A (`one`) to login B (`two`) the way the
/// operator does, while a client reconnects every 50 ms with whatever the
/// "Secret" says: B gets its password (A still works), the Secret switches,
/// then A is disabled. Returns the client's (attempts, failures).
pub async fn rotate_under_load<F, Fut>(
    engine: servicedb::api::Engine,
    target: &servicedb::engine::admin::Target,
    admin: &servicedb::engine::admin::Login,
    database: &str,
    (one, two): (&str, &str),
    connect: F,
) -> (usize, Vec<String>)
where
    F: Fn(String, String) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    use servicedb::engine::admin::{AppLogin, Login, Wanted};
    use servicedb::engine::for_kind;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let login = |name: &str, password: &str, enabled| AppLogin {
        login: Login { username: name.into(), password: password.into() },
        enabled,
    };
    let wanted = |app| Wanted {
        database: database.into(),
        app,
        monitor: Login { username: "servicedb_monitor".into(), password: "m0nitor".into() },
    };
    let phase = |app| {
        let wanted = wanted(app);
        async move { for_kind(engine).ensure(target, admin, &wanted).await.expect("administered") }
    };
    phase(vec![login("orders", one, true)]).await;
    let current: Current = Arc::new(Mutex::new(("orders".into(), one.to_string())));
    let stop = Arc::new(AtomicBool::new(false));
    let client = tokio::spawn(reconnect_loop(current.clone(), stop.clone(), connect));
    let settle = || tokio::time::sleep(Duration::from_millis(800));
    settle().await;
    phase(vec![login("orders", one, true), login("orders_b", two, true)]).await;
    settle().await;
    *current.lock().unwrap() = ("orders_b".into(), two.to_string());
    settle().await;
    phase(vec![login("orders", one, false), login("orders_b", two, true)]).await;
    settle().await;
    stop.store(true, Ordering::SeqCst);
    client.await.expect("the client loop ran")
}
