//! Backups to a volume on the real node: the CronJob and its claim and
//! NetworkPolicy, on-demand ServiceDatabaseBackups whose Jobs really run,
//! BackupHealthy following the runs (a failed one included), and a
//! `Snapshot` deletion whose final backup finishes before the data goes.

use super::env::PodEnv;
use crate::audit;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, step, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use servicedb::api::{BackupPhase, ServiceDatabaseBackup};
use std::time::Duration;

const BACKUP: &str =
    "  backup:\n    schedule: \"0 3 * * *\"\n    retention: {keepLast: 3}\n    destination: {volume: {size: 2Gi}}\n";

/// Waits until BackupHealthy has `status` and `reason`.
async fn backup_health(env: &PodEnv, ns: &str, status: &str, reason: &str) -> Outcome {
    let api = env.sdbs(ns);
    wait_for(&format!("BackupHealthy={status} ({reason})"), Duration::from_secs(30), || async {
        let sdb = api.get_opt("orders").await.ok().flatten()?;
        let c = sdb.status?.conditions.into_iter().find(|c| c.type_ == "BackupHealthy")?;
        (c.status == status && c.reason == reason).then_some(())
    })
    .await
}

async fn on_demand(env: &PodEnv, ns: &str, name: &str) -> Result<ServiceDatabaseBackup, String> {
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabaseBackup\nmetadata: {{name: {name}, namespace: {ns}}}\nspec: {{serviceDatabase: orders}}\n"
    ))
    .await?;
    let api = env.api::<ServiceDatabaseBackup>(ns);
    wait_for(&format!("{name} to succeed"), Duration::from_secs(180), || async {
        let b = api.get_opt(name).await.ok().flatten()?;
        (b.status.as_ref()?.phase == Some(BackupPhase::Succeeded)).then_some(b)
    })
    .await
}

pub async fn scheduled_and_on_demand(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-backups").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", BACKUP)).await?;
    let sdb = env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let uid = sdb.uid().unwrap_or_default();

    let cron = env.api::<CronJob>(&ns).get("orders-db-backup").await.map_err(|e| format!("CronJob: {e}"))?;
    let spec = cron.spec.clone().ok_or("CronJob without spec")?;
    ensure(spec.schedule == "0 3 * * *" && spec.concurrency_policy.as_deref() == Some("Forbid"), || {
        format!("CronJob spec: {spec:?}")
    })?;
    ensure(cron.owner_references().iter().any(|o| o.uid == uid), || "CronJob not owned".into())?;
    let claim = env.api::<PersistentVolumeClaim>(&ns).get("orders-db-backups").await.map_err(|e| e.to_string())?;
    ensure(claim.owner_references().is_empty(), || "the backup claim must outlive the ServiceDatabase".into())?;
    env.api::<NetworkPolicy>(&ns).get("orders-db-backup").await.map_err(|e| format!("backup NetworkPolicy: {e}"))?;
    backup_health(env, &ns, "Unknown", "AwaitingFirstBackup").await?;

    step("an on-demand backup runs as a real Job to the backup claim");
    let first = on_demand(env, &ns, "manual-1").await?;
    let job_name = first.status.and_then(|s| s.job).ok_or("no job in status")?;
    let job = env.api::<Job>(&ns).get(&job_name).await.map_err(|e| e.to_string())?;
    ensure(job.owner_references().iter().any(|o| o.kind == "ServiceDatabaseBackup"), || "Job not owned".into())?;
    backup_health(env, &ns, "True", "BackupsCurrent").await?;

    step("a failed run turns BackupHealthy False and keeps the last good backup");
    // A run that cannot be scheduled and runs out of time: what a failed backup looks like to the operator.
    kubectl_apply(&format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: orders-db-backup-failing\n  namespace: {ns}\n  labels: {{app.kubernetes.io/name: servicedb-backup, app.kubernetes.io/instance: orders, app.kubernetes.io/component: backup, app.kubernetes.io/managed-by: servicedb}}\nspec:\n  activeDeadlineSeconds: 2\n  backoffLimit: 0\n  template:\n    metadata:\n      labels: {{app.kubernetes.io/component: backup}}\n    spec:\n      restartPolicy: Never\n      nodeSelector: {{no-such-node: \"true\"}}\n      securityContext: {{runAsNonRoot: true, runAsUser: 65532, seccompProfile: {{type: RuntimeDefault}}}}\n      containers:\n      - name: backup\n        image: servicedb-tools\n        securityContext: {{allowPrivilegeEscalation: false, capabilities: {{drop: [ALL]}}}}\n"
    ))
    .await?;
    backup_health(env, &ns, "False", "BackupFailed").await?;
    let status = env.sdbs(&ns).get("orders").await.map_err(|e| e.to_string())?.status.unwrap_or_default();
    ensure(status.last_backup.as_ref().is_some_and(|r| r.job == "orders-db-backup-failing"), || {
        format!("lastBackup: {:?}", status.last_backup)
    })?;
    ensure(status.last_successful_backup.as_ref().is_some_and(|r| r.job == job_name), || {
        format!("lastSuccessfulBackup: {:?}", status.last_successful_backup)
    })?;

    step("the next good backup makes it healthy again");
    on_demand(env, &ns, "manual-2").await?;
    backup_health(env, &ns, "True", "BackupsCurrent").await
}

pub async fn snapshot_deletion(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-snapshot").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", &format!("{BACKUP}  deletionPolicy: Snapshot\n"))).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let offset = audit::mark(&env.audit_log);
    kubectl(&["-n", &ns, "delete", "sdb", "orders", "--wait=true", "--timeout=180s"]).await?;

    let job = env.api::<Job>(&ns).get("orders-db-final-backup").await.map_err(|e| format!("final backup Job: {e}"))?;
    let complete = job.status.and_then(|s| s.conditions).unwrap_or_default();
    ensure(complete.iter().any(|c| c.type_ == "Complete" && c.status == "True"), || format!("{complete:?}"))?;
    let sets = env.api::<StatefulSet>(&ns);
    wait_for("the StatefulSet to be garbage-collected", Duration::from_secs(60), || async {
        sets.get_opt("orders-db").await.ok()?.is_none().then_some(())
    })
    .await?;

    // In the API server's order of events: the Job was created and finished
    // before the StatefulSet (and with it the data) was deleted. The API
    // server writes a request's audit event once its response is complete,
    // which can be just after the object is seen gone: wait for the event.
    let deleted = |r: &audit::Request| r.verb == "delete" && r.resource == "statefulsets" && r.name == "orders-db";
    let requests = wait_for("the StatefulSet's deletion in the audit log", Duration::from_secs(10), || async {
        let requests = audit::all_requests_since(&env.audit_log, offset).ok()?;
        requests.iter().any(deleted).then_some(requests)
    })
    .await?;
    let first = |f: &dyn Fn(&audit::Request) -> bool| requests.iter().position(f);
    let last = |f: &dyn Fn(&audit::Request) -> bool| requests.iter().rposition(f);
    let job_created = first(&|r| r.resource == "jobs" && r.name == "orders-db-final-backup" && r.verb == "patch");
    let job_finished = last(&|r| r.resource == "jobs/status" && r.name == "orders-db-final-backup");
    let data_deleted = first(&deleted);
    ensure(matches!((job_created, job_finished, data_deleted), (Some(a), Some(b), Some(c)) if a < b && b < c), || {
        format!(
            "order of create Job {job_created:?}, Job finished {job_finished:?}, delete StatefulSet {data_deleted:?}"
        )
    })
}
