//! Shared by the engine tests: loopback ports and bounded waits.

#![allow(dead_code)]

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
pub async fn reconnect_loop<F, Fut>(
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
