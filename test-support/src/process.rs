//! A server process that is stopped by its PID when dropped, whatever the
//! test or harness does in between.

use crate::{Error, Result, failed};
/// The stop signals a launcher chooses from.
pub use libc::{SIGKILL, SIGQUIT, SIGTERM};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// How long a stopped server has to exit before it is killed.
const GRACE: Duration = Duration::from_secs(10);

pub struct Process {
    name: String,
    child: Child,
    /// The signal that stops it cleanly (PostgreSQL cleans up its shared
    /// memory on SIGQUIT, not on SIGKILL).
    stop_signal: libc::c_int,
    status: Option<ExitStatus>,
}

impl Process {
    /// Spawns `command`; `name` is how errors refer to it. Dropping the
    /// result sends `stop_signal`, then SIGKILL after 10 s.
    pub fn spawn(name: &str, command: &mut Command, stop_signal: libc::c_int) -> Result<Process> {
        let child = command.spawn().map_err(|e| failed(&format!("cannot start {name}"), e))?;
        Ok(Process { name: name.to_string(), child, stop_signal, status: None })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Waits at most `timeout` for it to exit by itself (e.g. after a
    /// SHUTDOWN command); Err if it is still running then.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.exited() {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                return Err(Error(format!("{} (pid {}) still runs after {timeout:?}", self.name, self.pid())));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops it: its stop signal, then SIGKILL if it has not exited within
    /// the grace period. Does nothing once it has exited.
    pub fn stop(&mut self) {
        if self.exited().is_some() {
            return;
        }
        self.signal(self.stop_signal);
        if self.wait(GRACE).is_err() {
            let _ = self.child.kill();
            self.status = self.child.wait().ok();
        }
    }

    fn signal(&self, signal: libc::c_int) {
        let Ok(pid) = libc::pid_t::try_from(self.child.id()) else { return };
        // SAFETY: kill has no memory effects; the PID is our own child, not
        // yet reaped (exited() is None), so it cannot have been reused.
        unsafe {
            libc::kill(pid, signal);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}
