//! Backups in the API: `spec.backup` of a ServiceDatabase, its status
//! records, and the `ServiceDatabaseBackup` kind for on-demand backups.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Scheduled backups of the instance, streamed with the engine's own dump
/// tool through zstd to a volume or S3-compatible storage. The recovery
/// point objective is the schedule's interval.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// When to back up: a cron expression of five fields, in UTC, e.g.
    /// "0 3 * * *" for every day at 03:00.
    #[x_kube(validation = Rule::new("self.matches('^\\\\S+( +\\\\S+){4}$')").message("backup.schedule must be a cron expression of five fields, e.g. \"0 3 * * *\""))]
    #[schemars(length(min = 9, max = 100))]
    pub schedule: String,

    /// Which backups to keep; every backup when omitted. Old backups are
    /// pruned only after a new one has been verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<RetentionSpec>,

    /// Where the backups go.
    pub destination: BackupDestination,
}

impl BackupSpec {
    /// The longest gap between the schedule's next runs (a weekday schedule
    /// has a weekend in it); a day when the schedule does not parse.
    pub fn interval(&self, now: Timestamp) -> SignedDuration {
        let runs: Vec<i64> = self.runs_after(now).take(32).collect();
        runs.windows(2).map(|w| w[1] - w[0]).max().map_or(SignedDuration::from_hours(24), SignedDuration::from_secs)
    }

    /// The next run after `now`.
    pub fn next_run(&self, now: Timestamp) -> Option<Timestamp> {
        self.runs_after(now).next().and_then(|s| Timestamp::from_second(s).ok())
    }

    /// Unix seconds of the runs after `now` (none when the schedule does not parse).
    fn runs_after(&self, now: Timestamp) -> impl Iterator<Item = i64> {
        let cron = <croner::Cron as std::str::FromStr>::from_str(&self.schedule).ok();
        let start = chrono::DateTime::<chrono::Utc>::from_timestamp(now.as_second(), 0);
        cron.zip(start).into_iter().flat_map(|(cron, start)| cron.iter_after(start).map(|t| t.timestamp()))
    }
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.keepLast) || has(self.maxAgeDays)").message("backup.retention needs keepLast, maxAgeDays or both"))]
pub struct RetentionSpec {
    /// Keep the newest N backups.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 1000))]
    pub keep_last: Option<u32>,
    /// Delete backups older than this many days (never the newest one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 3650))]
    pub max_age_days: Option<u32>,
}

#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.volume) != has(self.s3)").message("backup.destination needs exactly one of volume or s3"))]
pub struct BackupDestination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeDestination>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Destination>,
}

/// A PersistentVolumeClaim holding the backups.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeDestination {
    /// An existing claim in this namespace. When omitted the operator
    /// creates `<name>-db-backups`, which is kept when the ServiceDatabase
    /// is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub claim_name: Option<String>,
    /// Size of the claim the operator creates. Default 10Gi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("isQuantity(self) && quantity(self).isGreaterThan(quantity('0'))").message("backup.destination.volume.size must be a positive quantity such as 20Gi"))]
    #[schemars(length(min = 1, max = 32))]
    pub size: Option<String>,
    /// StorageClass of the claim the operator creates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub storage_class_name: Option<String>,
}

/// An S3-compatible bucket.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!self.tls || !has(self.endpoint) || self.endpoint.startsWith('https://')").message("backup.destination.s3.endpoint must be https:// while tls is true"))]
pub struct S3Destination {
    /// URL of an S3-compatible service, e.g. "https://minio.storage:9000";
    /// AWS S3 when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^https?://[^/]+/?$')").message("backup.destination.s3.endpoint must be a URL such as https://minio.storage:9000 (no path)"))]
    #[schemars(length(min = 8, max = 253))]
    pub endpoint: Option<String>,
    #[schemars(length(min = 3, max = 63))]
    pub bucket: String,
    /// Key prefix of this instance's backups. Default `<namespace>/<name>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 512))]
    pub prefix: Option<String>,
    #[serde(default = "default_region")]
    #[schemars(length(min = 1, max = 64))]
    pub region: String,
    /// Secret in this namespace with the keys `AWS_ACCESS_KEY_ID` and
    /// `AWS_SECRET_ACCESS_KEY`.
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: String,
    /// Require TLS to the endpoint. Turn off only for a store on a trusted network.
    #[serde(default = "default_true")]
    pub tls: bool,
    /// The CA bundle (PEM) that signed the endpoint's certificate, for a
    /// store with a private CA: trusted beside the system's roots by the
    /// backup and restore pods, which mount it read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_bundle: Option<CaBundle>,
}

/// A key of a Secret in the ServiceDatabase's namespace holding PEM certificates.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CaBundle {
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// The key holding the bundle. Default `ca.crt`.
    #[serde(default = "default_ca_key")]
    #[schemars(length(min = 1, max = 253), pattern(r"^[-._a-zA-Z0-9]+$"))]
    pub key: String,
}

fn default_ca_key() -> String {
    "ca.crt".into()
}

fn default_region() -> String {
    "us-east-1".into()
}

fn default_true() -> bool {
    true
}

/// How a new instance gets its first data.
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Bootstrap {
    pub from_backup: FromBackup,
}

/// A backup to restore into the new instance before it turns Ready. SQL
/// engines load it into the running server (a Job); Redis gets it in its
/// data directory before it first starts (an init container).
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.backupName) != has(self.location)").message("bootstrap.fromBackup needs exactly one of backupName or location"))]
pub struct FromBackup {
    /// A succeeded ServiceDatabaseBackup in this namespace. Its
    /// ServiceDatabase (and that one's spec.backup) must still exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub backup_name: Option<String>,
    /// Where the backups of another instance are, e.g. after it was deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<BackupLocation>,
}

/// The backups of one instance: its name, the destination they went to, and
/// which backup (the newest when omitted).
#[derive(Serialize, Deserialize, KubeSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupLocation {
    /// The ServiceDatabase the backups were taken of (it may be gone): the
    /// S3 prefix defaults to `<namespace>/<name>`, the volume's claim to
    /// `<name>-db-backups`.
    #[schemars(length(min = 1, max = 40))]
    pub service_database: String,
    pub destination: BackupDestination,
    /// A backup id from its manifest; the newest complete backup when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub backup_id: Option<String>,
}

/// One backup run, as the operator observed it.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BackupRecord {
    /// The Job that ran it.
    pub job: String,
    pub phase: BackupPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackupPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
}

/// An on-demand backup of a ServiceDatabase, to the destination and with
/// the retention of its `spec.backup`.
// Printer columns repeat `type_` by design.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[kube(
    group = "servicedb.dev",
    version = "v1alpha1",
    kind = "ServiceDatabaseBackup",
    plural = "servicedatabasebackups",
    shortname = "sdbbackup",
    category = "servicedb",
    namespaced,
    cel,
    status = "ServiceDatabaseBackupStatus",
    derive = "PartialEq",
    doc = "A backup of one ServiceDatabase, taken now.",
    printcolumn(name = "Database", type_ = "string", json_path = ".spec.serviceDatabase"),
    printcolumn(name = "Phase", type_ = "string", json_path = ".status.phase"),
    printcolumn(name = "Size", type_ = "integer", json_path = ".status.sizeBytes"),
    printcolumn(name = "Started", type_ = "date", json_path = ".status.startedAt"),
    printcolumn(name = "Finished", type_ = "date", json_path = ".status.finishedAt"),
    printcolumn(name = "Age", type_ = "date", json_path = ".metadata.creationTimestamp")
)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDatabaseBackupSpec {
    /// The ServiceDatabase to back up, in this namespace. It must have
    /// `spec.backup`.
    #[x_kube(validation = Rule::new("self == oldSelf").message("serviceDatabase is immutable; create another ServiceDatabaseBackup"))]
    #[schemars(length(min = 1, max = 40))]
    pub service_database: String,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDatabaseBackupStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<BackupPhase>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Id of the backup under the destination (from its manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Where the data is, e.g. `s3://bucket/prefix/<id>/data.zst`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// Bytes stored (compressed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_bytes: Option<i64>,
    /// SHA-256 of the stored data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
