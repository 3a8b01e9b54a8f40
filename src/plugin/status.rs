//! `kubectl servicedb status NAME`: what the operator made and how it is
//! doing, gathered once into a `Report` (the JSON/YAML form) and drawn as a
//! tree for people.

use super::failure::Failure;
use super::target::Target;
use super::tree::Node;
use crate::api::{BackupRecord, ServiceDatabase};
use crate::builders::secret::{PENDING_LOGIN_KEY, RETIRE_AFTER_KEY, ROTATED_AT_KEY, ROTATION_TOKEN_KEY, read_key};
use crate::controller::pause::{PAUSED, is_paused};
use crate::controller::rotation::ROTATE_ANNOTATION;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::ListParams;
use kube::{Api, ResourceExt};
use serde::Serialize;

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub name: String,
    pub namespace: String,
    pub engine: String,
    pub version: String,
    pub service: String,
    pub phase: Option<String>,
    pub paused: bool,
    pub endpoint: Option<String>,
    /// The server takes TLS logins only.
    pub tls: bool,
    pub conditions: Vec<ConditionView>,
    pub children: Children,
    /// None when the instance has no `spec.backup`.
    pub backups: Option<Backups>,
    pub bootstrap: Option<BackupRecord>,
    pub rotation: RotationView,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ConditionView {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Children {
    pub stateful_set: Option<StatefulSetView>,
    pub pods: Vec<PodView>,
    pub services: Vec<String>,
    pub secrets: Vec<SecretView>,
    pub network_policies: Vec<String>,
    pub cron_job: Option<CronJobView>,
    pub persistent_volume_claims: Vec<ClaimView>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StatefulSetView {
    pub name: String,
    pub ready_replicas: i32,
    pub replicas: i32,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PodView {
    pub name: String,
    pub phase: String,
    pub ready: bool,
    pub restarts: i32,
    /// Why a container waits or last ended, e.g. CrashLoopBackOff.
    pub reason: Option<String>,
}

#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    Present,
    Missing,
    /// Your RBAC does not let you see it.
    Unreadable,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    pub name: String,
    pub presence: Presence,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CronJobView {
    pub name: String,
    pub schedule: String,
    pub suspended: bool,
    pub last_schedule_time: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClaimView {
    pub name: String,
    pub phase: String,
    pub capacity: Option<String>,
}

#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Backups {
    pub schedule: String,
    pub last: Option<BackupRecord>,
    pub last_successful: Option<BackupRecord>,
}

/// Rotation as far as you may see it: the current login is in the
/// credentials Secret, the rest in the admin Secret.
#[derive(Serialize, Debug, Clone, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct RotationView {
    pub current_login: Option<String>,
    pub last_rotation: Option<String>,
    /// A login whose new password is set in the database, not yet handed out.
    pub pending_login: Option<String>,
    pub previous_login_retires_at: Option<String>,
    /// The value of the `servicedb.dev/rotate` annotation.
    pub requested: Option<String>,
    /// Whether that request is still to be handled; None when unknown.
    pub request_pending: Option<bool>,
    /// What could not be read, and why.
    pub note: Option<String>,
}

/// Rotation from the annotation and the two Secrets (each None when
/// unreadable).
pub fn rotation_view(
    requested: Option<String>,
    credentials: Option<&Secret>,
    admin: Option<&Secret>,
    admin_name: &str,
) -> RotationView {
    let current_login = credentials.and_then(|s| read_key(s, "username"));
    let Some(admin) = admin else {
        return RotationView {
            current_login,
            request_pending: None,
            note: Some(format!("the rotation state is kept in Secret {admin_name}, which you may not read")),
            requested,
            ..RotationView::default()
        };
    };
    let handled = read_key(admin, ROTATION_TOKEN_KEY);
    let pending_login = read_key(admin, PENDING_LOGIN_KEY);
    RotationView {
        current_login,
        last_rotation: read_key(admin, ROTATED_AT_KEY),
        previous_login_retires_at: read_key(admin, RETIRE_AFTER_KEY),
        request_pending: Some(requested.is_some() && (requested != handled || pending_login.is_some())),
        pending_login,
        requested,
        note: None,
    }
}

fn record_line(record: &BackupRecord) -> String {
    let when =
        record.finished_at.as_ref().or(record.started_at.as_ref()).map(|t| format!(" at {}", t.0)).unwrap_or_default();
    let why = record.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default();
    format!("{:?}{when} (Job {}){why}", record.phase, record.job)
}

/// The tree people read.
pub fn tree(r: &Report) -> Node {
    let paused = if r.paused { ", PAUSED" } else { "" };
    let phase = r.phase.as_deref().unwrap_or("no status yet");
    let mut root = Node::new(format!(
        "ServiceDatabase {}/{} ({} {}, service {}): {phase}{paused}",
        r.namespace, r.name, r.engine, r.version, r.service
    ));
    let tls = if r.tls { ", TLS only (verify with ca.crt of the credentials Secret)" } else { "" };
    root = root.leaf(format!("endpoint: {}{tls}", r.endpoint.as_deref().unwrap_or("none yet")));
    let mut conditions = Node::new("conditions");
    for c in &r.conditions {
        conditions = conditions.leaf(format!("{} {} {}: {}", c.type_, c.status, c.reason, c.message));
    }
    if r.conditions.is_empty() {
        conditions = conditions.leaf("none yet: the operator has not reported");
    }
    root = root.child(conditions);

    let ch = &r.children;
    let mut children = Node::new("children");
    let mut sts = match &ch.stateful_set {
        Some(s) => Node::new(format!("StatefulSet {}: {}/{} ready", s.name, s.ready_replicas, s.replicas)),
        None => Node::new("StatefulSet: missing"),
    };
    for p in &ch.pods {
        let ready = if p.ready { "ready" } else { "not ready" };
        let why = p.reason.as_ref().map(|r| format!(", {r}")).unwrap_or_default();
        sts = sts.leaf(format!("Pod {}: {}, {ready}, {} restarts{why}", p.name, p.phase, p.restarts));
    }
    children = children.child(sts);
    let list = |kind: &str, names: &[String]| {
        if names.is_empty() { format!("{kind}: none") } else { format!("{kind}: {}", names.join(", ")) }
    };
    children = children.leaf(list("Services", &ch.services));
    for s in &ch.secrets {
        let presence = match s.presence {
            Presence::Present => "present",
            Presence::Missing => "MISSING",
            Presence::Unreadable => "not visible to you",
        };
        children = children.leaf(format!("Secret {}: {presence}", s.name));
    }
    children = children.leaf(list("NetworkPolicies", &ch.network_policies));
    if let Some(c) = &ch.cron_job {
        let suspended = if c.suspended { ", SUSPENDED" } else { "" };
        let last = c.last_schedule_time.as_deref().unwrap_or("never");
        children = children.leaf(format!("CronJob {}: \"{}\"{suspended}, last run {last}", c.name, c.schedule));
    }
    for c in &ch.persistent_volume_claims {
        let size = c.capacity.as_deref().map(|s| format!(" {s}")).unwrap_or_default();
        children = children.leaf(format!("PVC {}: {}{size}", c.name, c.phase));
    }
    root = root.child(children);

    let backups = match &r.backups {
        None => Node::new("backups: not configured (no spec.backup)"),
        Some(b) => Node::new(format!("backups (schedule \"{}\")", b.schedule))
            .leaf(format!("last: {}", b.last.as_ref().map_or("none yet".into(), record_line)))
            .leaf(format!("last successful: {}", b.last_successful.as_ref().map_or("none yet".into(), record_line))),
    };
    root = root.child(backups);
    if let Some(b) = &r.bootstrap {
        root = root.leaf(format!("bootstrap restore: {}", record_line(b)));
    }

    let rot = &r.rotation;
    let mut rotation = Node::new("rotation")
        .leaf(format!("current login: {}", rot.current_login.as_deref().unwrap_or("unknown")))
        .leaf(format!("last rotation: {}", rot.last_rotation.as_deref().unwrap_or("never")));
    if let Some(login) = &rot.pending_login {
        rotation = rotation.leaf(format!("pending login: {login} (set in the database, not handed out yet)"));
    }
    if let Some(at) = &rot.previous_login_retires_at {
        rotation = rotation.leaf(format!("previous login retires at {at}"));
    }
    let request = match (&rot.requested, rot.request_pending) {
        (None, _) => "none".to_string(),
        (Some(v), Some(true)) => format!("{v} (pending)"),
        (Some(v), Some(false)) => format!("{v} (handled)"),
        (Some(v), None) => format!("{v} (handled: unknown)"),
    };
    rotation = rotation.leaf(format!("request: {request}"));
    if let Some(note) = &rot.note {
        rotation = rotation.leaf(format!("note: {note}"));
    }
    root.child(rotation)
}

/// A Secret by name: Some when readable, and whether it exists.
async fn secret(api: &Api<Secret>, name: &str) -> (Option<Secret>, Presence) {
    match api.get(name).await {
        Ok(s) => (Some(s), Presence::Present),
        Err(kube::Error::Api(s)) if s.code == 404 => (None, Presence::Missing),
        Err(_) => (None, Presence::Unreadable),
    }
}

fn names<K: ResourceExt>(items: Vec<K>) -> Vec<String> {
    let mut names: Vec<String> = items.iter().map(|i| i.name_any()).collect();
    names.sort();
    names
}

fn pod_view(pod: &Pod) -> PodView {
    let status = pod.status.clone().unwrap_or_default();
    let containers = status.container_statuses.clone().unwrap_or_default();
    let reason = containers.iter().find_map(|c| {
        let state = c.state.as_ref()?;
        state.waiting.as_ref().and_then(|w| w.reason.clone()).or_else(|| {
            let last = c.last_state.as_ref()?.terminated.as_ref()?;
            (!c.ready).then(|| format!("last exit {} ({})", last.exit_code, last.reason.clone().unwrap_or_default()))
        })
    });
    PodView {
        name: pod.name_any(),
        phase: status.phase.clone().unwrap_or_else(|| "Unknown".into()),
        ready: status.conditions.unwrap_or_default().iter().any(|c| c.type_ == "Ready" && c.status == "True"),
        restarts: containers.iter().map(|c| c.restart_count).sum(),
        reason,
    }
}

/// Reads everything the report shows.
pub async fn gather(target: &Target, sdb: &ServiceDatabase) -> Result<Report, Failure> {
    let name = sdb.name_any();
    let ns = &target.namespace;
    let children = format!("app.kubernetes.io/instance={name},app.kubernetes.io/managed-by=servicedb");
    let by_label = ListParams::default().labels(&children);
    let instance = Target::children(sdb)?;
    let sts_name = instance.instance_name();
    let statefulset = target
        .api::<StatefulSet>()
        .get_opt(&sts_name)
        .await
        .map_err(Failure::kube("get", &format!("StatefulSet {ns}/{sts_name}")))?;
    let pods = target
        .api::<Pod>()
        .list(
            &ListParams::default()
                .labels(&format!("app.kubernetes.io/instance={name},app.kubernetes.io/component=database")),
        )
        .await
        .map_err(Failure::kube("list", &format!("pods of {name} in {ns}")))?;
    let services = target.api::<Service>().list(&by_label).await.map_err(Failure::kube("list", "Services"))?;
    let policies =
        target.api::<NetworkPolicy>().list(&by_label).await.map_err(Failure::kube("list", "NetworkPolicies"))?;
    let cronjobs = target.api::<CronJob>().list(&by_label).await.map_err(Failure::kube("list", "CronJobs"))?;
    let mut claims = target
        .api::<PersistentVolumeClaim>()
        .list(&by_label)
        .await
        .map_err(Failure::kube("list", "PersistentVolumeClaims"))?
        .items;
    let data_claim = instance.data_claim_name();
    if !claims.iter().any(|c| c.name_any() == data_claim)
        && let Some(claim) = target.api::<PersistentVolumeClaim>().get_opt(&data_claim).await.ok().flatten()
    {
        claims.insert(0, claim);
    }
    let secrets: Api<Secret> = target.api();
    let (credentials_name, admin_name) = (instance.credentials_secret_name(), instance.admin_secret_name());
    let (credentials, credentials_presence) = secret(&secrets, &credentials_name).await;
    let (admin, admin_presence) = secret(&secrets, &admin_name).await;
    let mut secret_views = vec![
        SecretView { name: credentials_name, presence: credentials_presence },
        SecretView { name: admin_name.clone(), presence: admin_presence },
    ];
    if sdb.spec.backup.is_some() {
        let name = instance.backup_login_secret_name();
        let (_, presence) = secret(&secrets, &name).await;
        secret_views.push(SecretView { name, presence });
    }

    let status = sdb.status.clone().unwrap_or_default();
    Ok(Report {
        name: name.clone(),
        namespace: ns.clone(),
        engine: sdb.spec.engine.as_str().into(),
        version: sdb.spec.version.clone(),
        service: sdb.spec.service.name.clone(),
        phase: status.phase.map(|p| format!("{p:?}")),
        paused: is_paused(sdb),
        tls: status.endpoint.as_ref().is_some_and(|e| e.tls),
        endpoint: status.endpoint.map(|e| format!("{}:{}", e.host, e.port)),
        conditions: status
            .conditions
            .iter()
            .map(|c| ConditionView {
                type_: c.type_.clone(),
                status: c.status.clone(),
                reason: c.reason.clone(),
                message: c.message.clone(),
            })
            .collect(),
        children: Children {
            stateful_set: statefulset.map(|s| StatefulSetView {
                name: s.name_any(),
                ready_replicas: s.status.as_ref().and_then(|st| st.ready_replicas).unwrap_or(0),
                replicas: s.spec.as_ref().and_then(|sp| sp.replicas).unwrap_or(1),
            }),
            pods: pods.items.iter().map(pod_view).collect(),
            services: names(services.items),
            secrets: secret_views,
            network_policies: names(policies.items),
            cron_job: cronjobs.items.first().map(|c| CronJobView {
                name: c.name_any(),
                schedule: c.spec.as_ref().map(|s| s.schedule.clone()).unwrap_or_default(),
                suspended: c.spec.as_ref().and_then(|s| s.suspend).unwrap_or(false),
                last_schedule_time: c
                    .status
                    .as_ref()
                    .and_then(|s| s.last_schedule_time.as_ref())
                    .map(|t| t.0.to_string()),
            }),
            persistent_volume_claims: claims
                .iter()
                .map(|c| {
                    let status = c.status.clone().unwrap_or_default();
                    ClaimView {
                        name: c.name_any(),
                        phase: status.phase.unwrap_or_else(|| "Unknown".into()),
                        capacity: status.capacity.and_then(|cap| cap.get("storage").map(|q| q.0.clone())),
                    }
                })
                .collect(),
        },
        backups: sdb.spec.backup.as_ref().map(|b| Backups {
            schedule: b.schedule.clone(),
            last: status.last_backup.clone(),
            last_successful: status.last_successful_backup.clone(),
        }),
        bootstrap: status.bootstrap.clone(),
        rotation: rotation_view(
            sdb.annotations().get(ROTATE_ANNOTATION).cloned(),
            credentials.as_ref(),
            admin.as_ref(),
            &admin_name,
        ),
    })
}

/// Whether the operator reports the instance paused (its Paused condition).
pub fn paused_condition(sdb: &ServiceDatabase) -> bool {
    sdb.status.as_ref().is_some_and(|s| s.conditions.iter().any(|c| c.type_ == PAUSED && c.status == "True"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::BackupPhase;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(pairs: &[(&str, &str)]) -> Secret {
        Secret {
            data: Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..Secret::default()
        }
    }

    #[test]
    fn rotation_state_from_what_may_be_read() {
        let creds = secret(&[("username", "orders_b")]);
        let admin = secret(&[(ROTATED_AT_KEY, "2026-11-30T01:00:00Z"), (ROTATION_TOKEN_KEY, "r1")]);
        let handled = rotation_view(Some("r1".into()), Some(&creds), Some(&admin), "orders-db-admin");
        assert_eq!(handled.current_login.as_deref(), Some("orders_b"));
        assert_eq!(handled.last_rotation.as_deref(), Some("2026-11-30T01:00:00Z"));
        assert_eq!(handled.request_pending, Some(false));
        let asked = rotation_view(Some("r2".into()), Some(&creds), Some(&admin), "orders-db-admin");
        assert_eq!(asked.request_pending, Some(true), "a new value is a new request");
        let switching = secret(&[(PENDING_LOGIN_KEY, "a"), (ROTATION_TOKEN_KEY, "r2")]);
        assert_eq!(rotation_view(Some("r2".into()), None, Some(&switching), "x").request_pending, Some(true));
        let blind = rotation_view(Some("r2".into()), Some(&creds), None, "orders-db-admin");
        assert_eq!(blind.request_pending, None);
        assert!(blind.note.unwrap().contains("Secret orders-db-admin"));
        assert_eq!(rotation_view(None, None, Some(&admin), "x").request_pending, Some(false));
    }

    fn report() -> Report {
        Report {
            name: "orders".into(),
            namespace: "shop".into(),
            engine: "postgres".into(),
            version: "15".into(),
            service: "orders".into(),
            phase: Some("Ready".into()),
            paused: false,
            endpoint: Some("orders-db.shop.svc:5432".into()),
            tls: true,
            conditions: vec![ConditionView {
                type_: "Ready".into(),
                status: "True".into(),
                reason: "Available".into(),
                message: "the database accepts connections from its service".into(),
            }],
            children: Children {
                stateful_set: Some(StatefulSetView { name: "orders-db".into(), ready_replicas: 1, replicas: 1 }),
                pods: vec![PodView {
                    name: "orders-db-0".into(),
                    phase: "Running".into(),
                    ready: true,
                    restarts: 0,
                    reason: None,
                }],
                services: vec!["orders-db".into(), "orders-db-headless".into()],
                secrets: vec![
                    SecretView { name: "orders-db-credentials".into(), presence: Presence::Present },
                    SecretView { name: "orders-db-admin".into(), presence: Presence::Unreadable },
                ],
                network_policies: vec!["orders-db".into()],
                cron_job: None,
                persistent_volume_claims: vec![ClaimView {
                    name: "data-orders-db-0".into(),
                    phase: "Bound".into(),
                    capacity: Some("1Gi".into()),
                }],
            },
            backups: Some(Backups {
                schedule: "0 3 * * *".into(),
                last: Some(BackupRecord {
                    job: "orders-db-backup-1".into(),
                    phase: BackupPhase::Failed,
                    started_at: None,
                    finished_at: None,
                    message: Some("connection refused".into()),
                }),
                last_successful: None,
            }),
            bootstrap: None,
            rotation: RotationView { current_login: Some("orders".into()), ..RotationView::default() },
        }
    }

    #[test]
    fn the_tree_shows_health_conditions_backups_and_rotation() {
        let text = tree(&report()).render();
        let expected = "\
ServiceDatabase shop/orders (postgres 15, service orders): Ready
├─ endpoint: orders-db.shop.svc:5432, TLS only (verify with ca.crt of the credentials Secret)
├─ conditions
│  └─ Ready True Available: the database accepts connections from its service
├─ children
│  ├─ StatefulSet orders-db: 1/1 ready
│  │  └─ Pod orders-db-0: Running, ready, 0 restarts
│  ├─ Services: orders-db, orders-db-headless
│  ├─ Secret orders-db-credentials: present
│  ├─ Secret orders-db-admin: not visible to you
│  ├─ NetworkPolicies: orders-db
│  └─ PVC data-orders-db-0: Bound 1Gi
├─ backups (schedule \"0 3 * * *\")
│  ├─ last: Failed (Job orders-db-backup-1): connection refused
│  └─ last successful: none yet
└─ rotation
   ├─ current login: orders
   ├─ last rotation: never
   └─ request: none
";
        assert_eq!(text, expected);
        let mut paused = report();
        paused.paused = true;
        assert!(
            tree(&paused)
                .render()
                .starts_with("ServiceDatabase shop/orders (postgres 15, service orders): Ready, PAUSED\n")
        );
    }

    #[test]
    fn json_uses_camel_case_names() {
        let json = serde_json::to_value(report()).unwrap();
        assert_eq!(json["children"]["statefulSet"]["readyReplicas"], 1);
        assert_eq!(json["conditions"][0]["type"], "Ready");
        assert_eq!(json["children"]["secrets"][1]["presence"], "unreadable");
        assert_eq!(json["backups"]["last"]["phase"], "Failed");
    }
}
