//! What the operator knows without asking: reflector caches of the children
//! it owns, fed by the same label-selected watches that wake the controller.
//! A reconcile reads its children here; only Secrets are read by name, when
//! a step needs their content (see `observe`).
//!
//! Every kind is cached with its content: drift repair compares the live
//! object with the desired one field by field, so no owned kind can be
//! watched as metadata only. Managed fields (often the largest part of an
//! object) and the last-applied annotation are dropped before caching.

use crate::builders::MANAGED_BY;
use futures::{Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::runtime::reflector::{self, ObjectRef, Store, store::Writer};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::Arc;

/// The label every child carries; the watches select on it.
pub fn children_selector() -> String {
    format!("app.kubernetes.io/managed-by={MANAGED_BY}")
}

macro_rules! kinds {
    ($($field:ident: $kind:ty),* $(,)?) => {
        /// The caches of one watched scope (a namespace, or the cluster).
        #[derive(Clone)]
        pub struct Stores { $(pub $field: Store<$kind>,)* }

        /// Their writing halves, consumed by the watches (or a test).
        pub struct Writers { $(pub $field: Writer<$kind>,)* }

        fn stores() -> (Stores, Writers) {
            $(let $field = reflector::store::<$kind>();)*
            (Stores { $($field: $field.0,)* }, Writers { $($field: $field.1,)* })
        }

        impl Stores {
            async fn filled(&self) {
                $(filled(&self.$field).await;)*
            }
        }

        impl Writers {
            /// Replaces every cache's content with `objects(plural)`, as a
            /// watch's relist would: for tests that play the watches.
            pub fn relist(
                &mut self,
                objects: &dyn Fn(&str) -> Vec<serde_json::Value>,
            ) -> Result<(), serde_json::Error> {
                $(relist(&mut self.$field, objects)?;)*
                Ok(())
            }
        }

        $(impl Cached for $kind {
            fn store(stores: &Stores) -> &Store<Self> { &stores.$field }
        })*
    };
}

kinds! {
    statefulsets: StatefulSet,
    services: Service,
    config_maps: ConfigMap,
    network_policies: NetworkPolicy,
    roles: Role,
    role_bindings: RoleBinding,
    claims: PersistentVolumeClaim,
    jobs: Job,
    cron_jobs: CronJob,
}

/// A kind the operator caches.
pub trait Cached:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + serde::Serialize
    + serde::de::DeserializeOwned
    + Send
    + Sync
    + 'static
{
    fn store(stores: &Stores) -> &Store<Self>;
}

/// Every watched scope's caches: one entry for the cluster, or one per
/// namespace (a reflector's store follows exactly one watch).
#[derive(Clone)]
pub struct Caches {
    scopes: HashMap<Option<String>, Stores>,
    /// True once every cache held its first full list: a reconcile before
    /// that would take every child for missing and write it again.
    synced: Arc<tokio::sync::watch::Sender<bool>>,
}

impl Caches {
    /// Empty caches for the given scopes (`None` is the whole cluster), and
    /// the writers that fill them.
    pub fn new(scopes: &[Option<String>]) -> (Caches, HashMap<Option<String>, Writers>) {
        let mut caches = Caches { scopes: HashMap::new(), synced: Arc::new(tokio::sync::watch::Sender::new(false)) };
        let mut writers = HashMap::new();
        for scope in scopes {
            let (s, w) = stores();
            caches.scopes.insert(scope.clone(), s);
            writers.insert(scope.clone(), w);
        }
        (caches, writers)
    }

    fn stores(&self, namespace: &str) -> Option<&Stores> {
        self.scopes.get(&None).or_else(|| self.scopes.get(&Some(namespace.to_string())))
    }

    /// The cached child `name` in `namespace`.
    pub fn get<K: Cached>(&self, namespace: &str, name: &str) -> Option<Arc<K>> {
        K::store(self.stores(namespace)?).get(&ObjectRef::new(name).within(namespace))
    }

    /// The cached children in `namespace` whose labels hold all of `labels`.
    pub fn labelled<K: Cached>(&self, namespace: &str, labels: &[(&str, &str)]) -> Vec<Arc<K>> {
        let Some(stores) = self.stores(namespace) else { return Vec::new() };
        K::store(stores).state_filter(|o| {
            o.meta().namespace.as_deref() == Some(namespace)
                && labels.iter().all(|(k, v)| o.labels().get(*k).is_some_and(|l| l == v))
        })
    }

    /// The cached children in `namespace` that `owner_uid` controls.
    pub fn controlled_by<K: Cached>(&self, namespace: &str, owner_uid: &str) -> Vec<Arc<K>> {
        let Some(stores) = self.stores(namespace) else { return Vec::new() };
        K::store(stores).state_filter(|o| {
            o.meta().namespace.as_deref() == Some(namespace)
                && o.owner_references().iter().any(|r| r.uid == owner_uid && r.controller == Some(true))
        })
    }

    /// Resolves once [`Caches::mark_synced`] was called.
    pub async fn synced(&self) {
        let mut ready = self.synced.subscribe();
        let _ = ready.wait_for(|synced| *synced).await;
    }

    pub fn mark_synced(&self) {
        self.synced.send_replace(true);
    }

    /// Resolves once every cache holds its first full list (nothing else
    /// waits on these stores: a store's readiness wakes one waiter only).
    pub async fn wait_until_filled(&self) {
        for stores in self.scopes.values() {
            stores.filled().await;
        }
    }
}

async fn filled<K: Cached>(store: &Store<K>) {
    // Err: the watch stopped (shutdown); nothing more to wait for.
    let _ = store.wait_until_ready().await;
}

fn relist<K: Cached>(
    writer: &mut Writer<K>,
    objects: &dyn Fn(&str) -> Vec<serde_json::Value>,
) -> Result<(), serde_json::Error> {
    writer.apply_watcher_event(&watcher::Event::Init);
    for object in objects(&K::plural(&())) {
        writer.apply_watcher_event(&watcher::Event::InitApply(serde_json::from_value(object)?));
    }
    writer.apply_watcher_event(&watcher::Event::InitDone);
    Ok(())
}

/// Drops what the operator never reads, before the object is cached.
fn slim<K: Resource>(object: &mut K) {
    let meta = object.meta_mut();
    meta.managed_fields = None;
    if let Some(annotations) = meta.annotations.as_mut() {
        annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    }
}

/// The watch of one kind in one scope, writing into its cache; each item
/// is a changed object, for the controller to map to its owner.
pub fn reflect<K: Cached>(
    client: &Client,
    namespace: Option<&str>,
    writer: Writer<K>,
) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
    let api: Api<K> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let config = watcher::Config::default().labels(&children_selector()).any_semantic();
    reflector::reflector(writer, watcher(api, config).default_backoff().modify(slim::<K>)).applied_objects().boxed()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::runtime::watcher::Event;

    fn service(ns: &str, name: &str, instance: &str, owner: &str) -> Service {
        serde_json::from_value(serde_json::json!({"metadata": {"name": name, "namespace": ns,
            "labels": {"app.kubernetes.io/instance": instance, "app.kubernetes.io/managed-by": "servicedb"},
            "ownerReferences": [{"apiVersion": "servicedb.dev/v1alpha1", "kind": "ServiceDatabase",
                "name": instance, "uid": owner, "controller": true}]}}))
        .unwrap()
    }

    #[test]
    fn lookups_stay_in_their_namespace_and_owner() {
        let (caches, mut writers) = Caches::new(&[Some("shop".into()), Some("billing".into())]);
        let shop = writers.get_mut(&Some("shop".to_string())).unwrap();
        shop.services.apply_watcher_event(&Event::Apply(service("shop", "orders-db", "orders", "u1")));
        shop.services.apply_watcher_event(&Event::Apply(service("shop", "carts-db", "carts", "u2")));
        assert!(caches.get::<Service>("shop", "orders-db").is_some());
        assert!(caches.get::<Service>("billing", "orders-db").is_none(), "another namespace's cache");
        assert!(caches.get::<Service>("elsewhere", "orders-db").is_none(), "a namespace not watched");
        let owned = caches.controlled_by::<Service>("shop", "u1");
        assert_eq!(owned.iter().map(|s| s.name_any()).collect::<Vec<_>>(), ["orders-db"]);
        let labelled = caches.labelled::<Service>("shop", &[("app.kubernetes.io/instance", "carts")]);
        assert_eq!(labelled.len(), 1);
    }

    #[test]
    fn managed_fields_and_last_applied_are_not_cached() {
        let mut s = service("shop", "orders-db", "orders", "u1");
        s.metadata.managed_fields = Some(vec![Default::default()]);
        s.metadata.annotations = Some(
            [
                ("kubectl.kubernetes.io/last-applied-configuration".to_string(), "{}".to_string()),
                ("a".into(), "b".into()),
            ]
            .into(),
        );
        slim(&mut s);
        assert_eq!(s.metadata.managed_fields, None);
        assert_eq!(s.metadata.annotations, Some([("a".to_string(), "b".to_string())].into()));
    }
}
