//! What the operator knows without asking: caches of the children it owns,
//! fed by the same watches that wake the controller (label-selected, or
//! shared with the isolation view for the kinds it reads too). A
//! reconcile reads its children here; only Secrets are read by name, when a
//! step needs their content (see `database/observe.rs`).
//!
//! Every kind is cached with its content: drift repair compares the live
//! object with the desired one field by field, so no owned kind can be
//! watched as metadata only. To stay small at thousands of instances, an
//! entry keeps in the clear only what lookups need (owner, two labels) and
//! the object itself as zstd-compressed JSON, without its managed fields:
//! about a tenth of a typed object's memory. A reconcile decodes the few
//! children it reads.

use crate::builders::MANAGED_BY;
use crate::builders::delivery::SOURCE_UID_LABEL;
use crate::small_set::SmallSet;
use futures::{Stream, StreamExt};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Pod, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use kube::api::{ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

/// Objects per list request of a watch.
pub const LIST_PAGE_SIZE: u32 = 100;

pub const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
pub const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

/// The labels of what the caches keep of kind `plural`: every child carries
/// the first; of pods only the database pods are kept (a backup Job's pods
/// are read through their Job).
fn kept_labels(plural: &str) -> &'static [(&'static str, &'static str)] {
    const CHILD: (&str, &str) = ("app.kubernetes.io/managed-by", MANAGED_BY);
    if plural == "pods" { &[CHILD, (COMPONENT_LABEL, "database")] } else { &[CHILD] }
}

/// The label selector of the children's watch of kind `plural`.
pub fn children_selector(plural: &str) -> String {
    kept_labels(plural).iter().map(|(key, value)| format!("{key}={value}")).collect::<Vec<_>>().join(",")
}

/// Whether the caches keep `object`: what [`children_selector`] selects. A
/// watch shared with the isolation audit sees every object of its kind.
fn selected(plural: &str, object: &DynamicObject) -> bool {
    kept_labels(plural).iter().all(|(key, value)| object.labels().get(*key).is_some_and(|v| v == value))
}

/// The events of one kind's watch, as the caches take them.
pub type Events = futures::stream::BoxStream<'static, Result<watcher::Event<DynamicObject>, watcher::Error>>;

/// The label-selected watch of one kind's children in a scope.
pub fn watch_children(client: &Client, namespace: Option<&str>, resource: &ApiResource) -> Events {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    // Small pages: a list is decoded whole before it is compacted, and a
    // single answer of every StatefulSet of the cluster (what the watch
    // cache gives when asked for "any" version) left its peak behind.
    let config = watcher::Config::default().labels(&children_selector(&resource.plural)).page_size(LIST_PAGE_SIZE);
    watcher(api, config).default_backoff().boxed()
}

/// How a change of a cached kind reaches the controller.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Wakes the ServiceDatabase that controls the object.
    Owner,
    /// Wakes the instance named in the object's labels when its component is
    /// one of these: backup and restore Jobs (they belong to a CronJob or a
    /// backup request, not to the instance) and the database pod (it
    /// belongs to the StatefulSet; a crash, a restart, readiness).
    Labelled(&'static [&'static str]),
    /// Wakes nothing: read by reconciles only (claims are the StatefulSet's).
    Nothing,
}

/// Every kind the operator caches, and what its changes wake.
pub fn kinds() -> [(ApiResource, Trigger); 10] {
    [
        (ApiResource::erase::<StatefulSet>(&()), Trigger::Owner),
        (ApiResource::erase::<Service>(&()), Trigger::Owner),
        (ApiResource::erase::<ConfigMap>(&()), Trigger::Owner),
        (ApiResource::erase::<NetworkPolicy>(&()), Trigger::Owner),
        (ApiResource::erase::<Role>(&()), Trigger::Owner),
        (ApiResource::erase::<RoleBinding>(&()), Trigger::Owner),
        (ApiResource::erase::<CronJob>(&()), Trigger::Owner),
        (ApiResource::erase::<Job>(&()), Trigger::Labelled(&["backup", "restore"])),
        (ApiResource::erase::<Pod>(&()), Trigger::Labelled(&["database"])),
        (ApiResource::erase::<PersistentVolumeClaim>(&()), Trigger::Nothing),
    ]
}

/// A kind that can be read from the caches.
pub trait Cached:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
}

impl<K> Cached for K where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + Debug
        + Serialize
        + DeserializeOwned
        + Send
        + Sync
        + 'static
{
}

/// A zstd context pair per thread, reused: every watch event and cached
/// read would otherwise set up and free a context of its own.
struct Zstd {
    compress: zstd::bulk::Compressor<'static>,
    decompress: zstd::bulk::Decompressor<'static>,
}

thread_local! {
    static ZSTD: std::cell::RefCell<Option<Zstd>> = const { std::cell::RefCell::new(None) };
}

fn with_zstd<T>(work: impl FnOnce(&mut Zstd) -> std::io::Result<T>) -> std::io::Result<T> {
    ZSTD.with_borrow_mut(|slot| {
        let zstd = match slot {
            Some(zstd) => zstd,
            None => slot.insert(Zstd {
                compress: zstd::bulk::Compressor::new(1)?,
                decompress: zstd::bulk::Decompressor::new()?,
            }),
        };
        work(zstd)
    })
}

/// One cached object: what lookups need, and the rest compressed.
struct Entry {
    controller_uid: Option<Box<str>>,
    /// A child delivered into another namespace names its ServiceDatabase
    /// by a label: it has no owner reference.
    source_uid: Option<Box<str>>,
    instance: Option<Box<str>>,
    component: Option<Box<str>>,
    /// What of the object wakes its owner (`wakes::child`).
    wakes: u64,
    body: Box<[u8]>,
}

impl Entry {
    /// The entry of `object`, stripped in place of what is never read.
    fn of(plural: &str, object: &mut DynamicObject) -> Option<Entry> {
        let meta = &mut object.metadata;
        meta.managed_fields = None;
        if let Some(annotations) = meta.annotations.as_mut() {
            annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
        }
        let wakes = super::wakes::child(plural, object);
        let label = |key: &str| object.labels().get(key).map(|v| v.clone().into_boxed_str());
        let controller_uid =
            object.owner_references().iter().find(|o| o.controller == Some(true)).map(|o| o.uid.clone().into());
        let (instance, component, source_uid) =
            (label(INSTANCE_LABEL), label(COMPONENT_LABEL), label(SOURCE_UID_LABEL));
        let json = serde_json::to_vec(&*object).ok()?;
        let body = with_zstd(|z| z.compress.compress(&json)).ok()?.into_boxed_slice();
        Some(Entry { controller_uid, source_uid, instance, component, wakes, body })
    }

    fn decode<K: DeserializeOwned>(&self) -> Option<K> {
        // The JSON is ours: its size is at most a few hundred KiB.
        let json = with_zstd(|z| z.decompress.decompress(&self.body, 16 << 20)).ok()?;
        match serde_json::from_slice(&json) {
            Ok(object) => Some(object),
            Err(e) => {
                tracing::warn!(error = %e, "a cached child does not decode");
                None
            }
        }
    }
}

type Key = (Box<str>, Box<str>);

/// The cached objects of one kind, indexed by what lookups ask for: a
/// reconcile of one instance reads its own few children, not all of them.
#[derive(Default)]
struct Entries {
    objects: HashMap<Key, Entry>,
    by_controller: HashMap<Box<str>, SmallSet<Key>>,
    by_source: HashMap<Box<str>, SmallSet<Key>>,
    /// By namespace and instance label.
    by_instance: HashMap<Key, SmallSet<Key>>,
}

impl Entries {
    fn get(&self, key: &Key) -> Option<&Entry> {
        self.objects.get(key)
    }

    fn insert(&mut self, key: Key, entry: Entry) {
        self.remove(&key);
        let indexes =
            [(&mut self.by_controller, entry.controller_uid.clone()), (&mut self.by_source, entry.source_uid.clone())];
        for (index, term) in indexes {
            if let Some(term) = term {
                index.entry(term).or_default().insert(key.clone());
            }
        }
        if let Some(instance) = entry.instance.clone() {
            self.by_instance.entry((key.0.clone(), instance)).or_default().insert(key.clone());
        }
        self.objects.insert(key, entry);
    }

    /// Whether it was there.
    fn remove(&mut self, key: &Key) -> bool {
        let Some(entry) = self.objects.remove(key) else { return false };
        fn unindex<T: std::hash::Hash + Eq>(index: &mut HashMap<T, SmallSet<Key>>, term: T, key: &Key) {
            if let Some(keys) = index.get_mut(&term) {
                keys.remove(key);
                if keys.is_empty() {
                    index.remove(&term);
                }
            }
        }
        if let Some(uid) = entry.controller_uid {
            unindex(&mut self.by_controller, uid, key);
        }
        if let Some(uid) = entry.source_uid {
            unindex(&mut self.by_source, uid, key);
        }
        if let Some(instance) = entry.instance {
            unindex(&mut self.by_instance, (key.0.clone(), instance), key);
        }
        true
    }

    /// The entries whose keys `index` holds under `term`.
    fn found<'a, T: std::hash::Hash + Eq>(
        &'a self,
        index: &'a HashMap<T, SmallSet<Key>>,
        term: &T,
    ) -> impl Iterator<Item = (&'a Key, &'a Entry)> + 'a {
        index.get(term).into_iter().flatten().filter_map(|key| Some((key, self.objects.get(key)?)))
    }
}

#[derive(Default)]
struct KindCache {
    objects: Entries,
    /// The objects of a relist in progress, replacing `objects` when done.
    relisting: Option<Entries>,
    filled: bool,
}

/// The caches of one watched scope (a namespace, or the cluster), by plural.
#[derive(Default)]
struct ScopeCache {
    kinds: RwLock<HashMap<String, KindCache>>,
}

impl ScopeCache {
    fn with_kind<T>(&self, plural: &str, read: impl FnOnce(&KindCache) -> T) -> Option<T> {
        let kinds = self.kinds.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        kinds.get(plural).map(read)
    }

    /// Applies one watch event; returns the object when its change wakes
    /// its owner: new, deleted, or changed in what `wakes::child` digests.
    fn apply(&self, plural: &str, event: watcher::Event<DynamicObject>) -> Option<DynamicObject> {
        let mut kinds = self.kinds.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        let cache = kinds.entry(plural.to_string()).or_default();
        let key = |o: &DynamicObject| -> Key { (o.namespace().unwrap_or_default().into(), o.name_any().into()) };
        // Against the entry before this event (during a relist, before the relist).
        let changed = |objects: &Entries, k: &Key, entry: &Option<Entry>| {
            objects.get(k).map(|e| e.wakes) != entry.as_ref().map(|e| e.wakes)
        };
        match event {
            watcher::Event::Init => {
                cache.relisting = Some(Entries::default());
                None
            }
            watcher::Event::InitApply(o) if !selected(plural, &o) => None,
            // No longer selected (a label changed): as if deleted.
            watcher::Event::Apply(o) | watcher::Event::Delete(o) if !selected(plural, &o) => {
                cache.objects.remove(&key(&o)).then_some(o)
            }
            watcher::Event::InitApply(mut o) => {
                let (k, entry) = (key(&o), Entry::of(plural, &mut o));
                let wakes = changed(&cache.objects, &k, &entry);
                if let (Some(buffer), Some(entry)) = (cache.relisting.as_mut(), entry) {
                    buffer.insert(k, entry);
                }
                wakes.then_some(o)
            }
            watcher::Event::InitDone => {
                if let Some(buffer) = cache.relisting.take() {
                    cache.objects = buffer;
                }
                cache.filled = true;
                None
            }
            watcher::Event::Apply(mut o) => {
                let (k, entry) = (key(&o), Entry::of(plural, &mut o));
                let wakes = changed(&cache.objects, &k, &entry);
                match entry {
                    Some(entry) => cache.objects.insert(k, entry),
                    None => drop(cache.objects.remove(&k)),
                }
                wakes.then_some(o)
            }
            watcher::Event::Delete(o) => {
                cache.objects.remove(&key(&o));
                Some(o)
            }
        }
    }

    fn filled(&self) -> bool {
        let kinds = self.kinds.read().unwrap_or_else(|poisoned| poisoned.into_inner());
        kinds.len() == self::kinds().len() && kinds.values().all(|k| k.filled)
    }
}

/// The writing side of one scope's caches: the watches (or a test playing them).
pub struct Writers {
    scope: Arc<ScopeCache>,
}

impl Writers {
    /// Replaces every cache's content with `objects(plural)`, as the
    /// watches' relists would.
    pub fn relist(&mut self, objects: &dyn Fn(&str) -> Vec<serde_json::Value>) -> Result<(), serde_json::Error> {
        for (resource, _) in kinds() {
            self.scope.apply(&resource.plural, watcher::Event::Init);
            for object in objects(&resource.plural) {
                self.scope.apply(&resource.plural, watcher::Event::InitApply(serde_json::from_value(object)?));
            }
            self.scope.apply(&resource.plural, watcher::Event::InitDone);
        }
        Ok(())
    }

    /// Writes the events of one kind's watch in this scope into its cache;
    /// each item is an object whose change wakes its owner, for the
    /// controller to map.
    pub fn reflect(
        &self,
        events: Events,
        plural: &str,
    ) -> impl Stream<Item = Result<DynamicObject, watcher::Error>> + Send + 'static {
        let (scope, plural) = (self.scope.clone(), plural.to_string());
        events.filter_map(move |event| {
            futures::future::ready(match event {
                Ok(event) => scope.apply(&plural, event).map(Ok),
                Err(error) => Some(Err(error)),
            })
        })
    }
}

/// Every watched scope's caches: one entry for the cluster, or one per
/// namespace.
#[derive(Clone)]
pub struct Caches {
    scopes: HashMap<Option<String>, Arc<ScopeCache>>,
}

impl Caches {
    /// Empty caches for the given scopes (`None` is the whole cluster), and
    /// the writers that fill them.
    pub fn new(scopes: &[Option<String>]) -> (Caches, HashMap<Option<String>, Writers>) {
        let mut caches = Caches { scopes: HashMap::new() };
        let mut writers = HashMap::new();
        for scope in scopes {
            let cache = Arc::new(ScopeCache::default());
            caches.scopes.insert(scope.clone(), cache.clone());
            writers.insert(scope.clone(), Writers { scope: cache });
        }
        (caches, writers)
    }

    fn scope(&self, namespace: &str) -> Option<&ScopeCache> {
        self.scopes.get(&None).or_else(|| self.scopes.get(&Some(namespace.to_string()))).map(|s| &**s)
    }

    fn read<K: Cached, T>(&self, namespace: &str, read: impl FnOnce(&KindCache) -> T) -> Option<T> {
        self.scope(namespace)?.with_kind(&K::plural(&()), read)
    }

    /// Writes what the API server answered to an apply into the cache, as
    /// its watch event will: that event then changes no digest and wakes no
    /// one (a reconcile's own writes do not wake it again), and the next
    /// reconcile sees the write even if the event is late.
    pub fn remember<K: Cached>(&self, object: &K) {
        let namespace = object.meta().namespace.clone().unwrap_or_default();
        let Some(scope) = self.scope(&namespace) else { return };
        match serde_json::to_value(object).and_then(serde_json::from_value::<DynamicObject>) {
            Ok(object) => drop(scope.apply(&K::plural(&()), watcher::Event::Apply(object))),
            Err(e) => tracing::warn!(error = %e, "an applied child does not convert for the cache"),
        }
    }

    /// The cached child `name` in `namespace`.
    pub fn get<K: Cached>(&self, namespace: &str, name: &str) -> Option<K> {
        let key: Key = (namespace.into(), name.into());
        self.read::<K, _>(namespace, |kind| kind.objects.get(&key).and_then(Entry::decode)).flatten()
    }

    /// Whether the child `name` is cached in `namespace`, without decoding it.
    pub fn contains<K: Cached>(&self, namespace: &str, name: &str) -> bool {
        let key: Key = (namespace.into(), name.into());
        self.read::<K, _>(namespace, |kind| kind.objects.get(&key).is_some()).unwrap_or(false)
    }

    /// The cached children in `namespace` labelled with this instance and component.
    pub fn labelled<K: Cached>(&self, namespace: &str, instance: &str, component: &str) -> Vec<K> {
        let term: Key = (namespace.into(), instance.into());
        self.read::<K, _>(namespace, |kind| {
            let found = kind.objects.found(&kind.objects.by_instance, &term);
            found.filter(|(_, e)| e.component.as_deref() == Some(component)).filter_map(|(_, e)| e.decode()).collect()
        })
        .unwrap_or_default()
    }

    /// The names of the cached children in `namespace` that `owner_uid` controls.
    pub fn controlled_by<K: Cached>(&self, namespace: &str, owner_uid: &str) -> Vec<String> {
        self.read::<K, _>(namespace, |kind| {
            let found = kind.objects.found(&kind.objects.by_controller, &owner_uid.into());
            found.filter(|((ns, _), _)| &**ns == namespace).map(|((_, name), _)| name.to_string()).collect()
        })
        .unwrap_or_default()
    }

    /// Where the children of kind `K` that the ServiceDatabase `source_uid`
    /// delivered into other namespaces are: `(namespace, name)`, from every
    /// watched scope.
    pub fn delivered_by<K: Cached>(&self, source_uid: &str) -> Vec<(String, String)> {
        let mut found: Vec<(String, String)> = self
            .scopes
            .values()
            .filter_map(|scope| {
                scope.with_kind(&K::plural(&()), |kind| {
                    let found = kind.objects.found(&kind.objects.by_source, &source_uid.into());
                    found.map(|((ns, name), _)| (ns.to_string(), name.to_string())).collect::<Vec<_>>()
                })
            })
            .flatten()
            .collect();
        found.sort();
        found
    }

    /// Whether the operator watches `namespace` (always, in cluster mode).
    pub fn watches(&self, namespace: &str) -> bool {
        self.scope(namespace).is_some()
    }

    /// Whether every kind of every scope held its first full list: a
    /// reconcile before that would take every child for missing and write
    /// it again. Once true it stays true (a relist keeps the old content
    /// until the new one is complete).
    pub fn is_synced(&self) -> bool {
        self.scopes.values().all(|s| s.filled())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn service(ns: &str, name: &str, instance: &str, owner: &str) -> serde_json::Value {
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns,
            "labels": {INSTANCE_LABEL: instance, COMPONENT_LABEL: "database", "app.kubernetes.io/managed-by": "servicedb"},
            "managedFields": [{"manager": "servicedb", "operation": "Apply"}],
            "ownerReferences": [{"apiVersion": "servicedb.dev/v1alpha1", "kind": "ServiceDatabase",
                "name": instance, "uid": owner, "controller": true}]},
            "spec": {"ports": [{"port": 5432}]}})
    }

    #[test]
    fn lookups_stay_in_their_namespace_and_owner_and_decode_the_object() {
        let (caches, mut writers) = Caches::new(&[Some("shop".into()), Some("billing".into())]);
        let shop = writers.get_mut(&Some("shop".to_string())).unwrap();
        let stored = |plural: &str| match plural {
            "services" => {
                vec![service("shop", "orders-db", "orders", "u1"), service("shop", "carts-db", "carts", "u2")]
            }
            _ => Vec::new(),
        };
        shop.relist(&stored).unwrap();
        let svc = caches.get::<Service>("shop", "orders-db").expect("cached");
        assert_eq!(svc.spec.unwrap().ports.unwrap()[0].port, 5432);
        assert_eq!(svc.metadata.managed_fields, None, "managed fields are not cached");
        assert!(caches.get::<Service>("billing", "orders-db").is_none(), "another namespace's cache");
        assert!(caches.get::<Service>("elsewhere", "orders-db").is_none(), "a namespace not watched");
        assert_eq!(caches.controlled_by::<Service>("shop", "u1"), ["orders-db"]);
        assert_eq!(caches.labelled::<Service>("shop", "carts", "database").len(), 1);
        assert!(caches.labelled::<Service>("shop", "carts", "backup").is_empty());
        assert!(caches.contains::<Service>("shop", "carts-db"));
        assert!(!caches.scopes[&Some("billing".to_string())].filled(), "billing was never listed");
        assert!(caches.scopes[&Some("shop".to_string())].filled());
        assert!(!caches.is_synced(), "one scope is not listed yet");
        writers.get_mut(&Some("billing".to_string())).unwrap().relist(&|_| Vec::new()).unwrap();
        assert!(caches.is_synced());
    }

    #[test]
    fn delivered_children_are_found_by_their_source_uid_in_every_watched_namespace() {
        let (caches, mut writers) = Caches::new(&[Some("shop".into()), Some("storefront".into())]);
        let mut delivered = service("storefront", "orders-db-credentials.shop", "orders", "ignored");
        delivered["metadata"]["ownerReferences"] = json!([]);
        delivered["metadata"]["labels"][SOURCE_UID_LABEL] = json!("u1");
        let stored = move |plural: &str| if plural == "services" { vec![delivered.clone()] } else { Vec::new() };
        writers.get_mut(&Some("storefront".to_string())).unwrap().relist(&stored).unwrap();
        writers.get_mut(&Some("shop".to_string())).unwrap().relist(&|_| Vec::new()).unwrap();
        let found = caches.delivered_by::<Service>("u1");
        assert_eq!(found, [("storefront".to_string(), "orders-db-credentials.shop".to_string())]);
        assert!(caches.delivered_by::<Service>("u2").is_empty());
        assert!(caches.controlled_by::<Service>("storefront", "u1").is_empty(), "not by owner reference");
        assert!(caches.watches("storefront") && !caches.watches("elsewhere"));
        assert!(Caches::new(&[None]).0.watches("elsewhere"), "cluster mode watches every namespace");
    }

    #[test]
    fn a_relist_replaces_the_cache_and_events_update_it() {
        let (caches, mut writers) = Caches::new(&[None]);
        let all = writers.get_mut(&None).unwrap();
        all.relist(&|p| if p == "services" { vec![service("shop", "old", "orders", "u1")] } else { vec![] }).unwrap();
        all.relist(&|p| if p == "services" { vec![service("shop", "new", "orders", "u1")] } else { vec![] }).unwrap();
        assert!(caches.get::<Service>("shop", "old").is_none(), "gone at the relist");
        let scope = &caches.scopes[&None];
        let object: DynamicObject = serde_json::from_value(service("shop", "added", "orders", "u1")).unwrap();
        scope.apply("services", watcher::Event::Apply(object.clone()));
        assert!(caches.contains::<Service>("shop", "added"));
        scope.apply("services", watcher::Event::Delete(object));
        assert!(!caches.contains::<Service>("shop", "added"));
    }

    #[test]
    fn the_lookups_follow_a_change_of_owner_or_instance_and_a_deletion() {
        let (caches, mut writers) = Caches::new(&[None]);
        writers.get_mut(&None).unwrap().relist(&|_| Vec::new()).unwrap();
        let scope = &caches.scopes[&None];
        let event = |v: &serde_json::Value| watcher::Event::Apply(serde_json::from_value(v.clone()).unwrap());
        scope.apply("services", event(&service("shop", "orders-db", "orders", "u1")));
        scope.apply("services", event(&service("billing", "orders-db", "orders", "u1")));
        assert_eq!(caches.controlled_by::<Service>("shop", "u1"), ["orders-db"], "its own namespace only");
        scope.apply("services", event(&service("shop", "orders-db", "carts", "u2")));
        assert!(caches.controlled_by::<Service>("shop", "u1").is_empty(), "no longer u1's");
        assert_eq!(caches.controlled_by::<Service>("shop", "u2"), ["orders-db"]);
        assert!(caches.labelled::<Service>("shop", "orders", "database").is_empty(), "relabelled");
        assert_eq!(caches.labelled::<Service>("shop", "carts", "database").len(), 1);
        let mut unlabelled = service("shop", "orders-db", "carts", "u2");
        unlabelled["metadata"]["labels"]["app.kubernetes.io/managed-by"] = json!("someone-else");
        assert!(scope.apply("services", event(&unlabelled)).is_some(), "a lost label is a deletion that wakes");
        assert!(!caches.contains::<Service>("shop", "orders-db"));
        assert!(scope.apply("services", event(&unlabelled)).is_none(), "another's object: not kept, wakes no one");
        assert!(!caches.contains::<Service>("shop", "orders-db"));
        let gone = serde_json::from_value(service("shop", "orders-db", "carts", "u2")).unwrap();
        scope.apply("services", event(&service("shop", "orders-db", "carts", "u2")));
        scope.apply("services", watcher::Event::Delete(gone));
        assert!(caches.controlled_by::<Service>("shop", "u2").is_empty());
        assert!(caches.labelled::<Service>("shop", "carts", "database").is_empty());
        assert_eq!(caches.controlled_by::<Service>("billing", "u1"), ["orders-db"], "the other one stays");
    }

    #[test]
    fn only_changes_that_a_decision_reads_wake_and_a_remembered_write_does_not() {
        let (caches, mut writers) = Caches::new(&[None]);
        writers.get_mut(&None).unwrap().relist(&|_| Vec::new()).unwrap();
        let scope = &caches.scopes[&None];
        let event = |v: &serde_json::Value| watcher::Event::Apply(serde_json::from_value(v.clone()).unwrap());
        let created = service("shop", "orders-db", "orders", "u1");
        assert!(scope.apply("services", event(&created)).is_some(), "a new child wakes");
        let mut bumped = created.clone();
        bumped["metadata"]["resourceVersion"] = json!("7");
        assert!(scope.apply("services", event(&bumped)).is_none(), "the same content at another version");

        let applied: Service = serde_json::from_value(service("shop", "carts-db", "carts", "u2")).unwrap();
        caches.remember(&applied);
        assert!(caches.contains::<Service>("shop", "carts-db"), "seen before its watch event");
        let echo = serde_json::to_value(&applied).unwrap();
        assert!(scope.apply("services", event(&echo)).is_none(), "the apply's own watch event");
        let mut drifted = echo.clone();
        drifted["spec"]["ports"][0]["port"] = json!(1);
        assert!(scope.apply("services", event(&drifted)).is_some(), "someone else's edit");
        let gone = serde_json::from_value(drifted).unwrap();
        assert!(scope.apply("services", watcher::Event::Delete(gone)).is_some(), "a deletion");
    }
}
