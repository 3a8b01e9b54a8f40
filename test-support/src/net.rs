//! Loopback ports: one free now, and waiting until a server accepts on one.

use crate::process::Process;
use crate::{Error, Result, failed};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

/// How long a server may take to accept its first connection.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A loopback port nothing listens on right now (the server binds it next;
/// another process taking it in between is possible, and then fails loudly).
pub fn free_port() -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| failed("a free loopback port", e))?;
    Ok(listener.local_addr().map_err(|e| failed("a free loopback port", e))?.port())
}

/// Waits until something accepts connections on 127.0.0.1:`port`, for at
/// most `timeout`.
pub fn wait_for_port(port: u16, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() >= deadline {
            return Err(Error(format!("nothing listens on 127.0.0.1:{port} after {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

/// Waits until `ready` holds, for at most [`START_TIMEOUT`]; fails at once
/// if `process` exits meanwhile, with `log` (what it wrote) in the error.
pub(crate) fn wait_until(
    process: &mut Process,
    log: impl Fn() -> String,
    mut ready: impl FnMut() -> bool,
) -> Result<()> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if ready() {
            return Ok(());
        }
        if let Some(status) = process.exited() {
            return Err(Error(format!(
                "{} exited ({status}) before it accepted connections: {}",
                process.name(),
                log()
            )));
        }
        if Instant::now() >= deadline {
            return Err(Error(format!(
                "{} did not accept connections within {START_TIMEOUT:?}: {}",
                process.name(),
                log()
            )));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Whether 127.0.0.1:`port` accepts a connection now.
pub(crate) fn accepts(port: u16) -> bool {
    TcpStream::connect(("127.0.0.1", port)).is_ok()
}
