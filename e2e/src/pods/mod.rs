//! The suite on the real node: database, client, backup and Prometheus pods
//! that really run (e2e/node.sh), the operator installed by helm in pods
//! under the chart's ServiceAccount, NetworkPolicies proven with real
//! connections and compared with the analyzer's verdicts.

mod backup_health;
mod backups;
mod chaos;
mod chart;
mod client;
mod deletion;
mod drift;
mod elsewhere;
mod env;
mod exposure;
mod failing;
mod idle;
mod isolation;
mod lifecycle;
mod metrics;
mod operator;
mod plugin;
mod prometheus_operator;
mod rotation;
mod validation;

pub use env::PodEnv;

use crate::cluster::Outcome;
use std::future::Future;
use std::pin::Pin;

pub type Scenario = for<'a> fn(&'a PodEnv) -> Pin<Box<dyn Future<Output = Outcome> + 'a>>;

pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("pods: the operator runs from the chart, two replicas, one leader, probes green", |e| {
            Box::pin(operator::installed_by_helm(e))
        }),
        ("pods: postgres runs; the owner's pod logs in, others are refused (real and analyzer)", |e| {
            Box::pin(isolation::engine(e, isolation::POSTGRES))
        }),
        ("pods: mariadb runs; the owner's pod logs in, others are refused (real and analyzer)", |e| {
            Box::pin(isolation::engine(e, isolation::MARIADB))
        }),
        ("pods: redis runs; the owner's pod logs in, others are refused (real and analyzer)", |e| {
            Box::pin(isolation::engine(e, isolation::REDIS))
        }),
        ("pods: rotation seen by client pods: old login through the grace period, new login on the same data", |e| {
            Box::pin(rotation::observed_by_client_pods(e))
        }),
        ("pods: an on-demand backup Job writes to S3; a new instance bootstraps from it with every row", |e| {
            Box::pin(backups::to_s3_and_back(e))
        }),
        ("pods: a version missing from the image catalogue is InvalidSpec naming the catalogue", |e| {
            Box::pin(operator::version_missing_from_catalogue(e))
        }),
        ("pods: a crash-looping database pod: the status says why, from its last state", |e| {
            Box::pin(failing::crash_loop_reaches_the_status(e))
        }),
        ("pods: the leader's pod is killed; the standby takes over and reconciles", |e| {
            Box::pin(operator::leader_pod_killed(e))
        }),
        ("pods: plugin status: a Ready instance as a tree, JSON and YAML; a missing one exits 3", |e| {
            Box::pin(plugin::status(e))
        }),
        (
            "pods: plugin backup follows to Succeeded; backups lists it; restore --into NEW reaches Ready with every row",
            |e| Box::pin(plugin::backup_and_restore(e)),
        ),
        (
            "pods: plugin connect runs a query as the service's login; without the Secret or the port-forward: exit 4 naming each",
            |e| Box::pin(plugin::connect(e)),
        ),
        ("pods: plugin connect to mariadb and redis as the service's login; the password is in no argv", |e| {
            Box::pin(plugin::connect_mariadb_and_redis(e))
        }),
        ("pods: plugin backups of a volume store: the listing Job mounts the claim and lists the backup", |e| {
            Box::pin(plugin::volume_backups(e))
        }),
        ("pods: plugin first mistakes: a missing name exits 3 for every verb; no spec.backup says what to add", |e| {
            Box::pin(plugin::first_mistakes(e))
        }),
        ("pods: plugin rotate waits for the new login; pause leaves drift alone, resume repairs it", |e| {
            Box::pin(plugin::rotate_and_pause(e))
        }),
        ("pods: helm upgrade to cluster mode serves a namespace the chart was not given", |e| {
            Box::pin(operator::upgraded_to_cluster_mode(e))
        }),
        // From here on each scenario makes namespaces of its own, served in cluster mode.
        ("pods: create: every child owned and labelled, the pod runs restricted, Ready", |e| {
            Box::pin(lifecycle::create(e))
        }),
        ("pods: credentials: only the owning ServiceAccount may read them", |e| {
            Box::pin(lifecycle::credentials_access(e))
        }),
        (
            "pods: a service in another namespace: delivered only after it opts in; its pod gets in, lookalikes elsewhere do not",
            |e| Box::pin(elsewhere::service_in_another_namespace(e)),
        ),
        (
            "pods: isolation audit: a second reader, a wider policy and a foreign pod each turn Isolated False naming it; removed or acknowledged, True",
            |e| Box::pin(exposure::audit(e)),
        ),
        ("pods: schema and CEL rejections reach kubectl", |e| Box::pin(validation::rejected_by_api_server(e))),
        ("pods: semantically invalid spec: Ready=False, Event, no child; a major version change refused", |e| {
            Box::pin(validation::invalid_spec(e))
        }),
        ("pods: drift is repaired within 10s, password unchanged", |e| Box::pin(drift::repaired(e))),
        ("pods: backups to a volume: CronJob, real on-demand Jobs, BackupHealthy transitions", |e| {
            Box::pin(backup_health::scheduled_and_on_demand(e))
        }),
        ("pods: delete with Snapshot: the final backup Job completes before anything is deleted", |e| {
            Box::pin(backup_health::snapshot_deletion(e))
        }),
        ("pods: delete with Retain keeps PVC and Secrets; re-create adopts them", |e| Box::pin(deletion::retain(e))),
        ("pods: delete with Delete removes everything", |e| Box::pin(deletion::delete(e))),
        ("pods: the leader SIGKILLed mid-creation, twice: converges, no password changed, no duplicates", |e| {
            Box::pin(chaos::killed(e))
        }),
        ("pods: graceful handoff releases the lease; no object written by both replicas", |e| {
            Box::pin(operator::graceful_handoff(e))
        }),
        ("pods: 20 idle Redis instances: zero writes on resync (audit log)", |e| Box::pin(idle::zero_writes(e))),
        ("pods: Prometheus in the monitoring namespace scrapes both operator replicas", |e| {
            Box::pin(metrics::scrapes_the_operator(e))
        }),
        ("pods: chart: lint, server dry-run in both RBAC modes, install and upgrade", |e| {
            Box::pin(chart::lint_template_upgrade(e))
        }),
        ("pods: Prometheus Operator API: nothing while absent, PodMonitor and PrometheusRule once installed", |e| {
            Box::pin(prometheus_operator::prometheus_operator_objects(e))
        }),
    ]
}
