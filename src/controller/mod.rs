//! The controller: wiring of watches, the reconcile pipeline and its parts.

mod administer;
mod apply;
mod backups;
mod bootstrap;
mod children;
mod context;
mod credentials;
mod deletion;
mod error;
mod instance_pod;
mod on_demand;
mod outcome;
pub mod pause;
mod prometheus_api;
mod reconcile;
mod restart;
pub mod rotation;
mod status;
mod validate;

pub use apply::FIELD_MANAGER;
pub use context::{Context, Settings};
pub use deletion::FINALIZER;
pub use error::Error;
/// For tests that drive one reconcile against a fake API server.
pub use reconcile::reconcile;

use crate::api::{ServiceDatabase, ServiceDatabaseBackup};
use crate::builders::MANAGED_BY;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use std::sync::Arc;
use std::time::Duration;

/// Namespaces to watch: every namespace, or exactly these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Namespaces(Vec<String>),
}

fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// The ServiceDatabase a backup or restore Job works for. Scheduled runs
/// belong to the CronJob, on-demand ones to their ServiceDatabaseBackup, the
/// final backup to nobody: all name the instance in a label.
fn instance_of_tool_job(job: &Job) -> Option<ObjectRef<ServiceDatabase>> {
    let labels = job.labels();
    let tool = labels.get("app.kubernetes.io/component").is_some_and(|c| c == "backup" || c == "restore");
    let (instance, namespace) = (labels.get("app.kubernetes.io/instance")?, job.namespace()?);
    tool.then(|| ObjectRef::new(instance).within(&namespace))
}

/// Resolves when `shutdown` turns true.
async fn stopped(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// The controllers of one namespace (or all), stopping when `shutdown`
/// resolves; in-flight reconciles finish first.
async fn run_one(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    synced: tokio::sync::mpsc::Sender<()>,
    prometheus_api_appeared: tokio::sync::watch::Receiver<u64>,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    // Children are watched through their label only: no cache of every Secret.
    let children = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let controller = Controller::new(api::<ServiceDatabase>(&client, ns), watcher::Config::default());
    let store = controller.store();
    ctx.metrics.watch(store.clone());
    tokio::spawn(async move {
        // The store's readiness signal keeps one waker only, and the
        // controller polls it too: look again every second instead of
        // waiting to be woken.
        loop {
            match tokio::time::timeout(Duration::from_secs(1), store.wait_until_ready()).await {
                Ok(Ok(())) => {
                    let _ = synced.send(()).await;
                    return;
                }
                Ok(Err(_)) => return,
                Err(_) => {}
            }
        }
    });
    let backups = Controller::new(api::<ServiceDatabaseBackup>(&client, ns), watcher::Config::default())
        .owns(api::<Job>(&client, ns), children.clone())
        .graceful_shutdown_on(stopped(shutdown.clone()))
        .run(on_demand::reconcile, on_demand::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result
                && !matches!(e, kube::runtime::controller::Error::ReconcilerFailed(_, _))
            {
                tracing::warn!(error = %e, "backup controller");
            }
        });
    let databases = controller
        .owns(api::<StatefulSet>(&client, ns), children.clone())
        .owns(api::<Service>(&client, ns), children.clone())
        .owns(api::<Secret>(&client, ns), children.clone())
        .owns(api::<ConfigMap>(&client, ns), children.clone())
        .owns(api::<NetworkPolicy>(&client, ns), children.clone())
        .owns(api::<Role>(&client, ns), children.clone())
        .owns(api::<RoleBinding>(&client, ns), children.clone())
        .owns(api::<CronJob>(&client, ns), children.clone())
        .watches(api::<Job>(&client, ns), children, |job: Job| instance_of_tool_job(&job))
        .reconcile_all_on(prometheus_api::changes(prometheus_api_appeared))
        .graceful_shutdown_on(stopped(shutdown))
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                // The reconcile error itself was logged by the error policy.
                Err(kube::runtime::controller::Error::ReconcilerFailed(_, _)) => {}
                // A Job outliving its ServiceDatabase (the final backup's) still reports.
                Err(kube::runtime::controller::Error::ObjectNotFound(object)) => {
                    tracing::debug!(%object, "change of a child whose ServiceDatabase is gone")
                }
                Err(e) => tracing::warn!(error = %e, "controller"),
            }
        });
    futures::future::join(databases, backups).await;
}

/// Runs the controllers of `scope` until `shutdown` turns true. `on_synced`
/// is called once every controller's cache holds its first full list.
pub async fn run(
    ctx: Arc<Context>,
    scope: Scope,
    shutdown: tokio::sync::watch::Receiver<bool>,
    on_synced: impl FnOnce() + Send + 'static,
) {
    let namespaces: Vec<Option<String>> = match scope {
        Scope::Cluster => vec![None],
        Scope::Namespaces(list) => list.into_iter().map(Some).collect(),
    };
    let (synced_tx, mut synced_rx) = tokio::sync::mpsc::channel(namespaces.len().max(1));
    let expected = namespaces.len();
    tokio::spawn(async move {
        for _ in 0..expected {
            if synced_rx.recv().await.is_none() {
                return;
            }
        }
        on_synced();
    });
    let (appeared_tx, appeared_rx) = tokio::sync::watch::channel(0u64);
    tokio::spawn(prometheus_api::follow(ctx.client.clone(), ctx.prometheus_api.clone(), appeared_tx, shutdown.clone()));
    let controllers = namespaces
        .into_iter()
        .map(|ns| run_one(ctx.clone(), ns, shutdown.clone(), synced_tx.clone(), appeared_rx.clone()));
    futures::future::join_all(controllers).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(component: &str) -> Job {
        serde_json::from_value(serde_json::json!({"metadata": {"name": "j", "namespace": "shop", "labels": {
            "app.kubernetes.io/instance": "orders", "app.kubernetes.io/component": component}}}))
        .unwrap()
    }

    #[test]
    fn backup_and_restore_jobs_wake_their_instance() {
        for tool in ["backup", "restore"] {
            assert_eq!(instance_of_tool_job(&job(tool)), Some(ObjectRef::new("orders").within("shop")), "{tool}");
        }
        assert_eq!(instance_of_tool_job(&job("database")), None);
    }
}
