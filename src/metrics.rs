//! The operator's own Prometheus metrics. Labels are bounded: a result, an
//! error reason from a fixed list; never an object name or a message.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// One of the `metric_label()` values of the controller's errors.
    pub reason: &'static str,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    errors: Family<ErrorLabels, Counter>,
    duration: Histogram,
    leader: Gauge,
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
        Self { registry, reconciles, errors, duration, leader }
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

    pub fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
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
}
