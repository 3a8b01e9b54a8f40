//! NetworkPolicy semantics judged by an independent analyzer (np-guard's
//! netpol-analyzer) over the live objects: pods of the owning service, of
//! another service, of another namespace, and the operator.

use crate::analyzer::analyze;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, wait_for};
use crate::harness::{Env, OPERATOR_NAMESPACE};
use std::time::Duration;

fn pod(ns: &str, name: &str, labels: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  namespace: {ns}\n  labels: {labels}\nspec:\n  nodeSelector: {{type: kwok}}\n  tolerations: [{{key: kwok.x-k8s.io/node, operator: Exists, effect: NoSchedule}}]\n  securityContext: {{runAsNonRoot: true, runAsUser: 1000, seccompProfile: {{type: RuntimeDefault}}}}\n  containers:\n  - name: app\n    image: example.com/app:1\n    securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
    )
}

async fn wait_for_ips(pods: &[(&str, &str)]) -> Outcome {
    for (n, p) in pods {
        wait_for(&format!("pod {n}/{p} to get an IP"), Duration::from_secs(30), || async {
            let ip = kubectl(&["-n", n, "get", "pod", p, "-o", "jsonpath={.status.podIP}"]).await.ok()?;
            (!ip.trim().is_empty()).then_some(())
        })
        .await?;
    }
    Ok(())
}

pub async fn only_owner(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-netpol").await?;
    let other_ns = env.namespace("e2e-netpol-other").await?;
    // Where Prometheus runs (the operator's --monitoring-namespace default).
    let monitoring = env.namespace("monitoring").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(60)).await?;
    kubectl_apply(&pod(&ns, "orders-app", "{app.kubernetes.io/name: orders}")).await?;
    kubectl_apply(&pod(&ns, "billing-app", "{app.kubernetes.io/name: billing}")).await?;
    kubectl_apply(&pod(&other_ns, "stranger", "{app.kubernetes.io/name: orders}")).await?;
    kubectl_apply(&pod("kube-system", "dns", "{k8s-app: kube-dns}")).await?;
    kubectl_apply(&pod(&monitoring, "prometheus", "{app.kubernetes.io/name: prometheus}")).await?;
    kubectl_apply(
        &pod(OPERATOR_NAMESPACE, "operator", "{app.kubernetes.io/name: servicedb}")
            .replace("runAsUser: 1000", "runAsUser: 65532"),
    )
    .await?;
    wait_for_ips(&[
        (ns.as_str(), "orders-app"),
        (ns.as_str(), "billing-app"),
        (other_ns.as_str(), "stranger"),
        (OPERATOR_NAMESPACE, "operator"),
        ("kube-system", "dns"),
        (monitoring.as_str(), "prometheus"),
    ])
    .await?;

    let listing =
        analyze(&env.logs, "netpol", &[&ns, &other_ns, OPERATOR_NAMESPACE, "kube-system", &monitoring]).await?;

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
    // Prometheus reaches the exporter's port and nothing else.
    ensure(allowed(&format!("{monitoring}/prometheus")).as_deref() == Some("TCP 9187"), || {
        format!("prometheus: {into_db:?}")
    })?;
    ensure(sources.len() == 3, || {
        format!("only the owner, the operator and prometheus may connect, the analyzer found: {into_db:?}")
    })?;
    ensure(!sources.iter().any(|s| s.contains("billing-app") || s.contains("stranger")), || format!("{into_db:?}"))?;
    // And the database reaches nothing but DNS in kube-system.
    let from_db: Vec<&str> = listing.lines().filter(|l| l.starts_with(&db)).collect();
    let dns_only = |l: &&str| {
        let (target, ports) = l.split_once(" => ").and_then(|(_, rest)| rest.split_once(" : ")).unwrap_or_default();
        target.starts_with("kube-system/") && ports.split(',').all(|p| p.trim().ends_with(" 53"))
    };
    ensure(!from_db.is_empty() && from_db.iter().all(dns_only), || format!("egress of the database: {from_db:?}"))
}

/// With backups to S3: the backup pods reach the database and the store,
/// nothing reaches them, and the service's neighbours still cannot get in.
pub async fn backup_pods(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-netpol-backup").await?;
    kubectl_apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s3-creds, namespace: {ns}}}\nstringData: {{AWS_ACCESS_KEY_ID: k, AWS_SECRET_ACCESS_KEY: s}}\n"
    ))
    .await?;
    let backup = "  backup:\n    schedule: \"0 3 * * *\"\n    destination:\n      s3: {bucket: bkt, endpoint: 'http://10.99.0.5:9000', tls: false, credentialsSecret: s3-creds}\n";
    kubectl_apply(&sdb_yaml(&ns, "orders", backup)).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(60)).await?;
    let backup_labels = "{app.kubernetes.io/name: servicedb-backup, app.kubernetes.io/instance: orders, app.kubernetes.io/component: backup, app.kubernetes.io/managed-by: servicedb}";
    kubectl_apply(&pod(&ns, "orders-backup", backup_labels).replace("runAsUser: 1000", "runAsUser: 65532")).await?;
    kubectl_apply(&pod(&ns, "billing-app", "{app.kubernetes.io/name: billing}")).await?;
    kubectl_apply(&pod("kube-system", "dns", "{k8s-app: kube-dns}")).await?;
    wait_for_ips(&[(ns.as_str(), "orders-backup"), (ns.as_str(), "billing-app"), ("kube-system", "dns")]).await?;
    let listing = analyze(&env.logs, "netpol-backup", &[&ns, "kube-system"]).await?;

    let backup_pod = format!("{ns}/orders-backup");
    let from_backup: Vec<&str> = listing.lines().filter(|l| l.starts_with(&backup_pod)).collect();
    let to = |target: &str, ports: &str| {
        from_backup.iter().any(|l| l.split(" => ").nth(1).is_some_and(|d| d.starts_with(target) && d.ends_with(ports)))
    };
    ensure(to(&format!("{ns}/orders-db"), "TCP 5432"), || format!("backup pod to the database: {from_backup:?}"))?;
    ensure(to("10.99.0.5", "TCP 9000"), || format!("backup pod to the S3 endpoint: {from_backup:?}"))?;
    ensure(!to(&format!("{ns}/billing-app"), ""), || format!("backup pod to another service: {from_backup:?}"))?;
    let into_backup: Vec<&str> =
        listing.lines().filter(|l| l.split(" => ").nth(1).is_some_and(|d| d.starts_with(&backup_pod))).collect();
    ensure(into_backup.is_empty(), || format!("nothing may connect to a backup pod: {into_backup:?}"))?;
    let into_db: Vec<&str> = listing
        .lines()
        .filter(|l| l.split(" => ").nth(1).is_some_and(|d| d.starts_with(&format!("{ns}/orders-db"))))
        .collect();
    ensure(!into_db.iter().any(|l| l.starts_with(&format!("{ns}/billing-app"))), || format!("{into_db:?}"))
}
