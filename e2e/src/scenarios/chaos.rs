use crate::harness::{Env, Outcome, ensure, kubectl, kubectl_apply, sdb_yaml};
use std::collections::BTreeMap;
use std::time::Duration;

const COUNT: usize = 6;

/// Kinds and how many of each one ServiceDatabase owns.
const CHILDREN: [(&str, usize); 7] = [
    ("statefulsets", 1),
    ("services", 2),
    ("secrets", 2),
    ("networkpolicies", 1),
    ("configmaps", 1),
    ("roles", 1),
    ("rolebindings", 1),
];

pub async fn killed(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-chaos").await?;
    let names: Vec<String> = (0..COUNT).map(|i| format!("svc{i}")).collect();
    let manifests: Vec<String> = names.iter().map(|n| sdb_yaml(&ns, n, "")).collect();
    kubectl_apply(&manifests.join("---\n")).await?;

    // Kill the operator twice while it is creating children.
    let mut seen = BTreeMap::new();
    for pause_ms in [400, 900] {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        env.operator.lock().await.kill().await;
        for n in &names {
            if let Some(p) = env.password(&ns, n).await {
                seen.insert(n.clone(), p);
            }
        }
        env.operator.lock().await.spawn()?;
    }
    crate::harness::step(&format!("  {} of {COUNT} credentials existed at the kills", seen.len()));
    for n in &names {
        env.wait_ready(&ns, n, Duration::from_secs(90)).await?;
    }
    for (n, p) in &seen {
        ensure(env.password(&ns, n).await.as_deref() == Some(p.as_str()), || {
            format!("{n}: password changed across the kill")
        })?;
    }
    // Exactly the expected children per instance, each owned by a live ServiceDatabase.
    let uids: Vec<String> = env
        .sdbs(&ns)
        .list(&Default::default())
        .await
        .map_err(|e| e.to_string())?
        .items
        .into_iter()
        .filter_map(|s| s.metadata.uid)
        .collect();
    for (kind, per_instance) in CHILDREN {
        let listing = kubectl(&[
            "-n",
            &ns,
            "get",
            kind,
            "-l",
            "app.kubernetes.io/managed-by=servicedb",
            "-o",
            "jsonpath={range .items[*]}{.metadata.ownerReferences[0].uid}{\"\\n\"}{end}",
        ])
        .await?;
        let owners: Vec<&str> = listing.lines().filter(|l| !l.is_empty()).collect();
        ensure(owners.len() == COUNT * per_instance, || {
            format!("{kind}: {} objects, expected {}", owners.len(), COUNT * per_instance)
        })?;
        ensure(owners.iter().all(|o| uids.iter().any(|u| u == o)), || format!("{kind}: an orphan"))?;
    }
    Ok(())
}
