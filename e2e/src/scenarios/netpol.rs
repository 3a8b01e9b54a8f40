//! NetworkPolicy semantics judged by an independent analyzer (np-guard's
//! netpol-analyzer) over the live objects: pods of the owning service, of
//! another service, of another namespace, and the operator.

use crate::harness::{Env, OPERATOR_NAMESPACE, Outcome, ensure, kubectl, kubectl_apply, run, sdb_yaml, wait_for};
use std::time::Duration;

fn pod(ns: &str, name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {labels}\nspec:\n  securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}\n  containers:\n  - name: app\n    image: example.com/app:1\n    securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
    )
}

pub async fn only_owner(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-netpol").await?;
    let other_ns = env.namespace("e2e-netpol-other").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(60)).await?;
    kubectl_apply(&pod(&ns, "orders-app", "{app.kubernetes.io/name: orders}")).await?;
    kubectl_apply(&pod(&ns, "billing-app", "{app.kubernetes.io/name: billing}")).await?;
    kubectl_apply(&pod(&other_ns, "stranger", "{app.kubernetes.io/name: orders}")).await?;
    kubectl_apply(&pod("kube-system", "dns", "{k8s-app: kube-dns}")).await?;
    kubectl_apply(
        &pod(OPERATOR_NAMESPACE, "operator", "{app.kubernetes.io/name: servicedb}")
            .replace("runAsUser: 1000", "runAsUser: 65532"),
    )
    .await?;
    for (n, p) in [
        (ns.as_str(), "orders-app"),
        (ns.as_str(), "billing-app"),
        (other_ns.as_str(), "stranger"),
        (OPERATOR_NAMESPACE, "operator"),
        ("kube-system", "dns"),
    ] {
        wait_for(&format!("pod {n}/{p} to get an IP"), Duration::from_secs(30), || async {
            let ip = kubectl(&["-n", n, "get", "pod", p, "-o", "jsonpath={.status.podIP}"]).await.ok()?;
            (!ip.trim().is_empty()).then_some(())
        })
        .await?;
    }

    // The analyzer reads YAML: the live namespaces, pods and policies.
    let dir = env.logs.join("netpol");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let namespaces =
        kubectl(&["get", "namespace", &ns, &other_ns, OPERATOR_NAMESPACE, "kube-system", "-o", "yaml"]).await?;
    std::fs::write(dir.join("namespaces.yaml"), namespaces).map_err(|e| e.to_string())?;
    for n in [ns.as_str(), other_ns.as_str(), OPERATOR_NAMESPACE, "kube-system"] {
        let objects = kubectl(&["-n", n, "get", "pods,networkpolicies", "-o", "yaml"]).await?;
        std::fs::write(dir.join(format!("{n}.yaml")), objects).map_err(|e| e.to_string())?;
    }
    let listing = run("netpolicy", &["list", "--dirpath", &dir.to_string_lossy(), "-q"], None).await?;
    std::fs::write(dir.join("connections.txt"), &listing).map_err(|e| e.to_string())?;

    // Every connection whose destination is the database.
    let db = format!("{ns}/orders-db");
    let into_db: Vec<&str> =
        listing.lines().filter(|l| l.split(" => ").nth(1).is_some_and(|d| d.starts_with(&db))).collect();
    let sources: Vec<String> = into_db.iter().map(|l| l.split(" => ").next().unwrap_or_default().to_string()).collect();
    let allowed = |src: &str| {
        into_db.iter().find(|l| l.starts_with(src)).map(|l| l.rsplit(" : ").next().unwrap_or_default().to_string())
    };
    ensure(allowed(&format!("{ns}/orders-app")).as_deref() == Some("TCP 5432"), || format!("owner: {into_db:?}"))?;
    ensure(allowed(&format!("{OPERATOR_NAMESPACE}/operator")).as_deref() == Some("TCP 5432"), || {
        format!("operator: {into_db:?}")
    })?;
    ensure(sources.len() == 2, || {
        format!("only the owner and the operator may connect, the analyzer found: {into_db:?}")
    })?;
    ensure(!sources.iter().any(|s| s.contains("billing-app") || s.contains("stranger")), || format!("{into_db:?}"))?;
    // And the database reaches nothing but DNS in kube-system.
    let from_db: Vec<&str> = listing.lines().filter(|l| l.starts_with(&db)).collect();
    let dns_only = |l: &&str| {
        let (target, ports) = l.split_once(" => ").and_then(|(_, rest)| rest.split_once(" : ")).unwrap_or_default();
        target.starts_with("kube-system/dns") && ports.split(',').all(|p| p.trim().ends_with(" 53"))
    };
    ensure(!from_db.is_empty() && from_db.iter().all(dns_only), || format!("egress of the database: {from_db:?}"))
}
