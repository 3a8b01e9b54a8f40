use super::env::{PodEnv, RESYNC_SECONDS};
use crate::cluster::{Outcome, ensure, event_reasons, kubectl, kubectl_apply, sdb_yaml, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use std::time::Duration;

/// The API server's own validation (schema + CEL) refuses bad objects, and
/// kubectl prints our message.
pub async fn rejected_by_api_server(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-validation").await?;
    let refused = |yaml: String, expect: &'static str| async move {
        match kubectl_apply(&yaml).await {
            Ok(out) => Err(format!("accepted, expected {expect:?}: {out}")),
            // Every refusal of ours names its field: `<nil>` means a rule
            // without a fieldPath (the API server's own note that it skipped
            // the CEL rules of an object the schema refused is not ours).
            Err(err)
                if err
                    .lines()
                    .any(|l| l.contains("<nil>") && !l.contains("some validation rules were not checked")) =>
            {
                Err(format!("a refusal names no field: {err}"))
            }
            Err(err) if err.contains(expect) => Ok(()),
            Err(err) => Err(format!("refused, but without {expect:?}: {err}")),
        }
    };
    refused(sdb_yaml(&ns, "postgres", ""), "metadata.name: Forbidden: metadata.name is reserved").await?;
    refused(sdb_yaml(&ns, "orders", "  deletionPolicy: Snapshot\n"), "spec.deletionPolicy: Invalid value").await?;
    refused(sdb_yaml(&ns, "orders", "").replace("1Gi", "lots"), "storage.size must be a positive quantity").await?;
    refused(sdb_yaml(&ns, "orders", "").replace("engine: postgres", "engine: oracle"), "Unsupported value: \"oracle\"")
        .await?;
    refused(sdb_yaml(&ns, "orders", "").replace("\"15\"", "latest"), "version must be a number").await?;
    refused(sdb_yaml(&ns, &"a".repeat(41), ""), "metadata.name: Invalid value: metadata.name must be at most 40")
        .await?;

    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    refused(sdb_yaml(&ns, "orders", "").replace("1Gi", "512Mi"), "storage.size can grow but never shrink").await?;
    refused(
        sdb_yaml(&ns, "orders", "").replace("size: 1Gi", "size: 1Gi\n    storageClassName: other"),
        "storageClassName is immutable",
    )
    .await
}

/// A spec the schema accepts but the operator cannot act on.
pub async fn invalid_spec(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-invalid").await?;
    kubectl_apply(&sdb_yaml(&ns, "old", "").replace("\"15\"", "\"9\"")).await?;
    kubectl_apply(
        &sdb_yaml(&ns, "noclass", "").replace("size: 1Gi", "size: 1Gi\n    storageClassName: does-not-exist"),
    )
    .await?;
    let s3 = |name: &str, extra: &str| {
        let destination = format!("{{bucket: backups, endpoint: 'https://s3.example:9000'{extra}}}");
        sdb_yaml(
            &ns,
            name,
            &format!("  backup:\n    schedule: '0 3 * * *'\n    destination:\n      s3: {destination}\n"),
        )
    };
    kubectl_apply(&s3("nocreds", ", credentialsSecret: absent")).await?;
    kubectl(&[
        "-n",
        &ns,
        "create",
        "secret",
        "generic",
        "creds",
        "--from-literal=AWS_ACCESS_KEY_ID=a",
        "--from-literal=AWS_SECRET_ACCESS_KEY=b",
    ])
    .await?;
    kubectl_apply(&s3("noca", ", credentialsSecret: creds, caBundle: {secretName: private-ca}")).await?;
    let api = env.sdbs(&ns);
    for (name, reason, words) in [
        ("old", "UnsupportedVersion", "use one of: 15"),
        ("noclass", "StorageClassNotFound", "\"does-not-exist\" does not exist"),
        ("nocreds", "BackupCredentialsNotFound", "credentialsSecret \"absent\" must exist"),
        (
            "noca",
            "BackupCABundleNotFound",
            "Secret \"private-ca\" must exist in this namespace with the key \"ca.crt\"",
        ),
    ] {
        let message = wait_for(&format!("{name} to report {reason}"), Duration::from_secs(30), || async {
            let sdb = api.get_opt(name).await.ok().flatten()?;
            let ready = sdb.status?.conditions.into_iter().find(|c| c.type_ == "Ready")?;
            (ready.status == "False" && ready.reason == "InvalidSpec").then_some(ready.message)
        })
        .await?;
        ensure(message.contains(reason) && message.contains(words), || format!("{name}: {message}"))?;
        let events = event_reasons(&ns, name).await?;
        ensure(events.iter().any(|r| r == "InvalidSpec"), || format!("no InvalidSpec Event for {name}: {events:?}"))?;
        let sts = env.api::<StatefulSet>(&ns).get_opt(&format!("{name}-db")).await.map_err(|e| e.to_string())?;
        ensure(sts.is_none(), || format!("{name}: a child was created for an invalid spec"))?;
    }
    // No requeue storm: an invalid object waits for a change. Several
    // resync periods pass; each object may be looked at a few times, not hundreds.
    let count = || async { env.operator_logs(None).await.matches("invalid spec").count() };
    let before = count().await;
    tokio::time::sleep(Duration::from_secs(3 * RESYNC_SECONDS)).await;
    let during = count().await - before;
    ensure(during <= 8, || format!("{during} invalid-spec reconciles in {}s: a requeue loop", 3 * RESYNC_SECONDS))?;

    // Correcting the version in place recovers.
    kubectl(&["-n", &ns, "patch", "sdb", "old", "--type=merge", "-p", r#"{"spec":{"version":"15"}}"#]).await?;
    env.wait_ready(&ns, "old", Duration::from_secs(240)).await?;

    // A running instance refuses a major version change, and keeps running.
    kubectl(&["-n", &ns, "patch", "sdb", "old", "--type=merge", "-p", r#"{"spec":{"version":"16"}}"#]).await?;
    let message = wait_for("VersionChange", Duration::from_secs(30), || async {
        let ready =
            api.get_opt("old").await.ok().flatten()?.status?.conditions.into_iter().find(|c| c.type_ == "Ready")?;
        (ready.reason == "InvalidSpec").then_some(ready.message)
    })
    .await?;
    ensure(message.contains("VersionChange"), || message.clone())?;
    let sts = env.api::<StatefulSet>(&ns).get("old-db").await.map_err(|e| e.to_string())?;
    let image =
        sts.spec.and_then(|s| s.template.spec).and_then(|p| p.containers.into_iter().next()).and_then(|c| c.image);
    ensure(image.as_deref() == Some("localhost/servicedb/postgres:15"), || format!("image changed to {image:?}"))?;
    let pod = kubectl(&["-n", &ns, "get", "pod", "old-db-0", "-o", "jsonpath={.status.phase}"]).await?;
    ensure(pod == "Running", || format!("the database pod is {pod} after the refused change"))
}
