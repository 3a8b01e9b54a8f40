//! The operator binary as a local process: started, stopped, killed.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::{Child, Command};

/// How one operator process is run.
#[derive(Clone, Debug)]
pub struct OperatorConfig {
    pub kubeconfig: PathBuf,
    pub log: PathBuf,
    pub instance: String,
    pub http_port: u16,
    pub operator_namespace: String,
    pub namespaces: Vec<String>,
    pub lease_seconds: u64,
    pub resync_seconds: u64,
    /// The stand-in servers' addresses (see standin.rs).
    pub endpoint_overrides: PathBuf,
}

pub struct Operator {
    binary: PathBuf,
    pub config: OperatorConfig,
    child: Option<Child>,
}

impl Operator {
    pub fn new(root: &Path, config: OperatorConfig) -> Result<Operator, String> {
        let binary = root.join("target/debug/servicedb");
        if !binary.exists() {
            return Err(format!("{} is missing: cargo build first", binary.display()));
        }
        Ok(Operator { binary, config, child: None })
    }

    pub fn spawn(&mut self) -> Result<(), String> {
        let c = &self.config;
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&c.log).map_err(|e| e.to_string())?;
        let err = log.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(&self.binary)
            .args(["run", "--resync-seconds", &c.resync_seconds.to_string(), "--log-level", "info,servicedb=debug"])
            .args(["--http-address", &format!("127.0.0.1:{}", c.http_port)])
            .args(["--lease-duration-seconds", &c.lease_seconds.to_string()])
            .args(["--operator-namespace", &c.operator_namespace, "--instance-name", &c.instance])
            .args(["--namespaces", &c.namespaces.join(",")])
            .arg("--endpoint-overrides")
            .arg(&c.endpoint_overrides)
            .env("KUBECONFIG", &c.kubeconfig)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start the operator: {e}"))?;
        self.child = Some(child);
        Ok(())
    }

    /// SIGKILL: no cleanup, no graceful shutdown, the lease is not released.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// `/readyz` of this process: (HTTP status, body).
    pub async fn readyz(&self) -> Option<(u16, String)> {
        let url = format!("http://127.0.0.1:{}/readyz", self.config.http_port);
        let out = crate::cluster::run("curl", &["-s", "-m", "2", "-w", "\n%{http_code}", &url], None).await.ok()?;
        let (body, code) = out.trim_end().rsplit_once('\n')?;
        Some((code.parse().ok()?, body.to_string()))
    }
}
