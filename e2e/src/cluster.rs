//! What both phases of the suite share, lowest in the module graph (it
//! imports no other module of the crate): running commands and kubectl,
//! bounded waits, namespaces, ServiceDatabase manifests and readiness, the
//! CRDs, and a kubeconfig for the chart's ServiceAccount.

use kube::{Api, Client};
use servicedb::api::ServiceDatabase;
use std::future::Future;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

pub type Outcome = Result<(), String>;

/// Runs a command, feeding `stdin`; Ok(stdout) on success, Err(stderr) otherwise.
pub async fn run(program: &str, args: &[&str], stdin: Option<&str>) -> Result<String, String> {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot run {program}: {e}"))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes()).await.map_err(|e| e.to_string())?;
    }
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .map_err(|_| format!("{program} {args:?} did not finish in 120s"))?
        .map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout)))
    }
}

pub async fn kubectl(args: &[&str]) -> Result<String, String> {
    run("kubectl", args, None).await
}

pub async fn kubectl_apply(yaml: &str) -> Result<String, String> {
    run("kubectl", &["apply", "-f", "-"], Some(yaml)).await
}

/// The reasons of the Events about the object `name` in `namespace`.
pub async fn event_reasons(namespace: &str, name: &str) -> Result<Vec<String>, String> {
    let selector = format!("involvedObject.name={name}");
    let out = kubectl(&[
        "-n",
        namespace,
        "get",
        "events",
        "--field-selector",
        &selector,
        "-o",
        "jsonpath={.items[*].reason}",
    ])
    .await?;
    Ok(out.split_whitespace().map(String::from).collect())
}

/// Polls `check` every 250 ms until it yields a value or `timeout` passes.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> Result<T, String>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return Ok(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

pub fn ensure(condition: bool, message: impl FnOnce() -> String) -> Outcome {
    if condition { Ok(()) } else { Err(message()) }
}

/// A ServiceDatabase manifest with a few common knobs: PostgreSQL 15, the
/// version the real node has an image for, asking for little CPU and memory
/// so that a few dozen instances fit on a two-core node.
pub fn sdb_yaml(namespace: &str, name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata:\n  name: {name}\n  namespace: {namespace}\nspec:\n  engine: postgres\n  version: \"15\"\n  service:\n    name: {name}\n    serviceAccountName: {name}\n  storage:\n    size: 1Gi\n  resources:\n    requests: {{cpu: 10m, memory: 64Mi}}\n{extra_spec}"
    )
}

/// A namespace made anew, enforcing Pod Security `restricted`, with
/// `annotations` (YAML lines indented by four), once its default
/// ServiceAccount exists.
pub async fn fresh_namespace(name: &str, annotations: &str) -> Result<String, String> {
    let _ = kubectl(&["delete", "namespace", name, "--ignore-not-found", "--wait=true", "--timeout=90s"]).await;
    kubectl_apply(&format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n  labels:\n    pod-security.kubernetes.io/enforce: restricted\n    pod-security.kubernetes.io/enforce-version: latest\n  annotations:\n{annotations}"
    ))
    .await?;
    wait_for("the default ServiceAccount", Duration::from_secs(30), || async {
        kubectl(&["-n", name, "get", "serviceaccount", "default"]).await.ok()
    })
    .await?;
    Ok(name.to_string())
}

/// Waits until the ServiceDatabase is Ready=True for its current generation.
pub async fn wait_ready(
    client: &Client,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<ServiceDatabase, String> {
    let api: Api<ServiceDatabase> = Api::namespaced(client.clone(), namespace);
    wait_for(&format!("{namespace}/{name} to be Ready"), timeout, || async {
        let sdb = api.get_opt(name).await.ok().flatten()?;
        let ready = ready_condition(&sdb)?;
        (ready.status == "True" && ready.observed_generation == sdb.metadata.generation).then_some(sdb.clone())
    })
    .await
}

/// The Ready condition of a ServiceDatabase, when it has one.
pub fn ready_condition(sdb: &ServiceDatabase) -> Option<&k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition> {
    sdb.status.as_ref()?.conditions.iter().find(|c| c.type_ == "Ready")
}

/// crds/ applied with kubectl, as users install them.
pub async fn apply_crds(root: &std::path::Path) -> Outcome {
    step("applying crds/ with kubectl (a warning fails)");
    let crds = root.join("crds");
    kubectl(&["apply", "--warnings-as-errors", "--server-side", "--force-conflicts", "-f", &crds.to_string_lossy()])
        .await?;
    kubectl(&[
        "wait",
        "--for=condition=Established",
        "crd/servicedatabases.servicedb.dev",
        "crd/servicedatabasebackups.servicedb.dev",
        "--timeout=60s",
    ])
    .await
    .map(|_| ())
}

pub fn step(message: &str) {
    eprintln!("[e2e] {message}");
}

/// A kubeconfig that authenticates as the chart's ServiceAccount, so the
/// operator runs with exactly the RBAC the chart grants.
pub async fn write_operator_kubeconfig(path: &std::path::Path, namespace: &str, account: &str) -> Result<(), String> {
    let token = kubectl(&["-n", namespace, "create", "token", account, "--duration=6h"]).await?;
    let server = kubectl(&["config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}"]).await?;
    let ca = kubectl(&[
        "config",
        "view",
        "--minify",
        "--raw",
        "-o",
        "jsonpath={.clusters[0].cluster.certificate-authority-data}",
    ])
    .await?;
    let config = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\nusers:\n- name: servicedb\n  user:\n    token: {}\ncontexts:\n- name: servicedb\n  context: {{cluster: e2e, user: servicedb}}\ncurrent-context: servicedb\n",
        token.trim()
    );
    std::fs::write(path, config).map_err(|e| e.to_string())
}
