//! What every reconcile shares: the client, the Event recorder, settings and
//! per-object failure counts for backoff.

use crate::api::ServiceDatabase;
use crate::metrics::Metrics;
use kube::Client;
use kube::runtime::reflector::ObjectRef;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Settings {
    /// Namespace of the operator's pods, let into every database port.
    pub operator_namespace: String,
    /// The operator's ServiceAccount (in `operator_namespace`): it reads
    /// every credentials Secret by design, so the isolation audit leaves it out.
    pub service_account: String,
    /// How often an unchanged object is checked again for drift.
    pub resync: Duration,
    /// How many ServiceDatabases are reconciled at once (per watched scope).
    pub concurrent_reconciles: u16,
    /// A JSON map `<namespace>/<service>` -> `host:port` used instead of the
    /// cluster DNS name, for an operator outside the cluster.
    pub endpoint_overrides: Option<std::path::PathBuf>,
    /// Image with `servicedb` and the engines' dump tools, for backup Jobs.
    pub tools_image: String,
    /// Namespace of Prometheus, let into the exporters' metrics port.
    pub monitoring_namespace: String,
    /// Where database and exporter images come from: the official ones, or
    /// only those of the `--image-catalog` file.
    pub images: crate::engine::Images,
}

pub struct Context {
    pub client: Client,
    /// The children the operator owns, as its watches last saw them.
    pub caches: super::caches::Caches,
    /// Whether PodMonitors and PrometheusRules can be created.
    pub prometheus_api: super::prometheus_api::PrometheusApi,
    pub recorder: super::events::EventRecorder,
    pub settings: Settings,
    pub metrics: Arc<Metrics>,
    /// What the isolation audit judges from.
    pub isolation: Arc<super::isolation_view::IsolationView>,
    /// The CA of database TLS, once loaded (`authority::keep_loading`).
    authority: std::sync::OnceLock<Arc<crate::tls::Authority>>,
    failures: Mutex<HashMap<ObjectRef<ServiceDatabase>, u32>>,
}

impl Context {
    /// `instance` names this process in the Events it records.
    pub fn new(
        client: Client,
        caches: super::caches::Caches,
        settings: Settings,
        metrics: Arc<Metrics>,
        instance: String,
    ) -> Self {
        let recorder = super::events::EventRecorder::new(client.clone(), "servicedb", instance);
        Self {
            client,
            caches,
            recorder,
            settings,
            metrics,
            prometheus_api: Default::default(),
            isolation: Default::default(),
            authority: Default::default(),
            failures: Mutex::default(),
        }
    }

    /// The CA of database TLS, once loaded; until then, reconciles that
    /// need a certificate wait and the others go on.
    pub fn authority(&self) -> Option<&crate::tls::Authority> {
        self.authority.get().map(|a| &**a)
    }

    /// Sets the CA (once; later calls change nothing).
    pub fn set_authority(&self, authority: crate::tls::Authority) {
        let _ = self.authority.set(Arc::new(authority));
    }

    /// Counts one more failure of `object`; returns the count.
    pub fn record_failure(&self, object: ObjectRef<ServiceDatabase>) -> u32 {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let count = failures.entry(object).or_insert(0);
        *count = count.saturating_add(1);
        *count
    }

    pub fn forget_failures(&self, object: &ObjectRef<ServiceDatabase>) {
        let mut failures = self.failures.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        failures.remove(object);
    }
}
