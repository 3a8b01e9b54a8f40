//! The scenarios, in the order they run.

mod backups;
mod chaos;
mod chart;
mod deletion;
mod drift;
mod idle;
mod leader;
mod lifecycle;
mod monitoring;
pub mod netpol;
mod prometheus;
mod rotation;
mod scoped;
mod validation;

use crate::cluster::Outcome;
use crate::harness::Env;
use std::future::Future;
use std::pin::Pin;

pub type Scenario = for<'a> fn(&'a Env) -> Pin<Box<dyn Future<Output = Outcome> + 'a>>;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("create: children, restricted pod, Ready", |e| Box::pin(lifecycle::create(e))),
        ("credentials: only the owning ServiceAccount may read them", |e| Box::pin(lifecycle::credentials_access(e))),
        ("every engine: mysql, mariadb, redis admitted and Ready", |e| Box::pin(lifecycle::every_engine(e))),
        ("schema and CEL rejections reach kubectl", |e| Box::pin(validation::rejected_by_api_server(e))),
        ("semantically invalid spec: Ready=False, Event, no child", |e| Box::pin(validation::invalid_spec(e))),
        ("drift is repaired within 10s, password unchanged", |e| Box::pin(drift::repaired(e))),
        ("rotation on demand: Secret switches, new login works, old one disabled", |e| {
            Box::pin(rotation::on_demand(e))
        }),
        (
            "NetworkPolicy: only owner and operator reach the database, prometheus the metrics port (netpol-analyzer)",
            |e| Box::pin(netpol::only_owner(e)),
        ),
        ("backups: CronJob, on-demand Job, BackupHealthy transitions", |e| {
            Box::pin(backups::scheduled_and_on_demand(e))
        }),
        ("bootstrap from a backup: restore Job first, then Ready", |e| Box::pin(backups::bootstrap_from_backup(e))),
        ("delete with Snapshot: final backup Job completes before anything is deleted", |e| {
            Box::pin(backups::snapshot_deletion(e))
        }),
        ("NetworkPolicy with backups: backup pods reach the database and S3 only (netpol-analyzer)", |e| {
            Box::pin(netpol::backup_pods(e))
        }),
        ("delete with Retain keeps PVC and Secrets; re-create adopts them", |e| Box::pin(deletion::retain(e))),
        ("delete with Delete removes everything", |e| Box::pin(deletion::delete(e))),
        ("SIGKILL mid-reconcile: converges, no password changed, no duplicates", |e| Box::pin(chaos::killed(e))),
        ("20 idle ServiceDatabases: zero writes on resync (audit log)", |e| Box::pin(idle::zero_writes(e))),
        ("prometheus scrapes the operator's /metrics", |e| Box::pin(prometheus::scrapes_the_operator(e))),
        ("chart: lint, server dry-run in both RBAC modes, upgrade", |e| Box::pin(chart::lint_template_upgrade(e))),
        ("namespaced mode: served, and no Secret read outside", |e| Box::pin(scoped::only_watched_namespaces(e))),
        ("leader election: standby, SIGKILL failover, graceful handoff", |e| Box::pin(leader::failover(e))),
        ("Prometheus Operator API: nothing while absent, PodMonitor and PrometheusRule once installed", |e| {
            Box::pin(monitoring::prometheus_operator_objects(e))
        }),
    ]
}
