//! The controller: wiring of watches, the reconcile pipeline and its parts.

mod administer;
mod apply;
mod children;
mod context;
mod credentials;
mod deletion;
mod error;
mod reconcile;
mod restart;
pub mod rotation;
mod status;
mod validate;

pub use apply::FIELD_MANAGER;
pub use context::{Context, Settings};
pub use deletion::FINALIZER;
pub use error::Error;

use crate::api::ServiceDatabase;
use crate::build::MANAGED_BY;
use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::controller::Controller;
use kube::runtime::watcher;
use kube::{Api, Client};
use std::future::Future;
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

/// One controller over one namespace (or all), stopping when `shutdown`
/// resolves; in-flight reconciles finish first.
async fn run_one(
    ctx: Arc<Context>,
    namespace: Option<String>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
    synced: tokio::sync::mpsc::Sender<()>,
) {
    let client = ctx.client.clone();
    let ns = namespace.as_deref();
    // Children are watched through their label only: no cache of every Secret.
    let children = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let controller = Controller::new(api::<ServiceDatabase>(&client, ns), watcher::Config::default());
    let store = controller.store();
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
    controller
        .owns(api::<StatefulSet>(&client, ns), children.clone())
        .owns(api::<Service>(&client, ns), children.clone())
        .owns(api::<Secret>(&client, ns), children.clone())
        .owns(api::<ConfigMap>(&client, ns), children.clone())
        .owns(api::<NetworkPolicy>(&client, ns), children.clone())
        .owns(api::<Role>(&client, ns), children.clone())
        .owns(api::<RoleBinding>(&client, ns), children)
        .graceful_shutdown_on(shutdown)
        .run(reconcile::reconcile, reconcile::error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((object, _)) => tracing::debug!(%object, "reconciled"),
                // The reconcile error itself was logged by the error policy.
                Err(kube::runtime::controller::Error::ReconcilerFailed(_, _)) => {}
                Err(e) => tracing::warn!(error = %e, "controller"),
            }
        })
        .await;
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
    let controllers = namespaces.into_iter().map(|ns| {
        let mut shutdown = shutdown.clone();
        let stop = async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        };
        run_one(ctx.clone(), ns, stop, synced_tx.clone())
    });
    futures::future::join_all(controllers).await;
}
