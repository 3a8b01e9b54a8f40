//! `kubectl servicedb` as a user runs it: through kubectl's plugin lookup
//! (target/debug on the PATH), against the operator in pods, asserting what
//! it prints and its exit codes.

use super::client::{ClientPod, exec, secret_value};
use super::env::{PodEnv, S3_ACCESS_KEY, S3_BUCKET, S3_ENDPOINT, S3_SECRET_KEY};
use super::isolation::wait_ready;
use crate::harness::{Outcome, ensure, kubectl, kubectl_apply, step, wait_for, write_operator_kubeconfig};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

pub const NS: &str = "pods-plugin";
const ROWS: u32 = 1000;

/// What a run of the plugin showed.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    seconds: f64,
}

impl Ran {
    fn expect(self, code: i32, what: &str) -> Result<Ran, String> {
        if self.code == code {
            Ok(self)
        } else {
            Err(format!(
                "{what}: exit {} (expected {code})\nstdout:\n{}\nstderr:\n{}",
                self.code, self.stdout, self.stderr
            ))
        }
    }
}

fn plugin_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/debug")
}

/// `kubectl servicedb ARGS` with the plugin on the PATH, optionally under
/// another kubeconfig.
async fn servicedb(args: &[&str], kubeconfig: Option<&Path>) -> Result<Ran, String> {
    let path = format!("{}:{}", plugin_dir().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = tokio::process::Command::new("kubectl");
    command.arg("servicedb").args(args).env("PATH", path).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.kill_on_drop(true);
    if let Some(config) = kubeconfig {
        command.env("KUBECONFIG", config);
    }
    let started = Instant::now();
    let out = tokio::time::timeout(Duration::from_secs(900), command.output())
        .await
        .map_err(|_| format!("kubectl servicedb {args:?} did not finish in 900s"))?
        .map_err(|e| format!("cannot run kubectl servicedb: {e}"))?;
    Ok(Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

fn instance(name: &str) -> String {
    format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: shop, serviceAccountName: shop}}\n  storage: {{size: 1Gi}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n  credentials: {{rotation: {{gracePeriodSeconds: 20}}}}\n  backup:\n    schedule: \"0 3 * * *\"\n    destination:\n      s3: {{bucket: {S3_BUCKET}, endpoint: '{S3_ENDPOINT}', tls: false, credentialsSecret: s3-creds}}\n"
    )
}

fn app(pod: &'static str, secret: &'static str) -> ClientPod<'static> {
    ClientPod {
        namespace: NS,
        name: pod,
        labels: "{app.kubernetes.io/name: shop}",
        service_account: Some("shop"),
        credentials: Some(secret),
    }
}

/// The instance `shop` Ready, with rows written by its service (made once).
async fn shop(env: &PodEnv) -> Outcome {
    let exists = kubectl(&["-n", NS, "get", "sdb", "shop", "-o", "name"]).await.is_ok();
    if !exists {
        kubectl_apply(&format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: s3-creds, namespace: {NS}}}\nstringData: {{AWS_ACCESS_KEY_ID: {S3_ACCESS_KEY}, AWS_SECRET_ACCESS_KEY: {S3_SECRET_KEY}}}\n"
        ))
        .await?;
        let _ = kubectl(&["-n", NS, "create", "serviceaccount", "shop"]).await;
        kubectl_apply(&instance("shop")).await?;
    }
    wait_ready(env, NS, "shop", Duration::from_secs(240)).await?;
    if !exists {
        let pod = app("shop-app", "shop-db-credentials");
        pod.start().await?;
        let fill = format!(
            r#"psql "$DB_URI" -qtA -v ON_ERROR_STOP=1 -c "create table items (id int primary key, payload text)" -c "insert into items select g, md5(g::text) from generate_series(1, {ROWS}) g" -c "select count(*) from items""#
        );
        let filled = wait_for("the service to write rows", Duration::from_secs(30), || async {
            exec(NS, pod.name, None, &fill).await.ok()
        })
        .await?;
        ensure(filled.trim() == ROWS.to_string(), || format!("rows written: {filled}"))?;
    }
    Ok(())
}

/// status as a tree and as JSON, from the kubeconfig's namespace; a missing
/// instance exits 3.
pub async fn status(env: &PodEnv) -> Outcome {
    shop(env).await?;
    // A kubeconfig whose context names the namespace: no -n needed.
    let config = env.logs.join("plugin-kubeconfig");
    let admin = kubectl(&["config", "view", "--raw"]).await?;
    std::fs::write(&config, admin).map_err(|e| e.to_string())?;
    crate::harness::run(
        "kubectl",
        &[
            "--kubeconfig",
            &config.to_string_lossy(),
            "config",
            "set-context",
            "--current",
            &format!("--namespace={NS}"),
        ],
        None,
    )
    .await?;
    let tree = servicedb(&["status", "shop"], Some(&config)).await?.expect(0, "status")?;
    step(&format!("kubectl servicedb status shop:\n{}", tree.stdout));
    for line in [
        format!("ServiceDatabase {NS}/shop (postgres 15, service shop): Ready"),
        "├─ endpoint: shop-db.pods-plugin.svc:5432".to_string(),
        "Ready True Available".to_string(),
        "StatefulSet shop-db: 1/1 ready".to_string(),
        "Pod shop-db-0: Running, ready,".to_string(),
        "Secret shop-db-credentials: present".to_string(),
        "CronJob shop-db-backup: \"0 3 * * *\"".to_string(),
        "current login: shop".to_string(),
    ] {
        ensure(tree.stdout.contains(&line), || format!("status lacks {line:?}:\n{}", tree.stdout))?;
    }
    let json = servicedb(&["status", "shop", "-o", "json"], Some(&config)).await?.expect(0, "status -o json")?;
    let value: serde_json::Value =
        serde_json::from_str(&json.stdout).map_err(|e| format!("status -o json is not JSON: {e}: {}", json.stdout))?;
    let ready = value["conditions"].as_array().into_iter().flatten().find(|c| c["type"] == "Ready");
    ensure(ready.is_some_and(|c| c["status"] == "True"), || format!("JSON Ready: {value}"))?;
    ensure(value["phase"] == "Ready" && value["children"]["statefulSet"]["readyReplicas"] == 1, || {
        format!("JSON phase/readiness: {value}")
    })?;
    ensure(value["rotation"]["currentLogin"] == "shop", || format!("JSON rotation: {}", value["rotation"]))?;
    let yaml = servicedb(&["status", "shop", "-o", "yaml"], Some(&config)).await?.expect(0, "status -o yaml")?;
    ensure(yaml.stdout.contains("phase: Ready"), || format!("YAML: {}", yaml.stdout))?;
    let missing = servicedb(&["status", "nosuch"], Some(&config)).await?.expect(3, "status of a missing instance")?;
    ensure(missing.stderr.contains("ServiceDatabase nosuch not found in namespace pods-plugin"), || missing.stderr)
}

/// backup follows to Succeeded; backups lists it; restore --into NEW
/// reaches Ready with every row; restoring into an existing name is refused.
pub async fn backup_and_restore(env: &PodEnv) -> Outcome {
    shop(env).await?;
    let ran = servicedb(&["-n", NS, "backup", "shop"], None).await?.expect(0, "backup")?;
    step(&format!("kubectl servicedb backup shop ({:.1}s):\n{}", ran.seconds, ran.stdout));
    ensure(ran.stdout.contains("] Running") || ran.stdout.contains("] Pending"), || {
        format!("no phase shown while following:\n{}", ran.stdout)
    })?;
    let done = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("backup ") && l.contains(" succeeded: "))
        .ok_or_else(|| format!("no 'backup ID succeeded: SIZE' line:\n{}", ran.stdout))?;
    let id = done.trim_start_matches("backup ").split_whitespace().next().unwrap_or_default().to_string();
    ensure(done.contains(" bytes)") && !id.is_empty(), || format!("id and size: {done}"))?;

    // The store is S3 on the node's bridge: only pods with the backup
    // policy reach it, so the listing runs as a Job in the namespace.
    let listed = servicedb(&["-n", NS, "backups", "shop"], None).await?.expect(0, "backups")?;
    step(&format!("kubectl servicedb backups shop ({:.1}s):\n{}", listed.seconds, listed.stdout));
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .ok_or_else(|| format!("{id} not listed:\n{}", listed.stdout))?;
    ensure(row.contains("complete") && row.contains("postgres"), || format!("the row of {id}: {row}"))?;
    let json = servicedb(&["-n", NS, "backups", "shop", "-o", "json"], None).await?.expect(0, "backups -o json")?;
    let entries: Vec<servicedb::backup::BackupEntry> =
        serde_json::from_str(&json.stdout).map_err(|e| format!("backups -o json: {e}: {}", json.stdout))?;
    ensure(entries.iter().any(|e| e.id == id && e.stored_bytes.unwrap_or(0) > 0), || format!("{entries:?}"))?;
    let leftovers =
        kubectl(&["-n", NS, "get", "jobs", "-l", "app.kubernetes.io/component=backup-list", "-o", "name"]).await?;
    ensure(leftovers.trim().is_empty(), || format!("listing Jobs left behind: {leftovers}"))?;

    let restore = servicedb(&["-n", NS, "restore", "shop", "--backup", &id, "--into", "shop-copy"], None)
        .await?
        .expect(0, "restore")?;
    step(&format!("kubectl servicedb restore shop --into shop-copy ({:.1}s):\n{}", restore.seconds, restore.stdout));
    ensure(restore.stdout.contains("bootstrap"), || format!("no bootstrap phase shown:\n{}", restore.stdout))?;
    let copy = app("shop-copy-app", "shop-copy-db-credentials");
    copy.start().await?;
    let count = r#"psql "$DB_URI" -tAc "select count(*) || ' ' || sum(length(payload)) from items""#;
    let rows = wait_for("the copy's service to read the rows", Duration::from_secs(30), || async {
        exec(NS, copy.name, None, count).await.ok()
    })
    .await?;
    ensure(rows.trim() == format!("{ROWS} {}", ROWS * 32), || format!("rows in the copy: {rows:?}"))?;
    let again = servicedb(&["-n", NS, "restore", "shop", "--backup", &id, "--into", "shop-copy"], None)
        .await?
        .expect(1, "restore into an existing instance")?;
    ensure(again.stderr.contains("already exists"), || again.stderr)
}

/// connect runs a query as the service's login; someone without `get` on
/// the credentials Secret is refused, told which permission, exit 4.
pub async fn connect(env: &PodEnv) -> Outcome {
    shop(env).await?;
    let login = secret_value(env, NS, "shop-db-credentials", "username").await?;
    let ran = wait_for("connect to run the query", Duration::from_secs(30), || async {
        servicedb(
            &["-n", NS, "connect", "shop", "--", "-tAc", "select session_user || ' ' || count(*) from items"],
            None,
        )
        .await
        .ok()
        .filter(|r| r.code == 0)
    })
    .await?;
    ensure(ran.stdout.trim() == format!("{login} {ROWS}"), || {
        format!("connect printed {:?}, stderr {}", ran.stdout, ran.stderr)
    })?;

    // A reader of ServiceDatabases and pods, not of Secrets.
    kubectl_apply(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: outsider, namespace: {NS}}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: outsider, namespace: {NS}}}\nrules:\n- {{apiGroups: [servicedb.dev], resources: [servicedatabases], verbs: [get, list]}}\n- {{apiGroups: [''], resources: [pods], verbs: [get, list]}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: outsider, namespace: {NS}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: outsider}}\nsubjects: [{{kind: ServiceAccount, name: outsider, namespace: {NS}}}]\n"
    ))
    .await?;
    let config = env.logs.join("outsider-kubeconfig");
    write_operator_kubeconfig(&config, NS, "outsider").await?;
    let refused = servicedb(&["-n", NS, "connect", "shop", "--", "-c", "select 1"], Some(&config))
        .await?
        .expect(4, "connect without get on the Secret")?;
    step(&format!("refused: {}", refused.stderr.trim()));
    let named = format!("verb \"get\" on resource \"secrets\" named \"shop-db-credentials\" in namespace \"{NS}\"");
    ensure(refused.stderr.contains(&named), || format!("the refusal does not name the permission: {}", refused.stderr))
}

/// rotate waits for the switch and prints the new login; pause leaves a
/// deleted child alone, resume repairs it.
pub async fn rotate_and_pause(env: &PodEnv) -> Outcome {
    shop(env).await?;
    let before = secret_value(env, NS, "shop-db-credentials", "username").await?;
    let ran = servicedb(&["-n", NS, "rotate", "shop"], None).await?.expect(0, "rotate")?;
    step(&format!("kubectl servicedb rotate shop ({:.1}s):\n{}", ran.seconds, ran.stdout));
    let after = secret_value(env, NS, "shop-db-credentials", "username").await?;
    ensure(after != before, || format!("the login did not change: {after}"))?;
    ensure(ran.stdout.contains(&format!("rotated shop: current login {after}")), || ran.stdout.clone())?;

    let paused = servicedb(&["-n", NS, "pause", "shop"], None).await?.expect(0, "pause")?;
    ensure(paused.stdout.contains("paused shop"), || paused.stdout.clone())?;
    let status = servicedb(&["-n", NS, "status", "shop"], None).await?.expect(0, "status while paused")?;
    ensure(status.stdout.lines().next().is_some_and(|l| l.ends_with(", PAUSED")), || status.stdout.clone())?;
    ensure(status.stdout.contains("Paused True PausedByAnnotation"), || status.stdout.clone())?;
    let refused = servicedb(&["-n", NS, "backup", "shop"], None).await?.expect(1, "backup while paused")?;
    ensure(refused.stderr.contains("is paused"), || refused.stderr.clone())?;

    kubectl(&["-n", NS, "delete", "networkpolicy", "shop-db"]).await?;
    // The deletion wakes the operator (and resync is 5 s): give it time to (not) act.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let gone = kubectl(&["-n", NS, "get", "networkpolicy", "shop-db", "-o", "name"]).await;
    ensure(gone.is_err(), || "the operator repaired a child while paused".into())?;

    let resumed = servicedb(&["-n", NS, "resume", "shop"], None).await?.expect(0, "resume")?;
    ensure(resumed.stdout.contains("resumed shop"), || resumed.stdout.clone())?;
    wait_for("the NetworkPolicy to be repaired after resume", Duration::from_secs(60), || async {
        kubectl(&["-n", NS, "get", "networkpolicy", "shop-db", "-o", "name"]).await.ok()
    })
    .await?;
    let status =
        servicedb(&["-n", NS, "status", "shop", "-o", "json"], None).await?.expect(0, "status after resume")?;
    ensure(!status.stdout.contains("PausedByAnnotation"), || status.stdout)
}
