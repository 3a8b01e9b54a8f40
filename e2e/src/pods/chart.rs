//! The chart as users meet it: lint, rendering accepted by the real API
//! server in both RBAC modes, and an install and upgrade of a release of
//! its own (no replica: the suite's operator is another release).

use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, fresh_namespace, kubectl, run};

const RELEASE: &str = "chart-check";
const OPERATOR_NAMESPACE: &str = "e2e-chart";

pub async fn lint_template_upgrade(env: &PodEnv) -> Outcome {
    fresh_namespace(OPERATOR_NAMESPACE, "").await?;
    let result = checks(env).await;
    let _ = run("helm", &["uninstall", RELEASE, "-n", OPERATOR_NAMESPACE, "--wait"], None).await;
    let _ = kubectl(&["delete", "namespace", OPERATOR_NAMESPACE, "--wait=false"]).await;
    result
}

async fn checks(env: &PodEnv) -> Outcome {
    let chart = env.chart.to_string_lossy();
    for mode in [&[][..], &["--set", "watchNamespaces={team-a,team-b}"][..]] {
        let mut lint = vec!["lint", "--strict", &*chart];
        lint.extend_from_slice(mode);
        run("helm", &lint, None).await?;
        let mut template = vec!["template", "dry", &*chart, "--namespace", OPERATOR_NAMESPACE];
        template.extend_from_slice(mode);
        let manifests = run("helm", &template, None).await?;
        // Namespaced mode renders into namespaces that must exist for a server dry run.
        for ns in ["team-a", "team-b"] {
            let _ = kubectl(&["create", "namespace", ns]).await;
        }
        let applied = run("kubectl", &["apply", "--dry-run=server", "-f", "-"], Some(&manifests)).await?;
        ensure(applied.contains("deployment.apps/dry created (server dry run)"), || applied.clone())?;
        if !mode.is_empty() {
            ensure(!manifests.contains("kind: ClusterRoleBinding\nmetadata:\n  name: dry\n"), || {
                "namespaced mode binds a ClusterRole".into()
            })?;
            ensure(applied.contains("role.rbac.authorization.k8s.io/dry created"), || applied.clone())?;
            // Namespaces are read for the opt-in annotation: only the watched ones.
            ensure(
                manifests
                    .contains("resources: [namespaces]\n    verbs: [get]\n    resourceNames: [\"team-a\",\"team-b\"]"),
                || "namespaced mode may get namespaces it does not watch".into(),
            )?;
        }
    }
    // Bad values are refused with a message naming the field.
    let bad = run("helm", &["template", "bad", &chart, "--set", "log.format=xml"], None).await;
    ensure(bad.as_ref().is_err_and(|e| e.contains("/log/format")), || format!("{bad:?}"))?;

    // An install, then an upgrade of that release.
    run("helm", &["install", RELEASE, &chart, "-n", OPERATOR_NAMESPACE, "--skip-crds", "--set", "replicas=0"], None)
        .await?;
    run(
        "helm",
        &[
            "upgrade",
            RELEASE,
            &chart,
            "-n",
            OPERATOR_NAMESPACE,
            "--reuse-values",
            "--set",
            "resyncSeconds=60",
            "--skip-crds",
        ],
        None,
    )
    .await?;
    let history = run("helm", &["history", RELEASE, "-n", OPERATOR_NAMESPACE, "-o", "json"], None).await?;
    ensure(history.matches("\"revision\"").count() >= 2, || history.clone())?;
    let env_value = kubectl(&[
        "-n",
        OPERATOR_NAMESPACE,
        "get",
        "deployment",
        RELEASE,
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[?(@.name==\"SERVICEDB_RESYNC_SECONDS\")].value}",
    ])
    .await?;
    ensure(env_value == "60", || format!("upgrade did not apply: {env_value}"))?;

    // Cluster-wide mode caches its children everywhere, but may not list or
    // watch a single Secret (trivy KSV-0041): it reads its own by name.
    let account = format!("system:serviceaccount:{OPERATOR_NAMESPACE}:{RELEASE}");
    let can = |verb: &'static str, resource: &'static str| {
        let account = account.clone();
        async move { kubectl(&["auth", "can-i", verb, resource, "--all-namespaces", "--as", &account]).await.is_ok() }
    };
    ensure(can("watch", "statefulsets").await, || "the release is not cluster-wide".into())?;
    for verb in ["list", "watch"] {
        ensure(!can(verb, "secrets").await, || format!("the operator may {verb} every Secret of the cluster"))?;
    }
    // Namespaces: `get` by name for the opt-in annotation, never a list.
    ensure(can("get", "namespaces").await, || "the operator cannot read a namespace's opt-in".into())?;
    ensure(!can("list", "namespaces").await, || "the operator may list every namespace".into())?;
    Ok(())
}
