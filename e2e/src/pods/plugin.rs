//! `kubectl servicedb` as a user runs it: through kubectl's plugin lookup
//! (target/debug on the PATH), against the operator in pods, asserting what
//! it prints and its exit codes.

use super::client::{ClientPod, exec, secret_value};
use super::env::{PLUGIN_NAMESPACE, PodEnv, S3_ACCESS_KEY, S3_BUCKET, S3_ENDPOINT, S3_SECRET_KEY};
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, step, wait_for, write_operator_kubeconfig};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

const NS: &str = PLUGIN_NAMESPACE;
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
/// another kubeconfig, not started yet.
fn servicedb_command(args: &[&str], kubeconfig: Option<&Path>) -> tokio::process::Command {
    let path = format!("{}:{}", plugin_dir().display(), std::env::var("PATH").unwrap_or_default());
    let mut command = tokio::process::Command::new("kubectl");
    command.arg("servicedb").args(args).env("PATH", path).stdout(Stdio::piped()).stderr(Stdio::piped());
    command.kill_on_drop(true);
    if let Some(config) = kubeconfig {
        command.env("KUBECONFIG", config);
    }
    command
}

/// `kubectl servicedb ARGS`, run to its end.
async fn servicedb(args: &[&str], kubeconfig: Option<&Path>) -> Result<Ran, String> {
    let mut command = servicedb_command(args, kubeconfig);
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
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  engine: postgres\n  version: \"15\"\n  service: {{name: shop, serviceAccountName: shop}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n  credentials: {{rotation: {{gracePeriodSeconds: 20}}}}\n  backup:\n    schedule: \"0 3 * * *\"\n    destination:\n      s3: {{bucket: {S3_BUCKET}, endpoint: '{S3_ENDPOINT}', tls: false, credentialsSecret: s3-creds}}\n"
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
    env.wait_ready(NS, "shop", Duration::from_secs(240)).await?;
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
    crate::cluster::run(
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
    // Whichever login is current (rotate_and_pause may have run first).
    let login = secret_value(env, NS, "shop-db-credentials", "username").await?;
    let tree = servicedb(&["status", "shop"], Some(&config)).await?.expect(0, "status")?;
    step(&format!("kubectl servicedb status shop:\n{}", tree.stdout));
    for line in [
        format!("ServiceDatabase {NS}/shop (postgres 15, service shop): Ready"),
        "├─ endpoint: shop-db.pods-plugin.svc:5432, TLS only".to_string(),
        "Ready True Available".to_string(),
        "StatefulSet shop-db: 1/1 ready".to_string(),
        "Pod shop-db-0: Running, ready,".to_string(),
        "Secret shop-db-credentials: present".to_string(),
        "CronJob shop-db-backup: \"0 3 * * *\"".to_string(),
        format!("current login: {login}"),
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
    ensure(value["rotation"]["currentLogin"] == login.as_str(), || format!("JSON rotation: {}", value["rotation"]))?;
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

    // Someone who may do neither: both permissions named. Someone who may
    // read the Secret but not port-forward: that one named, exit 4 all the same.
    let role = |who: &str, rules: &str| {
        format!(
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: {who}, namespace: {NS}}}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {{name: {who}, namespace: {NS}}}\nrules:\n- {{apiGroups: [servicedb.dev], resources: [servicedatabases], verbs: [get, list]}}\n- {{apiGroups: [''], resources: [pods], verbs: [get, list]}}\n{rules}---\napiVersion: rbac.authorization.k8s.io/v1\nkind: RoleBinding\nmetadata: {{name: {who}, namespace: {NS}}}\nroleRef: {{apiGroup: rbac.authorization.k8s.io, kind: Role, name: {who}}}\nsubjects: [{{kind: ServiceAccount, name: {who}, namespace: {NS}}}]\n"
        )
    };
    kubectl_apply(&role("outsider", "")).await?;
    kubectl_apply(&role(
        "reader",
        "- {apiGroups: [''], resources: [secrets], resourceNames: [shop-db-credentials], verbs: [get]}\n",
    ))
    .await?;
    let secret = format!("verb \"get\" on resource \"secrets\" named \"shop-db-credentials\" in namespace \"{NS}\"");
    let forward = format!("verb \"create\" on resource \"pods/portforward\" named \"shop-db-0\" in namespace \"{NS}\"");
    for (who, named, not_named) in
        [("outsider", vec![&secret, &forward], vec![]), ("reader", vec![&forward], vec![&secret])]
    {
        let config = env.logs.join(format!("{who}-kubeconfig"));
        write_operator_kubeconfig(&config, NS, who).await?;
        let refused = servicedb(&["-n", NS, "connect", "shop", "--", "-c", "select 1"], Some(&config))
            .await?
            .expect(4, &format!("connect as {who}"))?;
        step(&format!("{who} refused: {}", refused.stderr.trim()));
        for permission in named {
            ensure(refused.stderr.contains(permission.as_str()), || {
                format!("{who}: the refusal does not name {permission}: {}", refused.stderr)
            })?;
        }
        for permission in not_named {
            ensure(!refused.stderr.contains(permission.as_str()), || {
                format!("{who}: the refusal names {permission}, which {who} has: {}", refused.stderr)
            })?;
        }
    }
    Ok(())
}

/// A ServiceDatabase `name` in the namespace, applied once; `backup` is the
/// YAML of its spec.backup, if any.
async fn other_instance(name: &str, engine: &str, version: &str, backup: Option<&str>) -> Outcome {
    if kubectl(&["-n", NS, "get", "sdb", name, "-o", "name"]).await.is_ok() {
        return Ok(());
    }
    let backup = backup.map(|b| format!("  backup: {b}\n")).unwrap_or_default();
    kubectl_apply(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: {name}, namespace: {NS}}}\nspec:\n  engine: {engine}\n  version: \"{version}\"\n  service: {{name: {name}}}\n  storage: {{size: 1Gi}}\n  resources: {{requests: {{cpu: 10m, memory: 64Mi}}}}\n  deletionPolicy: Delete\n  monitoring: {{enabled: false}}\n{backup}"
    ))
    .await?;
    Ok(())
}

/// The client processes a running `connect` started, as their argv, and
/// whether any process's argv held `secret` meanwhile.
struct Watched {
    ran: Ran,
    clients: Vec<String>,
    leaked: Vec<String>,
}

/// Every process's argv, joined with spaces.
fn command_lines() -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return vec![] };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()))
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|raw| {
            raw.split(|b| *b == 0).map(|a| String::from_utf8_lossy(a).into_owned()).collect::<Vec<_>>().join(" ")
        })
        .collect()
}

/// `kubectl servicedb connect` with `args`, looking at every process's argv
/// while it runs: the client `program` must show up, `secret` never.
async fn connect_watching_argv(args: &[&str], program: &str, secret: &str) -> Result<Watched, String> {
    let mut child = servicedb_command(args, None).spawn().map_err(|e| format!("cannot run kubectl servicedb: {e}"))?;
    let started = Instant::now();
    let (mut clients, mut leaked) = (Vec::new(), Vec::new());
    while child.try_wait().map_err(|e| e.to_string())?.is_none() && started.elapsed() < Duration::from_secs(120) {
        for line in command_lines() {
            if line.contains(secret) {
                leaked.push(line.replace(secret, "<password>"));
            } else if line.split(' ').next().is_some_and(|argv0| argv0.rsplit('/').next() == Some(program))
                && !clients.contains(&line)
            {
                clients.push(line);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().await.map_err(|e| e.to_string())?;
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        seconds: started.elapsed().as_secs_f64(),
    };
    Ok(Watched { ran, clients, leaked })
}

/// connect to a MariaDB and a Redis instance: the client runs as the
/// service's login through the port-forward; while it runs, no process on
/// the machine has the password in its argv.
pub async fn connect_mariadb_and_redis(env: &PodEnv) -> Outcome {
    other_instance("maria", "mariadb", "10.11", None).await?;
    other_instance("cache", "redis", "7.2", None).await?;
    env.wait_ready(NS, "maria", Duration::from_secs(300)).await?;
    env.wait_ready(NS, "cache", Duration::from_secs(300)).await?;
    // Each client runs for about a second, so the argv scan sees it.
    let cases: [(&str, &str, &[&str]); 2] = [
        ("maria", "mariadb", &["-N", "-e", "select sleep(1); select substring_index(current_user(), '@', 1)"]),
        ("cache", "redis-cli", &["-r", "10", "-i", "0.1", "ACL", "WHOAMI"]),
    ];
    for (name, program, client_args) in cases {
        let secret = format!("{name}-db-credentials");
        let login = secret_value(env, NS, &secret, "username").await?;
        let password = secret_value(env, NS, &secret, "password").await?;
        ensure(password.len() >= 16, || format!("{secret} holds a short password ({} chars)", password.len()))?;
        let args = [&["-n", NS, "connect", name, "--"][..], client_args].concat();
        let watched = wait_for(&format!("connect to {name} to run {program}"), Duration::from_secs(60), || async {
            connect_watching_argv(&args, program, &password).await.ok().filter(|w| w.ran.code == 0)
        })
        .await?;
        let Watched { ran, clients, leaked } = watched;
        step(&format!(
            "kubectl servicedb connect {name} -- {} ({:.1}s): {:?}; client argv seen: {clients:?}",
            client_args.join(" "),
            ran.seconds,
            ran.stdout.trim()
        ));
        ensure(ran.stdout.lines().last().map(str::trim) == Some(login.as_str()), || {
            format!("connect {name} printed {:?}, expected the login {login}; stderr {}", ran.stdout, ran.stderr)
        })?;
        ensure(leaked.is_empty(), || format!("the password of {name} was in a process's argv: {leaked:?}"))?;
        ensure(!clients.is_empty(), || format!("no {program} process was seen while connect ran"))?;
        ensure(!ran.stdout.contains(&password) && !ran.stderr.contains(&password), || {
            format!("connect {name} printed the password")
        })?;
    }
    Ok(())
}

/// backups of an instance whose store is a claim (`destination.volume`):
/// the backup goes to the claim the operator made, the listing Job mounts
/// it and lists the backup.
pub async fn volume_backups(env: &PodEnv) -> Outcome {
    other_instance("ledger", "postgres", "15", Some("{schedule: \"0 3 * * *\", destination: {volume: {size: 1Gi}}}"))
        .await?;
    env.wait_ready(NS, "ledger", Duration::from_secs(300)).await?;
    let write = [
        "-n",
        NS,
        "connect",
        "ledger",
        "--",
        "-qtA",
        "-v",
        "ON_ERROR_STOP=1",
        "-c",
        "create table if not exists entries (id int)",
        "-c",
        "insert into entries select generate_series(1, 100)",
    ];
    wait_for("connect to write rows into ledger", Duration::from_secs(60), || async {
        servicedb(&write, None).await.ok().filter(|r| r.code == 0)
    })
    .await?;
    let ran = servicedb(&["-n", NS, "backup", "ledger"], None).await?.expect(0, "backup ledger")?;
    step(&format!("kubectl servicedb backup ledger ({:.1}s):\n{}", ran.seconds, ran.stdout));
    let done = ran
        .stdout
        .lines()
        .find(|l| l.starts_with("backup ") && l.contains(" succeeded: "))
        .ok_or_else(|| format!("no 'backup ID succeeded' line:\n{}", ran.stdout))?;
    let id = done.trim_start_matches("backup ").split_whitespace().next().unwrap_or_default().to_string();
    // WaitForFirstConsumer: the first backup Job bound the claim.
    let claim = kubectl(&[
        "-n",
        NS,
        "get",
        "pvc",
        "ledger-db-backups",
        "-o",
        "jsonpath={.status.phase} {.spec.resources.requests.storage}",
    ])
    .await?;
    ensure(claim.trim() == "Bound 1Gi", || format!("the backup claim ledger-db-backups: {claim}"))?;
    let listed = servicedb(&["-n", NS, "backups", "ledger"], None).await?.expect(0, "backups ledger")?;
    step(&format!("kubectl servicedb backups ledger ({:.1}s):\n{}", listed.seconds, listed.stdout));
    let row = listed
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .ok_or_else(|| format!("{id} not listed from the claim:\n{}", listed.stdout))?;
    ensure(row.contains("complete") && row.contains("postgres"), || format!("the row of {id}: {row}"))?;
    let json = servicedb(&["-n", NS, "backups", "ledger", "-o", "json"], None).await?.expect(0, "backups -o json")?;
    let entries: Vec<servicedb::backup::BackupEntry> =
        serde_json::from_str(&json.stdout).map_err(|e| format!("backups -o json: {e}: {}", json.stdout))?;
    let entry = entries.iter().find(|e| e.id == id).ok_or_else(|| format!("{id} not in {entries:?}"))?;
    ensure(entry.stored_bytes.unwrap_or(0) > 0 && !entry.location.starts_with("s3://"), || {
        format!("the entry of {id}: {entry:?}")
    })?;
    let leftovers = kubectl(&[
        "-n",
        NS,
        "get",
        "jobs",
        "-l",
        "app.kubernetes.io/component=backup-list,app.kubernetes.io/instance=ledger",
        "-o",
        "name",
    ])
    .await?;
    ensure(leftovers.trim().is_empty(), || format!("listing Jobs left behind: {leftovers}"))
}

/// What a new user runs into first: every verb on a name that does not
/// exist exits 3 naming the namespace and the name; backup, backups and
/// restore of an instance without spec.backup exit 3 saying what to add,
/// and create nothing.
pub async fn first_mistakes(_env: &PodEnv) -> Outcome {
    other_instance("cache", "redis", "7.2", None).await?;
    let verbs: [&[&str]; 8] = [
        &["status"],
        &["backup"],
        &["backups"],
        &["restore", "--backup", "20261130T010000Z-ab12", "--into", "nosuch-copy"],
        &["rotate"],
        &["pause"],
        &["resume"],
        &["connect"],
    ];
    for verb in verbs {
        let args = [&["-n", NS, verb[0], "nosuch"][..], &verb[1..]].concat();
        let ran = servicedb(&args, None).await?.expect(3, &format!("{} of a missing instance", verb[0]))?;
        ensure(ran.stderr.contains(&format!("ServiceDatabase nosuch not found in namespace {NS}")), || {
            format!("{}: {}", verb[0], ran.stderr)
        })?;
    }
    let verbs: [&[&str]; 3] =
        [&["backup"], &["backups"], &["restore", "--backup", "20261130T010000Z-ab12", "--into", "cache-copy"]];
    for verb in verbs {
        let args = [&["-n", NS, verb[0], "cache"][..], &verb[1..]].concat();
        let ran = servicedb(&args, None).await?.expect(3, &format!("{} without spec.backup", verb[0]))?;
        step(&format!("kubectl servicedb {} cache: {}", verb[0], ran.stderr.trim()));
        ensure(
            ran.stderr.contains(&format!("ServiceDatabase {NS}/cache has no spec.backup"))
                && ran.stderr.contains("patch sdb cache"),
            || format!("{}: {}", verb[0], ran.stderr),
        )?;
    }
    let made = kubectl(&["-n", NS, "get", "sdb,servicedatabasebackups", "-o", "name"]).await?;
    ensure(!made.contains("cache-copy") && !made.contains("servicedatabasebackup.servicedb.dev/cache-"), || {
        format!("a refused command created something: {made}")
    })?;
    let bare = servicedb(&[], None).await?.expect(2, "kubectl servicedb without arguments")?;
    ensure(bare.stderr.contains("Commands:") && bare.stderr.contains("connect"), || bare.stderr)
}

/// rotate waits for the switch and prints the new login; pause writes
/// `servicedb.dev/reconcile: paused` and leaves a deleted child alone,
/// resume removes it (and the deprecated alias) and repairs the child.
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
    let annotations = || kubectl(&["-n", NS, "get", "sdb", "shop", "-o", "jsonpath={.metadata.annotations}"]);
    let written = annotations().await?;
    ensure(written.contains(r#""servicedb.dev/reconcile":"paused""#), || written.clone())?;
    // The deprecated annotation of earlier releases on top: resume must
    // remove it too, or the instance would stay paused and nothing be repaired.
    kubectl(&["-n", NS, "annotate", "sdb", "shop", "servicedb.dev/paused=true"]).await?;

    kubectl(&["-n", NS, "delete", "networkpolicy", "shop-db"]).await?;
    // The deletion wakes the operator (and resync is 5 s): give it time to (not) act.
    tokio::time::sleep(Duration::from_secs(15)).await;
    let gone = kubectl(&["-n", NS, "get", "networkpolicy", "shop-db", "-o", "name"]).await;
    ensure(gone.is_err(), || "the operator repaired a child while paused".into())?;

    let resumed = servicedb(&["-n", NS, "resume", "shop"], None).await?.expect(0, "resume")?;
    ensure(resumed.stdout.contains("resumed shop"), || resumed.stdout.clone())?;
    let left = annotations().await?;
    ensure(!left.contains("servicedb.dev/reconcile") && !left.contains("servicedb.dev/paused"), || left.clone())?;
    wait_for("the NetworkPolicy to be repaired after resume", Duration::from_secs(60), || async {
        kubectl(&["-n", NS, "get", "networkpolicy", "shop-db", "-o", "name"]).await.ok()
    })
    .await?;
    let status =
        servicedb(&["-n", NS, "status", "shop", "-o", "json"], None).await?.expect(0, "status after resume")?;
    ensure(!status.stdout.contains("PausedByAnnotation"), || status.stdout)
}
