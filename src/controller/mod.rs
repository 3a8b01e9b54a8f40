//! The controllers and their wiring: one reflected watch per owned kind
//! (`caches.rs`), the ServiceDatabase controller (`database/`), the
//! ServiceDatabaseBackup controller (`backup_request.rs`), and what they
//! share (apply, backups' Job runs, pause, errors, context).

// Shared by both controllers.
mod apply;
mod authority;
pub(crate) mod backups;
pub mod caches;
mod context;
mod decode;
mod error;
pub mod events;
pub mod isolation_view;
pub mod pause;
mod prometheus_api;
mod wakes;

/// The ServiceDatabaseBackup controller: one on-demand backup Job per request.
mod backup_request;
/// The ServiceDatabase controller: observe -> decide -> apply -> status.
pub(crate) mod database;

pub use apply::FIELD_MANAGER;
pub use caches::{Caches, Writers};
pub use context::{Context, Settings};
pub use database::FINALIZER;
/// For tests that drive one reconcile against a fake API server.
pub use database::reconcile;
pub use database::rotation;
pub use error::Error;

use crate::api::{ServiceDatabase, ServiceDatabaseBackup};
use caches::Trigger;
use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

const CHILD_EVENTS_DEBOUNCE: Duration = Duration::from_millis(500);

/// Namespaces to watch: every namespace, or exactly these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    Namespaces(Vec<String>),
}

impl Scope {
    /// One entry per watch: `None` for the whole cluster.
    pub fn watches(&self) -> Vec<Option<String>> {
        match self {
            Scope::Cluster => vec![None],
            Scope::Namespaces(list) => list.iter().cloned().map(Some).collect(),
        }
    }
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

/// The ServiceDatabase named in an object's labels, when its component is
/// one of `components`. Scheduled backup runs belong to the CronJob,
/// on-demand ones to their ServiceDatabaseBackup, the final backup to
/// nobody, the database pod to the StatefulSet: all name the instance.
fn instance_named(object: &impl ResourceExt, components: &[&str]) -> Option<ObjectRef<ServiceDatabase>> {
    let labels = object.labels();
    let component = labels.get(caches::COMPONENT_LABEL)?;
    let (instance, namespace) = (labels.get(caches::INSTANCE_LABEL)?, object.namespace()?);
    components.contains(&component.as_str()).then(|| ObjectRef::new(instance).within(&namespace))
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
    writers: Writers,
    shutdown: tokio::sync::watch::Receiver<bool>,
    synced: tokio::sync::mpsc::Sender<()>,
    prometheus_api_appeared: tokio::sync::watch::Receiver<u64>,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    let children = watcher::Config::default().labels(&caches::children_selector("jobs"));
    let (store, writer) = reflector::store::<ServiceDatabase>();
    // The store sees every change (a reconcile reads the status it wrote);
    // only what a decision reads wakes a reconcile.
    let trigger = reflector::reflector(writer, decode::watch(ctx.clone(), ns))
        .applied_objects()
        .predicate_filter(wakes::servicedatabase, Default::default());
    // One apply wakes the owner once per child written: a short trailing
    // debounce merges those into one reconcile that sees them all cached,
    // rather than one that takes the last children for missing.
    let controller = Controller::for_stream(trigger, store.clone()).with_config(
        kube::runtime::controller::Config::default()
            .debounce(CHILD_EVENTS_DEBOUNCE)
            .concurrency(ctx.settings.concurrent_reconciles),
    );
    ctx.metrics.watch(store.clone());
    let isolation_wakes = ctx.isolation.wakes(store.clone());
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
        .run(backup_request::reconcile, backup_request::error_policy, ctx.clone())
        .for_each(|result| async move {
            if let Err(e) = result
                && !matches!(e, kube::runtime::controller::Error::ReconcilerFailed(_, _))
            {
                tracing::warn!(error = %e, "backup controller");
            }
        });
    // Each cached kind's watch fills its cache and wakes the owner; the
    // kinds the isolation audit reads too come through its unlabelled watch
    // (one watch per kind, not two). Secrets
    // are not watched: RBAC cannot narrow list/watch to our labels, and
    // the chart grants neither. A changed or deleted Secret is put back at
    // the next resync. So are credentials delivered to another namespace:
    // without an owner reference their Role and RoleBinding fill the caches
    // (where apply and deletion find them by label) but wake no one.
    let mut databases = controller;
    for (resource, trigger) in caches::kinds() {
        let events = (ctx.isolation.shared_watch(&client, namespace.clone(), &resource.plural))
            .unwrap_or_else(|| caches::watch_children(&client, ns, &resource));
        let changes = writers.reflect(events, &resource.plural);
        databases = match trigger {
            Trigger::Owner => databases.owns_stream_with(changes, resource),
            Trigger::Labelled(components) => {
                databases.watches_stream_with(changes, move |o| instance_named(&o, components), resource)
            }
            Trigger::Nothing => {
                tokio::spawn(changes.for_each(|_| futures::future::ready(())));
                databases
            }
        };
    }
    let databases = databases
        .reconcile_on(isolation_wakes)
        .reconcile_all_on(prometheus_api::changes(prometheus_api_appeared))
        .graceful_shutdown_on(stopped(shutdown))
        .run(database::reconcile, database::error_policy, ctx)
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
    writers: HashMap<Option<String>, Writers>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    on_synced: impl FnOnce() + Send + 'static,
) {
    let namespaces: Vec<(Option<String>, Writers)> = writers.into_iter().collect();
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
    tokio::spawn(authority::keep_loading(ctx.clone(), shutdown.clone()));
    for (i, (ns, _)) in namespaces.iter().enumerate() {
        ctx.isolation.spawn_watches(&ctx.client, ns.clone(), i == 0);
    }
    let controllers = namespaces.into_iter().map(|(ns, writers)| {
        run_one(ctx.clone(), ns, writers, shutdown.clone(), synced_tx.clone(), appeared_rx.clone())
    });
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
        let tools = &["backup", "restore"];
        for tool in tools {
            assert_eq!(instance_named(&job(tool), tools), Some(ObjectRef::new("orders").within("shop")), "{tool}");
        }
        assert_eq!(instance_named(&job("database"), tools), None);
    }
}
