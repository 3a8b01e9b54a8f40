use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, run, sdb_yaml, step, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Secret;
use std::collections::BTreeMap;
use std::time::Duration;

/// Real PostgreSQL pods, one per instance: enough to be mid-way when the
/// kill comes, few enough for two cores.
const COUNT: usize = 10;
const INSTANCE: &str = "  monitoring: {enabled: false}\n";

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

/// Every servicedb Secret's `password`, by Secret name.
async fn passwords(env: &PodEnv, ns: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let selector = kube::api::ListParams::default().labels("app.kubernetes.io/managed-by=servicedb");
    let secrets = env.api::<Secret>(ns).list(&selector).await.map_err(|e| e.to_string())?;
    Ok(secrets.items.into_iter().filter_map(|s| Some((s.metadata.name?, s.data?.get("password")?.0.clone()))).collect())
}

/// The leading replica's process is SIGKILLed (no graceful shutdown, the
/// lease not released) while it creates instances, and again while the
/// next leader converges: every instance Ready, no password changed, no
/// duplicate or orphaned child.
pub async fn killed(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-chaos").await?;
    // Found before the creations start, so the kill follows the first Secret at once.
    let leader = env.wait_leader().await?;
    let pid = super::operator::leader_process(&leader).await?;
    let names: Vec<String> = (0..COUNT).map(|i| format!("svc{i}")).collect();
    let manifests: Vec<String> = names.iter().map(|n| sdb_yaml(&ns, n, INSTANCE)).collect();
    kubectl_apply(&manifests.join("---\n")).await?;

    // Kill the operator the moment the first Secret appears: it is then
    // half-way through creating children.
    wait_for("the first credentials Secret", Duration::from_secs(30), || async {
        let out = kubectl(&["-n", &ns, "get", "secrets", "-l", "app.kubernetes.io/managed-by=servicedb", "-o", "name"])
            .await
            .ok()?;
        (!out.trim().is_empty()).then_some(())
    })
    .await?;
    run("kill", &["-KILL", &pid], None).await?;
    let statefulsets =
        env.api::<StatefulSet>(&ns).list(&Default::default()).await.map_err(|e| e.to_string())?.items.len();
    ensure(statefulsets < COUNT, || "the kill came after every instance was complete: not mid-reconcile".into())?;
    let seen = passwords(env, &ns).await?;
    ensure(!seen.is_empty(), || "no Secret to compare".into())?;
    step(&format!(
        "  killed with {} of {} Secrets and {statefulsets} of {COUNT} StatefulSets created",
        seen.len(),
        2 * COUNT
    ));
    // Whichever replica leads next is killed too, 700 ms into its work.
    let next = env.wait_leader().await?;
    let pid = super::operator::leader_process(&next).await?;
    tokio::time::sleep(Duration::from_millis(700)).await;
    run("kill", &["-KILL", &pid], None).await?;

    for n in &names {
        env.wait_ready(&ns, n, Duration::from_secs(240)).await?;
    }
    let after = passwords(env, &ns).await?;
    for (secret, password) in &seen {
        ensure(after.get(secret) == Some(password), || format!("{secret}: password changed across the kill"))?;
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
