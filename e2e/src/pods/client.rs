//! Client pods that really connect: labelled as a service, started from the
//! local client image (psql, mariadb, redis-cli, nc), commands run with
//! `kubectl exec` through the API server and the kubelet.

use super::env::PodEnv;
use crate::cluster::{Outcome, kubectl, kubectl_apply, wait_for};
use std::time::Duration;

pub const CLIENT_IMAGE: &str = "localhost/servicedb/client:bookworm";
/// Where a client pod has its credentials Secret as files.
const CREDENTIALS_DIR: &str = "/etc/db";
const CA_FILE: &str = "/etc/db/ca.crt";

/// A pod of some service: `labels` as YAML flow map, the service's
/// credentials as env when `credentials` names a Secret.
pub struct ClientPod<'a> {
    pub namespace: &'a str,
    pub name: &'a str,
    pub labels: &'a str,
    pub service_account: Option<&'a str>,
    pub credentials: Option<&'a str>,
}

impl ClientPod<'_> {
    fn manifest(&self) -> String {
        let account = self.service_account.map(|a| format!("  serviceAccountName: {a}\n")).unwrap_or_default();
        let env = self
            .credentials
            .map(|secret| {
                let vars: String = ["username", "password", "host", "port", "database", "uri"]
                    .iter()
                    .map(|key| {
                        format!(
                            "    - {{name: DB_{}, valueFrom: {{secretKeyRef: {{name: {secret}, key: {key}}}}}}}\n",
                            key.to_uppercase()
                        )
                    })
                    .collect();
                // With TLS, the Secret's ca.crt verifies the server: libpq
                // reads PGSSLROOTCERT, the other clients take DB_CA.
                format!("    env:\n{vars}    - {{name: PGSSLROOTCERT, value: {CA_FILE}}}\n    - {{name: DB_CA, value: {CA_FILE}}}\n    volumeMounts: [{{name: credentials, mountPath: {CREDENTIALS_DIR}, readOnly: true}}]\n")
            })
            .unwrap_or_default();
        let volumes = self
            .credentials
            .map(|secret| format!("  volumes: [{{name: credentials, secret: {{secretName: {secret}}}}}]\n"))
            .unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {labels}\nspec:\n{account}  terminationGracePeriodSeconds: 1\n  automountServiceAccountToken: false\n  securityContext: {{runAsNonRoot: true, runAsUser: 65532, seccompProfile: {{type: RuntimeDefault}}}}\n  containers:\n  - name: client\n    image: {CLIENT_IMAGE}\n    imagePullPolicy: Never\n    command: [sleep, infinity]\n{env}    securityContext: {{allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {{drop: [ALL]}}}}\n    resources: {{requests: {{cpu: 10m, memory: 16Mi}}, limits: {{memory: 128Mi}}}}\n{volumes}",
            name = self.name,
            ns = self.namespace,
            labels = self.labels,
        )
    }

    /// Creates the pod and waits until it runs.
    pub async fn start(&self) -> Outcome {
        kubectl_apply(&self.manifest()).await?;
        kubectl(&[
            "-n",
            self.namespace,
            "wait",
            "--for=condition=Ready",
            &format!("pod/{}", self.name),
            "--timeout=90s",
        ])
        .await
        .map(|_| ())
        .map_err(|e| format!("client pod {}/{} did not start: {e}", self.namespace, self.name))
    }
}

/// Runs a shell command in a pod's first container: Ok(stdout) or Err(stderr).
pub async fn exec(namespace: &str, pod: &str, container: Option<&str>, script: &str) -> Result<String, String> {
    let mut args = vec!["-n", namespace, "exec", pod];
    if let Some(c) = container {
        args.extend(["-c", c]);
    }
    args.extend(["--", "sh", "-c", script]);
    kubectl(&args).await
}

/// Whether a TCP connection from `pod` to `host:port` opens within 3 s.
pub async fn connects(namespace: &str, pod: &str, host: &str, port: u16) -> bool {
    exec(namespace, pod, None, &format!("nc -z -w 3 {host} {port}")).await.is_ok()
}

/// The verdict of real connections, given time for kube-proxy and
/// kube-router to program new objects (~1 s): an allowed connection is
/// retried for up to 20 s; a refused one is tried twice, after a path known
/// to be allowed has opened, so "refused" never means "not programmed yet".
pub async fn verdict(namespace: &str, pod: &str, host: &str, port: u16, expect_open: bool) -> bool {
    if expect_open {
        wait_for("a connection", Duration::from_secs(20), || async {
            connects(namespace, pod, host, port).await.then_some(())
        })
        .await
        .is_ok()
    } else {
        connects(namespace, pod, host, port).await || connects(namespace, pod, host, port).await
    }
}

/// One key of a Secret, as the service reads it.
pub async fn secret_value(env: &PodEnv, namespace: &str, name: &str, key: &str) -> Result<String, String> {
    let secret = kube::Api::<k8s_openapi::api::core::v1::Secret>::namespaced(env.client.clone(), namespace)
        .get(name)
        .await
        .map_err(|e| format!("Secret {namespace}/{name}: {e}"))?;
    secret
        .data
        .and_then(|d| d.get(key).map(|v| String::from_utf8_lossy(&v.0).into_owned()))
        .ok_or_else(|| format!("Secret {namespace}/{name} has no {key}"))
}
