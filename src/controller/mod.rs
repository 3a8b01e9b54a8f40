//! The controller: wiring of watches, the reconcile pipeline and its parts.

mod apply;
mod children;
mod context;
mod credentials;
mod deletion;
mod error;
mod reconcile;
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
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client};
use std::sync::Arc;

/// Runs the controller until SIGTERM or Ctrl-C; in-flight reconciles finish first.
pub async fn run(client: Client, namespace: Option<String>, settings: Settings, instance_id: String) {
    fn api<K>(client: &Client, namespace: Option<&str>) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        match namespace {
            Some(ns) => Api::namespaced(client.clone(), ns),
            None => Api::all(client.clone()),
        }
    }
    let ns = namespace.as_deref();
    // Children are watched through their label only: no cache of every Secret.
    let children = watcher::Config::default().labels(&format!("app.kubernetes.io/managed-by={MANAGED_BY}"));
    let recorder =
        Recorder::new(client.clone(), Reporter { controller: "servicedb".into(), instance: Some(instance_id) });
    let ctx = Arc::new(Context::new(client.clone(), recorder, settings));
    Controller::new(api::<ServiceDatabase>(&client, ns), watcher::Config::default())
        .owns(api::<StatefulSet>(&client, ns), children.clone())
        .owns(api::<Service>(&client, ns), children.clone())
        .owns(api::<Secret>(&client, ns), children.clone())
        .owns(api::<ConfigMap>(&client, ns), children.clone())
        .owns(api::<NetworkPolicy>(&client, ns), children.clone())
        .owns(api::<Role>(&client, ns), children.clone())
        .owns(api::<RoleBinding>(&client, ns), children)
        .shutdown_on_signal()
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
