//! The stand-in phase's environment: the local control plane (already up),
//! the CRDs applied with kubectl, the chart installed with helm, stand-in
//! database servers, and the operator run as a local process under the
//! chart's ServiceAccount. Helpers both phases use live in `cluster`.

use crate::cluster::{
    Outcome, apply_crds, fresh_namespace, run, step, wait_for, wait_ready, write_operator_kubeconfig,
};
use crate::operator::{Operator, OperatorConfig};
use crate::standin::StandIns;
use kube::{Api, Client};
use servicedb::api::ServiceDatabase;
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::Mutex;

pub const OPERATOR_NAMESPACE: &str = "servicedb-system";
pub const OPERATOR_ACCOUNT: &str = "servicedb";
/// How often the operator re-checks idle objects during the suite.
pub const RESYNC_SECONDS: u64 = 5;
/// The leader lease duration during the suite: the longest a failover takes.
pub const LEASE_SECONDS: u64 = 6;

/// Namespace annotations (PodNodeSelector, PodTolerationRestriction) that
/// put every pod of the namespace on the tainted kwok nodes.
pub const KWOK_PLACEMENT: &str = "    scheduler.alpha.kubernetes.io/node-selector: type=kwok\n    scheduler.alpha.kubernetes.io/defaultTolerations: '[{\"key\": \"kwok.x-k8s.io/node\", \"operator\": \"Exists\", \"effect\": \"NoSchedule\"}]'\n";

pub struct Env {
    pub logs: PathBuf,
    pub client: Client,
    pub operator: Mutex<Operator>,
    pub standins: Mutex<StandIns>,
}

impl Env {
    pub async fn setup() -> Result<Env, String> {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
        let logs = root.join("target/e2e-logs");
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        let client = Client::try_default().await.map_err(|e| format!("admin kubeconfig: {e}"))?;
        apply_crds(&root).await?;

        step("installing charts/servicedb with helm");
        let chart = root.join("charts/servicedb");
        run(
            "helm",
            &[
                "upgrade",
                "--install",
                "servicedb",
                &chart.to_string_lossy(),
                "--namespace",
                OPERATOR_NAMESPACE,
                "--create-namespace",
                "--skip-crds",
                "--wait=false",
                "--set",
                "replicas=0",
                "--set",
                &format!("leaderElection.leaseDurationSeconds={LEASE_SECONDS}"),
            ],
            None,
        )
        .await?;

        step("starting stand-in database servers for the operator's StatefulSets");
        // The override file; each server has a temporary directory of its own.
        let standins =
            StandIns::start(client.clone(), std::env::temp_dir().join(format!("sdb-e2e-{}", std::process::id())))?;

        step("running the operator under the chart's ServiceAccount");
        let kubeconfig = logs.join("operator.kubeconfig");
        write_operator_kubeconfig(&kubeconfig, OPERATOR_NAMESPACE, OPERATOR_ACCOUNT).await?;
        let config = OperatorConfig {
            kubeconfig,
            log: logs.join("operator.log"),
            instance: "operator-a".into(),
            http_port: 18080,
            operator_namespace: OPERATOR_NAMESPACE.into(),
            namespaces: Vec::new(),
            lease_seconds: LEASE_SECONDS,
            resync_seconds: RESYNC_SECONDS,
            endpoint_overrides: standins.overrides.clone(),
        };
        let mut operator = Operator::new(&root, config)?;
        operator.spawn()?;
        wait_for("the operator to lead and be ready", Duration::from_secs(60), || async {
            operator.readyz().await.filter(|(code, body)| *code == 200 && body.starts_with("leader"))
        })
        .await?;
        Ok(Env { logs, client, operator: Mutex::new(operator), standins: Mutex::new(standins) })
    }

    /// Restarts the operator if a scenario left it stopped (killed and not
    /// restarted on a failure path), and waits until it leads: the next
    /// scenario starts as if it were the first. Err if it was not running.
    pub async fn restore_operator(&self) -> Outcome {
        let mut operator = self.operator.lock().await;
        if operator.is_running() {
            return Ok(());
        }
        operator.kill().await;
        operator.spawn()?;
        wait_for("the restarted operator to lead and be ready", Duration::from_secs(60), || async {
            operator.readyz().await.filter(|(code, body)| *code == 200 && body.starts_with("leader"))
        })
        .await?;
        Err("the operator process had exited; restarted it for the next scenario".into())
    }

    /// Uninstalls the chart's release, so that a later run's real-node
    /// phase can install its own (both own the cluster-scoped RBAC names).
    pub async fn teardown(&self) {
        let _ = run("helm", &["uninstall", "servicedb", "-n", OPERATOR_NAMESPACE, "--wait", "--timeout", "90s"], None)
            .await;
    }

    /// A fresh namespace for one test, enforcing Pod Security `restricted`,
    /// whose pods kwok plays (the images of this phase are not on the node).
    pub async fn namespace(&self, name: &str) -> Result<String, String> {
        fresh_namespace(name, KWOK_PLACEMENT).await
    }

    pub fn api<K>(&self, namespace: &str) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), namespace)
    }

    /// Waits until the ServiceDatabase is Ready=True for its current generation.
    pub async fn wait_ready(&self, namespace: &str, name: &str, timeout: Duration) -> Result<ServiceDatabase, String> {
        wait_ready(&self.client, namespace, name, timeout).await
    }
}
