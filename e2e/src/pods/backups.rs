//! Backups that really run: an on-demand backup Job (the tools image) dumps
//! a real PostgreSQL pod to a real S3 server (versitygw on the node's bridge
//! address), the status carries what the Job's termination message said,
//! and a new instance bootstraps from it with every row back.

use super::client::{ClientPod, connects, secret_value, verdict};
use super::env::{PodEnv, S3_ACCESS_KEY, S3_BUCKET, S3_ENDPOINT, S3_SECRET_KEY};
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, wait_for};
use kube::Api;
use servicedb::api::{BackupPhase, ServiceDatabaseBackup};
use std::time::Duration;

const NS: &str = "pods-backup";
const ROWS: u32 = 5000;

fn instance(name: &str, extra: &str) -> String {
    format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: {name}, serviceAccountName: {name}}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n  backup:\n    schedule: \"0 3 * * *\"\n    destination:\n      s3: {{bucket: {S3_BUCKET}, endpoint: '{S3_ENDPOINT}', tls: false, credentialsSecret: s3-creds}}\n{extra}"
    )
}

/// The pod of service `name`, with its credentials.
fn owner<'a>(name: &'a str, pod: &'a str, labels: &'a str, secret: &'a str) -> ClientPod<'a> {
    ClientPod { namespace: NS, name: pod, labels, service_account: Some(name), credentials: Some(secret) }
}

pub async fn to_s3_and_back(env: &PodEnv) -> Outcome {
    kubectl_apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: s3-creds, namespace: {NS}}}\nstringData: {{AWS_ACCESS_KEY_ID: {S3_ACCESS_KEY}, AWS_SECRET_ACCESS_KEY: {S3_SECRET_KEY}}}\n"
    ))
    .await?;
    for account in ["orders", "copy"] {
        let _ = kubectl(&["-n", NS, "create", "serviceaccount", account]).await;
    }
    kubectl_apply(&instance("orders", "")).await?;
    env.wait_ready(NS, "orders", Duration::from_secs(240)).await?;
    let orders = owner("orders", "orders-app", "{app.kubernetes.io/name: orders}", "orders-db-credentials");
    orders.start().await?;
    let fill = format!(
        r#"psql "$DB_URI" -qtA -v ON_ERROR_STOP=1 -c "create table items (id int primary key, payload text)" -c "insert into items select g, md5(g::text) from generate_series(1, {ROWS}) g" -c "select count(*) from items""#
    );
    let filled = wait_for("the owner to write rows", Duration::from_secs(30), || async {
        super::client::exec(NS, orders.name, None, &fill).await.ok()
    })
    .await?;
    ensure(filled.trim() == ROWS.to_string(), || format!("rows written: {filled}"))?;

    // The on-demand backup: a real Job of the tools image, to S3.
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabaseBackup\nmetadata: {{name: manual, namespace: {NS}}}\nspec: {{serviceDatabase: orders}}\n"
    ))
    .await?;
    let backups: Api<ServiceDatabaseBackup> = Api::namespaced(env.client.clone(), NS);
    let status = wait_for("the backup Job to finish", Duration::from_secs(240), || async {
        let status = backups.get("manual").await.ok()?.status?;
        matches!(status.phase, Some(BackupPhase::Succeeded | BackupPhase::Failed)).then_some(status)
    })
    .await?;
    ensure(status.phase == Some(BackupPhase::Succeeded), || format!("the backup failed: {status:?}"))?;
    let id = status.backup_id.clone().unwrap_or_default();
    ensure(!id.is_empty() && status.size_bytes.unwrap_or(0) > 0, || format!("backup id and size: {status:?}"))?;
    ensure(status.sha256.as_ref().is_some_and(|s| s.len() == 64), || format!("sha256: {status:?}"))?;
    let location = status.location.clone().unwrap_or_default();
    ensure(location.starts_with(&format!("s3://{S3_BUCKET}/")) && location.contains(&id), || {
        format!("location: {location}")
    })?;

    // It ran as the read-only backup login: the backup pods read no admin Secret.
    let read =
        kubectl(&["-n", NS, "get", "cronjob", "orders-db-backup", "-o", "jsonpath={..secretKeyRef.name}"]).await?;
    let read: std::collections::BTreeSet<&str> = read.split_whitespace().collect();
    ensure(read == ["orders-db-backup-login", "s3-creds"].into(), || format!("Secrets a backup pod reads: {read:?}"))?;

    // A backup pod of another instance may not reach this database; one of
    // this instance may (the control).
    for (pod, instance, expected) in [("backup-of-orders", "orders", true), ("backup-of-copy", "copy", false)] {
        let labels = format!(
            "{{app.kubernetes.io/name: servicedb-backup, app.kubernetes.io/instance: {instance}, app.kubernetes.io/component: backup, app.kubernetes.io/managed-by: servicedb}}"
        );
        ClientPod { namespace: NS, name: pod, labels: &labels, service_account: None, credentials: None }
            .start()
            .await?;
        let real = verdict(NS, pod, &format!("orders-db.{NS}.svc"), 5432, expected).await;
        ensure(real == expected, || format!("{pod} -> orders-db:5432: expected {expected}, real {real}"))?;
    }

    // A backup pod opens no connection but to its database, DNS and the S3
    // endpoint: not to the API server (the owner's pod can, as the control).
    let s3_address = S3_ENDPOINT.trim_start_matches("http://");
    let (s3_host, s3_port) = s3_address.split_once(':').ok_or("S3 endpoint without a port")?;
    let s3_port: u16 = s3_port.parse().map_err(|e| format!("S3 port: {e}"))?;
    ensure(verdict(NS, "backup-of-orders", s3_host, s3_port, true).await, || "a backup pod cannot reach S3".into())?;
    ensure(connects(NS, orders.name, "10.96.0.1", 443).await, || "the owner's pod cannot reach the API server".into())?;
    ensure(!connects(NS, "backup-of-orders", "10.96.0.1", 443).await, || "a backup pod reached the API server".into())?;

    // The schedule's CronJob makes a real backup Job too (started now
    // rather than at 03:00); BackupHealthy follows it.
    kubectl(&["-n", NS, "create", "job", "--from=cronjob/orders-db-backup", "orders-db-backup-now"]).await?;
    kubectl(&["-n", NS, "wait", "--for=condition=Complete", "job/orders-db-backup-now", "--timeout=240s"])
        .await
        .map_err(|e| format!("the CronJob's backup Job did not complete: {e}"))?;
    wait_for("lastSuccessfulBackup to name the CronJob's Job", Duration::from_secs(60), || async {
        let out = kubectl(&["-n", NS, "get", "sdb", "orders", "-o", "jsonpath={.status.lastSuccessfulBackup.job}"])
            .await
            .ok()?;
        (out == "orders-db-backup-now").then_some(())
    })
    .await?;

    // A new instance starts from that backup: every row is back.
    kubectl_apply(&instance("copy", "  bootstrap:\n    fromBackup: {backupName: manual}\n")).await?;
    env.wait_ready(NS, "copy", Duration::from_secs(300)).await?;
    let copy = owner("copy", "copy-app", "{app.kubernetes.io/name: copy}", "copy-db-credentials");
    copy.start().await?;
    let count = r#"psql "$DB_URI" -tAc "select count(*) || ' ' || sum(length(payload)) || ' ' || (select tableowner from pg_tables where tablename = 'items') from items""#;
    let restored = wait_for("the copy's owner to read the rows", Duration::from_secs(30), || async {
        super::client::exec(NS, copy.name, None, count).await.ok()
    })
    .await?;
    let copy_user = secret_value(env, NS, "copy-db-credentials", "username").await?;
    let expected = format!("{ROWS} {} {copy_user}", ROWS * 32);
    ensure(restored.trim() == expected, || format!("restored: {restored:?}, expected {expected:?}"))
}
