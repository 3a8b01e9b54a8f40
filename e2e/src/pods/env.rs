//! The real-node environment: the operator image and the chart installed
//! with helm into its own namespace, in namespaced mode over the namespaces
//! of these scenarios, pointed at the local images by an image catalogue.

use crate::cluster::{
    Outcome, fresh_namespace, kubectl, kubectl_apply, ready_condition, run, step, wait_for,
    wait_ready as cluster_wait_ready,
};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use servicedb::api::ServiceDatabase;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::Mutex;

/// Where the chart's operator runs during the real-node scenarios.
pub const OPERATOR_NAMESPACE: &str = "servicedb-pods";
pub const RELEASE: &str = "servicedb";
/// The chart's ServiceAccount, as the audit log names it.
pub const OPERATOR_USER: &str = "system:serviceaccount:servicedb-pods:servicedb";
/// How often the operator re-checks idle objects during the suite.
pub const RESYNC_SECONDS: u64 = 5;
/// Where Prometheus runs: the chart's `monitoring.namespace`.
pub const MONITORING_NAMESPACE: &str = "monitoring";
/// The namespaces the operator watches (namespaced mode: a Role in each).
pub const WATCHED: &[&str] = &[
    "pods-postgres",
    "pods-mariadb",
    "pods-redis",
    "pods-rotation",
    "pods-backup",
    "pods-catalogue",
    "pods-crashloop",
    "pods-failover",
    PLUGIN_NAMESPACE,
];
/// The plugin scenarios' namespace.
pub const PLUGIN_NAMESPACE: &str = "pods-plugin";
/// A namespace the chart is not given: served only once the release is
/// upgraded to cluster mode.
pub const UNLISTED: &str = "pods-unlisted";
/// Another team's namespace, which the operator does not serve.
pub const STRANGERS: &str = "pods-strangers";
/// The operator pods' lease duration: the chart's default. At 6 s (renewal
/// every 4 s) a leader starved of CPU on the two-core node renewed late
/// often enough for the lease to move twice in one scenario.
pub const LEASE_SECONDS: u64 = 15;
/// The S3 server the backup Jobs write to: versitygw on the node's bridge
/// address (pods have no route off the machine).
pub const S3_ENDPOINT: &str = "http://10.210.0.1:19000";
pub const S3_BUCKET: &str = "backups";
pub const S3_ACCESS_KEY: &str = "servicedb-e2e";
pub const S3_SECRET_KEY: &str = "servicedb-e2e-secret";

/// Which namespaces the release serves: the listed ones (as installed) or
/// every namespace (what the scenarios with namespaces of their own need).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Namespaced,
    Cluster,
}

pub struct PodEnv {
    pub logs: PathBuf,
    /// charts/servicedb, for upgrades.
    pub chart: PathBuf,
    pub client: Client,
    /// The audit log the API server writes (the cluster enables auditing).
    pub audit_log: PathBuf,
    mode: Mutex<Mode>,
    /// Namespaces made by `namespace`, deleted after each scenario.
    made: Mutex<Vec<String>>,
    /// The S3 server, stopped when the environment is dropped.
    _s3: tokio::process::Child,
}

impl PodEnv {
    /// None when no real node is Ready (SERVICEDB_NODE=none): the scenarios are skipped.
    pub async fn setup(root: PathBuf, logs: PathBuf, client: Client) -> Result<Option<PodEnv>, String> {
        let audit_log = std::env::var("SERVICEDB_E2E_LOGS")
            .map(|dir| PathBuf::from(dir).join("audit.log"))
            .map_err(|_| "SERVICEDB_E2E_LOGS is unset: run through `make e2e` (eval \"$(e2e/cluster.sh env)\")")?;
        let ready = kubectl(&[
            "get",
            "nodes",
            "-l",
            "servicedb.dev/node=real",
            "-o",
            "jsonpath={.items[*].status.conditions[?(@.type==\"Ready\")].status}",
        ])
        .await?;
        if !ready.contains("True") {
            step("no real node: skipping the real-pod scenarios");
            return Ok(None);
        }
        for ns in WATCHED.iter().chain([&OPERATOR_NAMESPACE, &MONITORING_NAMESPACE, &STRANGERS, &UNLISTED]) {
            fresh_namespace(ns, "").await?;
        }
        step(
            "installing charts/servicedb with helm: the operator image in pods, namespaced mode, local image catalogue",
        );
        let values = logs.join("pods-values.yaml");
        std::fs::write(&values, helm_values()).map_err(|e| e.to_string())?;
        run(
            "helm",
            &[
                "upgrade",
                "--install",
                RELEASE,
                &root.join("charts/servicedb").to_string_lossy(),
                "--namespace",
                OPERATOR_NAMESPACE,
                "--skip-crds",
                "--values",
                &root.join("e2e/local-images.yaml").to_string_lossy(),
                "--values",
                &values.to_string_lossy(),
            ],
            None,
        )
        .await?;
        step("starting Prometheus in the monitoring namespace");
        let prometheus =
            std::fs::read_to_string(root.join("e2e/manifests/prometheus.yaml")).map_err(|e| e.to_string())?;
        kubectl_apply(&prometheus).await?;
        let s3 = start_s3(&logs)?;
        let env = PodEnv {
            chart: root.join("charts/servicedb"),
            logs,
            client,
            audit_log,
            mode: Mutex::new(Mode::Namespaced),
            made: Mutex::new(Vec::new()),
            _s3: s3,
        };
        env.wait_leader().await?;
        Ok(Some(env))
    }

    /// The leading operator pod: the Lease's holder, running, and saying
    /// `leader` on /readyz. With `except`, a leader other than that pod.
    pub async fn wait_leader_other_than(&self, except: Option<&str>) -> Result<String, String> {
        wait_for("an operator pod to lead", Duration::from_secs(120), || async {
            let holder = lease_holder().await.ok()?;
            if except == Some(holder.as_str()) {
                return None;
            }
            let pod = operator_pods().await.ok()?.into_iter().find(|p| p.name == holder && p.ready)?;
            probe(&pod.name, "/readyz").await.ok()?.starts_with("leader").then_some(pod.name)
        })
        .await
    }

    pub async fn wait_leader(&self) -> Result<String, String> {
        self.wait_leader_other_than(None).await
    }

    /// Operator logs of every replica, for a failure message.
    /// The last `lines` lines each replica logged since it (re)started; all with `None`.
    pub async fn operator_logs(&self, lines: Option<usize>) -> String {
        let tail = format!("--tail={}", lines.map_or(-1, |n| n as i64));
        kubectl(&["-n", OPERATOR_NAMESPACE, "logs", "-l", "app.kubernetes.io/name=servicedb", &tail, "--prefix"])
            .await
            .unwrap_or_else(|e| e)
    }

    /// Removes what the scenarios made, then the release, so the next phase
    /// (the local operator, watching every namespace) starts clean.
    pub async fn teardown(&self) -> Outcome {
        let made = self.made.lock().await.clone();
        let scenarios = WATCHED.iter().copied().chain([UNLISTED]).chain(made.iter().map(String::as_str));
        for ns in scenarios.clone() {
            let _ = kubectl(&["-n", ns, "delete", "servicedatabases", "--all", "--wait=true", "--timeout=90s"]).await;
        }
        let _ =
            run("helm", &["uninstall", RELEASE, "-n", OPERATOR_NAMESPACE, "--wait", "--timeout", "90s"], None).await;
        for ns in scenarios.chain([OPERATOR_NAMESPACE, MONITORING_NAMESPACE, STRANGERS]) {
            let _ = kubectl(&["delete", "namespace", ns, "--wait=false"]).await;
        }
        Ok(())
    }

    /// Puts the release in `mode` (a `helm upgrade` and its rollout when it
    /// is in the other one), so a scenario does not depend on which ran before.
    pub async fn require(&self, mode: Mode) -> Outcome {
        let mut current = self.mode.lock().await;
        if *current == mode {
            return Ok(());
        }
        let namespaces = match mode {
            Mode::Namespaced => serde_json::to_string(WATCHED).map_err(|e| e.to_string())?,
            Mode::Cluster => "[]".to_string(),
        };
        step(&format!("helm upgrade: the operator in {mode:?} mode"));
        let chart = self.chart.to_string_lossy();
        let value = format!("watchNamespaces={namespaces}");
        let upgrade = [
            "upgrade",
            RELEASE,
            &chart,
            "-n",
            OPERATOR_NAMESPACE,
            "--reuse-values",
            "--skip-crds",
            "--set-json",
            &value,
        ];
        run("helm", &upgrade, None).await?;
        kubectl(&["-n", OPERATOR_NAMESPACE, "rollout", "status", "deployment/servicedb", "--timeout=180s"]).await?;
        *current = mode;
        drop(current);
        self.wait_leader().await.map(drop)
    }

    /// A fresh namespace of the scenario's own (Pod Security `restricted`,
    /// pods on the real node), served by the release in cluster mode.
    pub async fn namespace(&self, name: &str) -> Result<String, String> {
        self.require(Mode::Cluster).await?;
        let ns = fresh_namespace(name, "").await?;
        let mut made = self.made.lock().await;
        if !made.contains(&ns) {
            made.push(ns.clone());
        }
        Ok(ns)
    }

    /// Deletes the namespaces `namespace` made (without waiting), so the
    /// pods of finished scenarios stop holding the node's CPU and memory.
    pub async fn release_namespaces(&self) {
        for ns in self.made.lock().await.drain(..) {
            let _ = kubectl(&["delete", "namespace", &ns, "--wait=false"]).await;
        }
    }

    pub fn sdbs(&self, namespace: &str) -> Api<ServiceDatabase> {
        Api::namespaced(self.client.clone(), namespace)
    }

    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Waits for Ready=True at the current generation; on timeout says what
    /// the instance, its pod and the operator show.
    pub async fn wait_ready(&self, ns: &str, name: &str, timeout: Duration) -> Result<ServiceDatabase, String> {
        match cluster_wait_ready(&self.client, ns, name, timeout).await {
            Ok(sdb) => Ok(sdb),
            Err(e) => {
                let conditions = kubectl(&["-n", ns, "get", "sdb", name, "-o", "jsonpath={.status.conditions}"]).await;
                let pod = kubectl(&["-n", ns, "get", "pod", &format!("{name}-db-0"), "-o", "jsonpath={.status}"]).await;
                Err(format!(
                    "{e}; conditions: {conditions:?}; pod status: {pod:?}; operator: {}",
                    self.operator_logs(Some(40)).await
                ))
            }
        }
    }

    /// The service's password as stored in its credentials Secret.
    pub async fn password(&self, namespace: &str, name: &str) -> Option<String> {
        let secret = self.api::<Secret>(namespace).get_opt(&format!("{name}-db-credentials")).await.ok()??;
        let bytes = secret.data?.get("password")?.0.clone();
        String::from_utf8(bytes).ok()
    }
}

/// Beside e2e/local-images.yaml: two replicas, namespaced mode, a short lease.
fn helm_values() -> String {
    format!(
        "replicas: 2\n\
         watchNamespaces: [{}]\n\
         leaderElection: {{enabled: true, leaseDurationSeconds: {LEASE_SECONDS}}}\n\
         resyncSeconds: {RESYNC_SECONDS}\n\
         log: {{format: text, level: info}}\n\
         monitoring: {{namespace: {MONITORING_NAMESPACE}}}\n\
         # The local API server listens on 16443 (the kubernetes Service maps 443 to it).\n\
         networkPolicy: {{enabled: true, apiServerPorts: [443, 6443, 16443]}}\n",
        WATCHED.join(", ")
    )
}

/// versitygw over a fresh directory with one bucket, on the bridge address.
fn start_s3(logs: &std::path::Path) -> Result<tokio::process::Child, String> {
    let root = logs.join("s3");
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join(S3_BUCKET)).map_err(|e| e.to_string())?;
    let cache = std::env::var("SERVICEDB_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/servicedb-e2e"));
    let log = std::fs::File::create(logs.join("s3.log")).map_err(|e| e.to_string())?;
    let address = S3_ENDPOINT.trim_start_matches("http://");
    step(&format!("starting versitygw (S3) on {address}"));
    let child = tokio::process::Command::new(cache.join("bin/versitygw"))
        .args(["--access", S3_ACCESS_KEY, "--secret", S3_SECRET_KEY, "--port", address, "posix"])
        .arg(&root)
        .stdout(log.try_clone().map_err(|e| e.to_string())?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start versitygw (e2e/tools.sh versitygw): {e}"))?;
    // Killed on drop, but a SIGTERM to this binary drops nothing: `cluster.sh
    // down` stops it by this PID too (a stale one once held the port and
    // served a deleted directory to the next run).
    if let (Ok(pids), Some(pid)) = (std::env::var("SERVICEDB_E2E_PIDS"), child.id()) {
        std::fs::write(PathBuf::from(pids).join("versitygw"), pid.to_string()).map_err(|e| e.to_string())?;
    }
    Ok(child)
}

/// Who holds the leader Lease (empty once released).
pub async fn lease_holder() -> Result<String, String> {
    kubectl(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "lease",
        &format!("{RELEASE}-leader"),
        "-o",
        "jsonpath={.spec.holderIdentity}",
    ])
    .await
}

/// An operator replica as the API server shows it.
#[derive(Debug)]
pub struct OperatorPod {
    pub name: String,
    pub ready: bool,
    pub restarts: u32,
    pub node: String,
}

/// Every operator pod that is not being deleted.
pub async fn operator_pods() -> Result<Vec<OperatorPod>, String> {
    let out = kubectl(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "pods",
        "-l",
        "app.kubernetes.io/name=servicedb",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type==\"Ready\")].status} {.status.containerStatuses[0].restartCount} {.spec.nodeName} {.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ])
    .await?;
    Ok(out
        .lines()
        .filter_map(|l| match l.split_whitespace().collect::<Vec<_>>()[..] {
            [name, ready, restarts, node] => Some(OperatorPod {
                name: name.into(),
                ready: ready == "True",
                restarts: restarts.parse().unwrap_or(0),
                node: node.into(),
            }),
            _ => None,
        })
        .collect())
}

/// GET of a path on an operator pod's HTTP port, through the API server's proxy.
pub async fn probe(pod: &str, path: &str) -> Result<String, String> {
    kubectl(&["get", "--raw", &format!("/api/v1/namespaces/{OPERATOR_NAMESPACE}/pods/{pod}:8080/proxy{path}")]).await
}

/// Waits until the ServiceDatabase's Ready condition has `reason`; returns its message.
pub async fn wait_ready_reason(
    env: &PodEnv,
    ns: &str,
    name: &str,
    reason: &str,
    timeout: Duration,
) -> Result<String, String> {
    let api: kube::Api<servicedb::api::ServiceDatabase> = kube::Api::namespaced(env.client.clone(), ns);
    let found = wait_for(&format!("Ready=False {reason}"), timeout, || async {
        let sdb = api.get_opt(name).await.ok().flatten()?;
        let ready = ready_condition(&sdb)?;
        (ready.status == "False" && ready.reason == reason).then(|| ready.message.clone())
    })
    .await;
    match found {
        Ok(message) => Ok(message),
        Err(e) => {
            let pod = kubectl(&[
                "-n",
                ns,
                "get",
                "pod",
                &format!("{name}-db-0"),
                "-o",
                "jsonpath={.status.containerStatuses}",
            ])
            .await;
            Err(format!("{e}; pod: {pod:?}; operator: {}", env.operator_logs(Some(40)).await))
        }
    }
}
