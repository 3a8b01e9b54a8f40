//! The `ServiceDatabase` kind: one private database for one service.

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Names a ServiceDatabase may not take: they collide with the engines' own
/// databases and logins. Checked by the CRD (CEL) and again in code.
pub const RESERVED_NAMES: &[&str] = &[
    "postgres",
    "template0",
    "template1",
    "admin",
    "root",
    "mysql",
    "sys",
    "information_schema",
    "performance_schema",
    "default",
];

/// Longest ServiceDatabase name: `<name>-db-headless` and the StatefulSet's
/// pod label `controller-revision-hash` (name + 11 chars) must stay DNS labels.
pub const MAX_NAME_LENGTH: usize = 40;

/// Desired state of a service's private database.
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "servicedb.dev",
    version = "v1alpha1",
    kind = "ServiceDatabase",
    plural = "servicedatabases",
    shortname = "sdb",
    category = "servicedb",
    namespaced,
    cel,
    status = "ServiceDatabaseStatus",
    derive = "PartialEq",
    doc = "A private database owned by exactly one service: an isolated instance, credentials only that service can read, and NetworkPolicies that keep every other workload out.",
    printcolumn(name = "Engine", type_ = "string", json_path = ".spec.engine"),
    printcolumn(name = "Version", type_ = "string", json_path = ".spec.version"),
    printcolumn(name = "Service", type_ = "string", json_path = ".spec.service.name"),
    printcolumn(name = "Ready", type_ = "string", json_path = ".status.conditions[?(@.type==\"Ready\")].status"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Isolated", type_ = "string", json_path = ".status.conditions[?(@.type==\"Isolated\")].status"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp"),
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && size(self.metadata.name) <= 40")
        .message("metadata.name must be at most 40 characters of lower-case letters, digits and '-', starting with a letter and ending with a letter or digit")
        .field_path(".metadata.name"),
    validation = Rule::new("has(self.spec.bootstrap) == has(oldSelf.spec.bootstrap)")
        .message("spec.bootstrap can be set only when the ServiceDatabase is created")
        .field_path(".spec.bootstrap"),
    validation = Rule::new("!has(self.spec.deletionPolicy) || self.spec.deletionPolicy != 'Snapshot' || has(self.spec.backup)")
        .message("deletionPolicy Snapshot needs spec.backup: the final backup goes to its destination")
        .field_path(".spec.deletionPolicy"),
    validation = Rule::new("!(self.metadata.name in ['postgres', 'template0', 'template1', 'admin', 'root', 'mysql', 'sys', 'information_schema', 'performance_schema', 'default'])")
        .message("metadata.name is reserved by the database engines (postgres, template0, template1, admin, root, mysql, sys, information_schema, performance_schema, default); choose another name")
        .field_path(".metadata.name")
        .reason(kube::core::Reason::FieldValueForbidden),
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDatabaseSpec {
    /// Database engine. Immutable: to change engines, create a new ServiceDatabase.
    #[x_kube(validation = Rule::new("self == oldSelf").message("engine is immutable; create a new ServiceDatabase to change engines"))]
    pub engine: Engine,

    /// Version of the engine: PostgreSQL 15-18, MySQL 8.0/8.4, MariaDB
    /// 10.11/11.4/11.8, Redis 7.2/7.4/8.0. Must be one the operator supports
    /// for the engine (reported in status when it is not).
    /// Once the instance exists it keeps its version: a major upgrade needs a
    /// dump and restore into a new instance.
    #[x_kube(validation = Rule::new("self.matches('^[0-9]+(\\\\.[0-9]+)?$')").message("version must be a number such as \"16\""))]
    #[schemars(length(min = 1, max = 8))]
    pub version: String,

    /// The service that owns this database and is the only one let in.
    pub service: OwningService,

    /// Persistent storage of the instance.
    pub storage: Storage,

    /// Compute resources of the database container. Defaults to a small
    /// request (100m CPU, 256Mi memory) and a 512Mi memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Credential rotation. Without it, a rotation still happens on demand:
    /// set the annotation `servicedb.dev/rotate` to a new value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials: Option<CredentialsSpec>,

    /// Scheduled backups; see `ServiceDatabaseBackup` for one taken now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<super::BackupSpec>,

    /// Metrics: an exporter beside the database, reachable only from the
    /// monitoring namespace. On when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub monitoring: Option<MonitoringSpec>,

    /// Start from a backup instead of an empty database. Immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self == oldSelf").message("bootstrap is immutable: it applies only when the instance is created"))]
    pub bootstrap: Option<super::Bootstrap>,

    /// Known exceptions to the isolation audit (the `Isolated` condition).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<IsolationSpec>,

    /// TLS to the database, on for a new instance when omitted: a server
    /// certificate from the operator's CA, renewed before it expires; every
    /// TCP login over TLS; the credentials Secret gains `ca.crt` and URIs
    /// that verify the server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSpec>,

    /// What happens to the data when this object is deleted: `Retain` (the
    /// default) keeps the volume and both Secrets, so re-creating the object
    /// with the same name gets the data back; `Delete` removes everything;
    /// `Snapshot` takes a final backup first, then removes everything.
    #[serde(default)]
    pub deletion_policy: DeletionPolicy,
}

impl ServiceDatabaseSpec {
    pub fn monitoring_enabled(&self) -> bool {
        self.monitoring.as_ref().is_none_or(|m| m.enabled)
    }
}

/// Metrics of the instance.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MonitoringSpec {
    /// Run the engine's Prometheus exporter beside the database, with the
    /// least-privilege monitoring login. Default true.
    #[serde(default = "monitoring_default")]
    pub enabled: bool,
}

fn monitoring_default() -> bool {
    true
}

/// TLS to the database.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct TlsSpec {
    /// Serve TLS only. When omitted: on for a new instance, and unchanged
    /// for one that runs (an instance created before servicedb had TLS
    /// stays without it until this is set to true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Turning TLS off on a running instance puts its passwords and data
    /// on the network in clear: refused unless this is true (a Warning
    /// Event records it).
    #[serde(default)]
    pub allow_disable: bool,
}

/// The isolation audit's known exceptions.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct IsolationSpec {
    /// Access that is known and accepted (a break-glass group, a migration
    /// Job): the `Isolated` condition stays True and notes it.
    #[serde(default)]
    #[schemars(length(max = 32))]
    pub exceptions: Vec<IsolationException>,
}

/// One acknowledged finding of the isolation audit.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IsolationException {
    /// What is acknowledged: a subject that may read the credentials
    /// (`User`, `Group`, `ServiceAccount`), a `NetworkPolicy` wider than the
    /// operator's, or a `Pod` that reads the credentials.
    pub kind: ExceptionKind,
    /// Its name. For a Pod, a name ending in `*` matches every pod whose
    /// name starts with the rest (pods of a Job or Deployment).
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// For a ServiceAccount or a Pod: its namespace, the ServiceDatabase's
    /// own when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
    /// Why it is accepted; shown in the condition.
    #[schemars(length(min = 1, max = 256))]
    pub reason: String,
}

/// Kinds of acknowledged access.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExceptionKind {
    User,
    Group,
    ServiceAccount,
    NetworkPolicy,
    Pod,
}

/// Supported database engines.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Engine {
    Postgres,
    Mysql,
    Mariadb,
    Redis,
}

impl Engine {
    pub fn as_str(self) -> &'static str {
        match self {
            Engine::Postgres => "postgres",
            Engine::Mysql => "mysql",
            Engine::Mariadb => "mariadb",
            Engine::Redis => "redis",
        }
    }

    pub const ALL: [Engine; 4] = [Engine::Postgres, Engine::Mysql, Engine::Mariadb, Engine::Redis];
}

impl std::str::FromStr for Engine {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Engine::ALL
            .into_iter()
            .find(|e| e.as_str() == s)
            .ok_or_else(|| format!("unknown engine {s:?}: expected postgres, mysql, mariadb or redis"))
    }
}

/// Annotation of a Namespace that accepts credentials delivered from other
/// namespaces: a comma-separated list of the namespaces of the
/// ServiceDatabases allowed to deliver there (labels cannot hold lists).
pub const ACCEPT_CREDENTIALS_FROM_ANNOTATION: &str = "servicedb.dev/accept-credentials-from";

/// The owning service: its pods are the only clients let in, and its
/// ServiceAccount the only one that may read the credentials.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.__namespace__) || has(self.serviceAccountName)").message("service.namespace needs service.serviceAccountName: the credentials delivered to another namespace are readable by exactly that ServiceAccount there").field_path(".serviceAccountName"))]
pub struct OwningService {
    /// Name of the service, e.g. "orders".
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self) <= 63").message("service.name must be a DNS label: at most 63 lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,

    /// Labels of the service's pods. Defaults to
    /// `app.kubernetes.io/name: <service.name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("size(self) > 0").message("service.selector must have at least one label; omit it to use app.kubernetes.io/name: <service.name>"))]
    #[schemars(extend("maxProperties" = 32))]
    pub selector: Option<BTreeMap<String, String>>,

    /// ServiceAccount of the service's pods. When set, only this account is
    /// granted `get` on the credentials Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$') && size(self) <= 253").message("service.serviceAccountName must be a valid ServiceAccount name"))]
    #[schemars(length(min = 1, max = 253))]
    pub service_account_name: Option<String>,

    /// Namespace of the service's pods and ServiceAccount; the
    /// ServiceDatabase's own when omitted. Another namespace must opt in
    /// with the annotation `servicedb.dev/accept-credentials-from` listing
    /// this ServiceDatabase's namespace; the credentials Secret is then
    /// delivered there as `<name>-db-credentials.<this namespace>`, and
    /// only that namespace's service pods are let in. May change: the
    /// copy in the previous namespace is removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$') && size(self) <= 63").message("service.namespace must be a namespace name: at most 63 lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub namespace: Option<String>,
}

impl OwningService {
    /// The label selector of the owning service's pods.
    pub fn pod_selector(&self) -> BTreeMap<String, String> {
        self.selector
            .clone()
            .unwrap_or_else(|| BTreeMap::from([("app.kubernetes.io/name".to_string(), self.name.clone())]))
    }
}

/// Persistent storage of the instance.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!isQuantity(self.size) || !isQuantity(oldSelf.size) || quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0").message("storage.size can grow but never shrink"))]
#[x_kube(validation = Rule::new("has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)").message("storage.storageClassName is immutable"))]
pub struct Storage {
    /// Size of the data volume, e.g. "10Gi". May grow, never shrink.
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("storage.size must be a positive quantity such as 10Gi or 500Mi"))]
    #[schemars(length(min = 1, max = 32))]
    pub size: String,

    /// StorageClass of the data volume; the cluster's default when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,
}

/// The service's credentials.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialsSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotation: Option<RotationSpec>,
}

/// Rotation with two logins: the service's Secret switches to a fresh login
/// in one update, and the previous login keeps working for the grace period.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RotationSpec {
    /// Rotate every this many hours (from the last rotation, or creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 87600))]
    pub interval_hours: Option<u32>,
    /// How long the previous login keeps working after a switch, so that
    /// pods still holding it can pick up the new Secret. Default 300.
    #[serde(default = "default_grace_seconds")]
    #[schemars(range(max = 604800))]
    pub grace_period_seconds: u32,
    /// After a switch, restart the Deployments and StatefulSets in this
    /// namespace whose pods read the credentials Secret (a pod template
    /// annotation, like `kubectl rollout restart`).
    #[serde(default)]
    pub restart_workloads: bool,
}

fn default_grace_seconds() -> u32 {
    300
}

/// What happens to the data when the ServiceDatabase is deleted.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DeletionPolicy {
    /// Keep the volume and the Secrets (they lose their owner).
    #[default]
    Retain,
    /// Delete the instance, its volume and its Secrets.
    Delete,
    /// Take a final backup (needs `spec.backup`), then delete as `Delete`.
    /// Nothing is deleted until the final backup succeeded.
    Snapshot,
}

/// Observed state, computed only from what was applied and observed.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDatabaseStatus {
    /// Ready, Progressing and Degraded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,

    /// The spec generation this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,

    /// A one-word summary for humans: Pending, Provisioning, Ready, Invalid,
    /// Degraded or Deleting. Automation should read the conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,

    /// Where clients connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,

    /// Name of the Secret with the service's connection details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credentials_secret: Option<String>,

    /// The newest backup run, scheduled or on demand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_backup: Option<super::BackupRecord>,

    /// The newest backup run that succeeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_successful_backup: Option<super::BackupRecord>,

    /// The restore of `spec.bootstrap.fromBackup`, once started. Ready waits
    /// for it to succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bootstrap: Option<super::BackupRecord>,
}

/// A one-word summary of the status, for humans.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Provisioning,
    Ready,
    Invalid,
    Degraded,
    Deleting,
}

/// Where clients connect.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub host: String,
    pub port: i32,
    /// The server takes TLS logins only: verify it with `ca.crt` of the
    /// credentials Secret.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls: bool,
}
