//! The operator binary as a local process: started, stopped, killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

pub struct Operator {
    binary: PathBuf,
    kubeconfig: PathBuf,
    log: PathBuf,
    resync_seconds: u64,
    child: Option<Child>,
}

impl Operator {
    pub async fn start(root: &Path, kubeconfig: &Path, log: &Path, resync_seconds: u64) -> Result<Operator, String> {
        let binary = root.join("target/debug/servicedb");
        if !binary.exists() {
            return Err(format!("{} is missing: cargo build first", binary.display()));
        }
        let mut operator = Operator {
            binary,
            kubeconfig: kubeconfig.to_path_buf(),
            log: log.to_path_buf(),
            resync_seconds,
            child: None,
        };
        operator.spawn()?;
        Ok(operator)
    }

    pub fn spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .args(["run", "--resync-seconds", &self.resync_seconds.to_string(), "--log-level", "info,servicedb=debug"])
            .env("KUBECONFIG", &self.kubeconfig)
            .env("SERVICEDB_OPERATOR_NAMESPACE", crate::harness::OPERATOR_NAMESPACE)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the operator: {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no cleanup, no graceful shutdown.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }
}
