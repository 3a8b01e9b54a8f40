use super::env::{OPERATOR_USER, PodEnv, RESYNC_SECONDS};
use crate::audit;
use crate::cluster::{Outcome, ensure, kubectl_apply, sdb_yaml, step, wait_for};
use servicedb::api::{BackupPhase, ServiceDatabaseBackup};
use std::time::Duration;

const COUNT: usize = 20;

pub async fn zero_writes(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-idle").await?;
    // Half with scheduled backups: their CronJobs, claims,
    // backup NetworkPolicies and backup status must be as quiet.
    let extra = |i: usize| match i % 2 {
        0 => "",
        _ => "  backup:\n    schedule: \"0 3 * * *\"\n    destination: {volume: {}}\n",
    };
    // Redis: the lightest real pods, twenty of them on two cores.
    let redis = |i: usize| {
        sdb_yaml(&ns, &format!("idle{i}"), extra(i))
            .replace("engine: postgres", "engine: redis")
            .replace("\"15\"", "\"7.2\"")
    };
    let manifests: Vec<String> = (0..COUNT).map(redis).collect();
    kubectl_apply(&manifests.join("---\n")).await?;
    for i in 0..COUNT {
        env.wait_ready(&ns, &format!("idle{i}"), Duration::from_secs(240)).await?;
    }
    // A backup ran for one of them, so its status carries a finished run.
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabaseBackup\nmetadata: {{name: idle1-now, namespace: {ns}}}\nspec: {{serviceDatabase: idle1}}\n"
    ))
    .await?;
    let backups = env.api::<ServiceDatabaseBackup>(&ns);
    wait_for("the backup of idle1 to succeed", Duration::from_secs(180), || async {
        let phase = backups.get_opt("idle1-now").await.ok()??.status?.phase?;
        (phase == BackupPhase::Succeeded).then_some(())
    })
    .await?;
    // Let the last status writes and watch events settle, then observe
    // several resync periods.
    tokio::time::sleep(Duration::from_secs(RESYNC_SECONDS + 2)).await;
    let offset = audit::mark(&env.audit_log);
    let window = Duration::from_secs(3 * RESYNC_SECONDS + 1);
    tokio::time::sleep(window).await;
    let requests = audit::requests_since(&env.audit_log, offset, OPERATOR_USER)?;
    let in_ns: Vec<&audit::Request> = requests.iter().filter(|r| r.namespace == ns).collect();
    let reads = in_ns.iter().filter(|r| r.verb == "get").count();
    // Children come from the watch caches: the only reads are the instances'
    // own Secrets, by name (at most two per object and resync).
    let other_reads: Vec<String> = in_ns
        .iter()
        .filter(|r| {
            let secret_by_name = r.verb == "get" && r.resource == "secrets";
            !(audit::WRITE_VERBS.contains(&r.verb.as_str()) || secret_by_name)
        })
        .map(|r| format!("{} {} {}", r.verb, r.resource, r.name))
        .collect();
    let writes: Vec<String> = requests
        .iter()
        // Only this scenario's namespace: objects other scenarios left may
        // still be converging, and must not make this one order-dependent.
        // (Lease renewals, leader election, are in the operator's namespace.)
        .filter(|r| audit::WRITE_VERBS.contains(&r.verb.as_str()) && r.namespace == ns)
        .map(|r| format!("{} {} {}/{}", r.verb, r.resource, r.namespace, r.name))
        .collect();
    let resyncs = window.as_secs() / RESYNC_SECONDS;
    step(&format!(
        "  {COUNT} idle objects over {window:?}: {reads} Secret reads ({:.1} per object and resync), {} other reads, {} writes by the operator",
        reads as f64 / (COUNT as u64 * resyncs) as f64,
        other_reads.len(),
        writes.len()
    ));
    // The reads prove the resyncs happened, so zero writes is a measurement.
    ensure(reads >= COUNT * 2, || format!("only {reads} reads: the operator did not resync every object"))?;
    ensure(reads as u64 <= 2 * COUNT as u64 * (resyncs + 1), || {
        format!("{reads} Secret reads: more than two per object and resync")
    })?;
    ensure(other_reads.is_empty(), || format!("reads besides the Secrets on an idle resync: {other_reads:?}"))?;
    ensure(writes.is_empty(), || format!("writes on an idle resync: {writes:?}"))
}
