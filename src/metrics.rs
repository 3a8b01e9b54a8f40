//! The operator's own Prometheus metrics. Labels are bounded: an error
//! reason from a fixed list, an engine, a condition status; per instance
//! only its namespace and name (identifiers, one series each). Never a
//! message. Per-instance values are read from the controllers' caches at
//! each scrape, so a deleted ServiceDatabase leaves no series behind.

use crate::api::conditions;
use crate::api::{BackupPhase, ServiceDatabase};
use kube::ResourceExt;
use kube::runtime::reflector::Store;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// One of the `metric_label()` values of the controller's errors.
    pub reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InstanceLabels {
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CountLabels {
    pub engine: &'static str,
    /// The Ready condition: "True", "False" or "Unknown".
    pub ready: &'static str,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    errors: Family<ErrorLabels, Counter>,
    duration: Histogram,
    leader: Gauge,
    databases: Family<CountLabels, Gauge>,
    credentials_ready: Family<InstanceLabels, Gauge>,
    isolated: Family<InstanceLabels, Gauge>,
    backup_last_success: Family<InstanceLabels, Gauge>,
    backup_last_run_failed: Family<InstanceLabels, Gauge>,
    undecodable: Counter,
    stores: Mutex<Vec<Store<ServiceDatabase>>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("servicedb");
        let reconciles = Counter::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let duration = Histogram::new([0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0]);
        let leader = Gauge::default();
        registry.register("reconciles", "ServiceDatabase reconciles run", reconciles.clone());
        registry.register("reconcile_errors", "Failed reconciles by reason", errors.clone());
        registry.register("reconcile_duration_seconds", "Time one reconcile took", duration.clone());
        registry.register("leader", "1 while this process holds the leader lease", leader.clone());
        let databases = Family::default();
        let credentials_ready = Family::default();
        let isolated = Family::default();
        let backup_last_success = Family::default();
        let backup_last_run_failed = Family::default();
        registry.register("databases", "ServiceDatabases by engine and Ready status", databases.clone());
        registry.register(
            "credentials_ready",
            "1 when the service's logins are in place (CredentialsReady=True)",
            credentials_ready.clone(),
        );
        registry.register(
            "isolated",
            "1 when only the owning service reaches the database and reads its credentials (Isolated=True), 0 when the audit found more, absent before the first audit",
            isolated.clone(),
        );
        registry.register(
            "backup_last_success_timestamp_seconds",
            "When the newest successful backup finished",
            backup_last_success.clone(),
        );
        registry.register(
            "backup_last_run_failed",
            "1 when the newest backup run failed",
            backup_last_run_failed.clone(),
        );
        let undecodable = Counter::default();
        registry.register(
            "undecodable_objects",
            "ServiceDatabases the watch delivered that do not decode (skipped; a Warning Event names each)",
            undecodable.clone(),
        );
        Self {
            undecodable,
            registry,
            reconciles,
            errors,
            duration,
            leader,
            databases,
            credentials_ready,
            isolated,
            backup_last_success,
            backup_last_run_failed,
            stores: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn reconciled(&self, took: Duration, error: Option<&'static str>) {
        self.reconciles.inc();
        self.duration.observe(took.as_secs_f64());
        if let Some(reason) = error {
            self.errors.get_or_create(&ErrorLabels { reason }).inc();
        }
    }

    pub fn administration_failed(&self, reason: &'static str) {
        self.errors.get_or_create(&ErrorLabels { reason }).inc();
    }

    pub fn undecodable(&self) {
        self.undecodable.inc();
    }

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// Report the ServiceDatabases of this controller cache at every scrape.
    pub fn watch(&self, store: Store<ServiceDatabase>) {
        if let Ok(mut stores) = self.stores.lock() {
            stores.push(store);
        }
    }

    /// Sets the per-instance gauges from the cached objects' status.
    fn refresh_instances(&self) {
        self.databases.clear();
        self.credentials_ready.clear();
        self.isolated.clear();
        self.backup_last_success.clear();
        self.backup_last_run_failed.clear();
        let stores = match self.stores.lock() {
            Ok(stores) => stores.clone(),
            Err(_) => return,
        };
        for sdb in stores.iter().flat_map(|s| s.state()) {
            self.observe(&sdb);
        }
    }

    fn observe(&self, sdb: &ServiceDatabase) {
        let status = sdb.status.clone().unwrap_or_default();
        let condition = |t: &str| conditions::find(&status.conditions, t).map(|c| c.status.as_str());
        let ready = match condition(conditions::READY) {
            Some("True") => "True",
            Some("False") => "False",
            _ => "Unknown",
        };
        self.databases.get_or_create(&CountLabels { engine: sdb.spec.engine.as_str(), ready }).inc();
        let labels = InstanceLabels { namespace: sdb.namespace().unwrap_or_default(), name: sdb.name_any() };
        let credentials = i64::from(condition(conditions::CREDENTIALS_READY) == Some("True"));
        self.credentials_ready.get_or_create(&labels).set(credentials);
        let isolated = match condition(conditions::ISOLATED) {
            Some("True") => Some(1),
            Some("False") => Some(0),
            _ => None,
        };
        if let Some(isolated) = isolated {
            self.isolated.get_or_create(&labels).set(isolated);
        }
        if sdb.spec.backup.is_some() {
            let failed = status.last_backup.as_ref().is_some_and(|r| r.phase == BackupPhase::Failed);
            self.backup_last_run_failed.get_or_create(&labels).set(i64::from(failed));
            let finished = status.last_successful_backup.and_then(|r| r.finished_at.map(|t| t.0.as_second()));
            // Never succeeded: 0, so that "time() - it" is large and the staleness alert fires.
            self.backup_last_success.get_or_create(&labels).set(finished.unwrap_or(0));
        }
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        self.refresh_instances();
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
impl Metrics {
    fn encode_without_refresh(&self) -> String {
        let mut out = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposes_counts_errors_durations_and_leadership() {
        let m = Metrics::default();
        m.reconciled(Duration::from_millis(20), None);
        m.reconciled(Duration::from_millis(40), Some("conflict"));
        m.set_leader(true);
        let text = m.encode();
        assert!(text.contains("servicedb_reconciles_total 2"), "{text}");
        assert!(text.contains("servicedb_reconcile_errors_total{reason=\"conflict\"} 1"), "{text}");
        assert!(text.contains("servicedb_reconcile_duration_seconds_count 2"), "{text}");
        assert!(text.contains("servicedb_leader 1"), "{text}");
    }

    #[test]
    fn per_instance_series_come_from_status_and_go_with_the_object() {
        let sdb: ServiceDatabase = yaml_serde::from_str(
            "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {name: orders, namespace: shop}\nspec:\n  engine: redis\n  version: '7.4'\n  service: {name: orders}\n  storage: {size: 1Gi}\n  backup: {schedule: '0 3 * * *', destination: {volume: {}}}\nstatus:\n  conditions:\n  - {type: Ready, status: 'True', reason: Available, message: '', lastTransitionTime: '2026-11-29T00:00:00Z'}\n  - {type: CredentialsReady, status: 'False', reason: AdministrationFailed, message: '', lastTransitionTime: '2026-11-29T00:00:00Z'}\n  - {type: Isolated, status: 'False', reason: SecretReadableByOthers, message: '', lastTransitionTime: '2026-11-29T00:00:00Z'}\n  lastBackup: {job: b-2, phase: Failed}\n  lastSuccessfulBackup: {job: b-1, phase: Succeeded, finishedAt: '2026-11-29T03:00:09Z'}\n",
        )
        .unwrap();
        let m = Metrics::default();
        m.observe(&sdb);
        let text = m.encode_without_refresh();
        assert!(text.contains("servicedb_databases{engine=\"redis\",ready=\"True\"} 1"), "{text}");
        assert!(text.contains("servicedb_credentials_ready{namespace=\"shop\",name=\"orders\"} 0"), "{text}");
        assert!(text.contains("servicedb_isolated{namespace=\"shop\",name=\"orders\"} 0"), "{text}");
        assert!(text.contains("servicedb_backup_last_run_failed{namespace=\"shop\",name=\"orders\"} 1"), "{text}");
        assert!(
            text.contains(
                "servicedb_backup_last_success_timestamp_seconds{namespace=\"shop\",name=\"orders\"} 1795921209"
            ),
            "{text}"
        );
        // No cache holds it any more: the next scrape has no series for it.
        assert!(!m.encode().contains("name=\"orders\""));
    }
}
