//! The operator under test as a local process, as the e2e harness runs it
//! (e2e/src/operator.rs): the release binary, the chart's ServiceAccount
//! kubeconfig, the stand-in's endpoint overrides; plus its metrics and
//! memory as the bench reads them.

use crate::metrics::{self, Scrape};
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::{Child, Command};

pub struct Settings {
    pub binary: PathBuf,
    pub kubeconfig: PathBuf,
    pub log: PathBuf,
    pub http_port: u16,
    pub resync_seconds: u64,
    pub concurrent_reconciles: usize,
    pub endpoint_overrides: PathBuf,
}

pub struct Operator {
    settings: Settings,
    child: Option<Child>,
}

/// Resident and peak resident memory of a process, in KiB.
#[derive(Clone, Copy, Debug, Default)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// VmRSS and VmHWM from a /proc/<pid>/status text.
pub fn memory_from_status(status: &str) -> Memory {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    Memory { rss_kib: field("VmRSS:"), hwm_kib: field("VmHWM:") }
}

/// utime + stime in seconds from a /proc/<pid>/stat line (the fields after
/// the command name, which may hold spaces, in clock ticks of 1/100 s).
pub fn cpu_from_stat(stat: &str) -> f64 {
    let Some((_, rest)) = stat.rsplit_once(')') else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let tick = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

impl Operator {
    pub fn new(settings: Settings) -> Result<Operator, String> {
        if !settings.binary.exists() {
            return Err(format!("{} is missing: cargo build --release --bin servicedb", settings.binary.display()));
        }
        Ok(Operator { settings, child: None })
    }

    pub fn spawn(&mut self) -> Result<(), String> {
        let s = &self.settings;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&s.log)
            .map_err(|e| format!("{}: {e}", s.log.display()))?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&s.binary)
            .args(["run", "--resync-seconds", &s.resync_seconds.to_string(), "--log-level", "info"])
            .args(["--http-address", &format!("127.0.0.1:{}", s.http_port)])
            .args(["--concurrent-reconciles", &s.concurrent_reconciles.to_string()])
            .args(["--operator-namespace", "servicedb-system", "--instance-name", "bench"])
            .arg("--endpoint-overrides")
            .arg(&s.endpoint_overrides)
            .env("KUBECONFIG", &s.kubeconfig)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the operator: {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// How the process ended, if it did (it cannot listen, cannot log in...).
    pub fn exited(&mut self) -> Option<String> {
        let status = self.child.as_mut()?.try_wait().ok()??;
        Some(format!("the operator exited ({status}); see {}", self.settings.log.display()))
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(Child::id)
    }

    /// SIGTERM (the graceful stop a rolling update does), SIGKILL after 30 s.
    pub async fn stop(&mut self) -> Result<(), String> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        let Some(pid) = child.id() else { return Ok(()) };
        let _ = Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        match tokio::time::timeout(Duration::from_secs(30), child.wait()).await {
            Ok(_) => Ok(()),
            Err(_) => {
                let _ = child.kill().await;
                Err("the operator did not stop within 30s of SIGTERM; killed".into())
            }
        }
    }

    /// CPU time the process used so far (user + system), from /proc/<pid>/stat.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = self.pid().and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/stat")).ok());
        stat.map_or(0.0, |s| cpu_from_stat(&s))
    }

    pub fn memory(&self) -> Memory {
        self.pid()
            .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .map(|s| memory_from_status(&s))
            .unwrap_or_default()
    }

    async fn get(&self, path: &str) -> Result<String, String> {
        let addr = ("127.0.0.1", self.settings.http_port);
        let fetch = async {
            let mut stream = tokio::net::TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
            stream
                .write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes())
                .await
                .map_err(|e| e.to_string())?;
            let mut bytes = Vec::new();
            stream.read_to_end(&mut bytes).await.map_err(|e| e.to_string())?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let (head, body) = text.split_once("\r\n\r\n").ok_or("no HTTP response")?;
            if head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200") {
                Ok(body.to_string())
            } else {
                Err(head.lines().next().unwrap_or_default().to_string())
            }
        };
        tokio::time::timeout(Duration::from_secs(10), fetch).await.map_err(|_| format!("{path}: no answer in 10s"))?
    }

    pub async fn scrape(&self) -> Result<Scrape, String> {
        Ok(metrics::parse(&self.get("/metrics").await?))
    }

    pub async fn ready(&self) -> bool {
        self.get("/readyz").await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rss_and_peak_come_from_proc_status() {
        let m = memory_from_status("Name:\tservicedb\nVmHWM:\t   41234 kB\nVmRSS:\t   39000 kB\n");
        assert_eq!((m.rss_kib, m.hwm_kib), (39000, 41234));
        let own = std::fs::read_to_string("/proc/self/status").unwrap();
        assert!(memory_from_status(&own).rss_kib > 0);
    }

    #[test]
    fn cpu_time_is_utime_plus_stime_even_with_spaces_in_the_name() {
        let stat = "4242 (service db) S 1 2 3 0 -1 4194304 100 0 0 0 250 75 0 0 20 0 9 0 46 3133440 407";
        assert_eq!(cpu_from_stat(stat), 3.25);
    }
}
