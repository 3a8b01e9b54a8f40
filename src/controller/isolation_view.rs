//! What the isolation audit (`crate::isolation`) judges from, kept up to
//! date by watches and held as small projections: the namespace's
//! NetworkPolicies, the secret-reading part of RBAC, the pods that read an
//! instance's credentials, admin Secret or backup login, and the
//! ServiceAccounts (their names, for SubjectAccessReviews). The watches of
//! NetworkPolicies, Roles, RoleBindings and pods are also the children
//! caches' (`shared_watch`): one watch per kind.
//!
//! A change wakes only the ServiceDatabases it can concern: a policy or a
//! namespaced RBAC object those of its namespace, a cluster role or binding
//! all of them, a pod the instance whose Secret it reads. The operator's
//! own objects are kept but wake no one: the reconciles that made them see
//! them.

use super::caches::{Cached, Events};
use crate::api::ServiceDatabase;
use crate::builders::{ADMIN_SUFFIX, BACKUP_LOGIN_SUFFIX, CREDENTIALS_SUFFIX, MANAGED_BY};
use crate::isolation::index::{Indexed, Terms};
use crate::isolation::pods::{PodSecrets, pod_secrets};
use crate::isolation::rbac::{Binding, Rbac, Reader, SecretGrant, SubjectRef, secret_grants};
use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec};
use k8s_openapi::api::core::v1::{Pod, ServiceAccount};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use kube::api::{DynamicObject, PostParams};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

/// SubjectAccessReviews in flight at once.
const REVIEWS_IN_FLIGHT: usize = 8;

type Key = (String, String);

/// A ServiceAccount is found by its name alone.
impl Terms for () {
    fn terms(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Which ServiceDatabases a change concerns.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Wake {
    All,
    Namespace(String),
    Object { namespace: String, name: String },
}

/// One watch of a projection: the keys seen by a relist in progress, and
/// whether it listed once.
#[derive(Default)]
struct WatchState {
    relisting: Option<HashSet<Key>>,
    listed: bool,
}

/// One projected kind: its entries and its watches, by scope (a namespace,
/// `None` for all of them, `Some("")` for the cluster-scoped kinds).
struct Projection<P> {
    entries: RwLock<Indexed<P>>,
    watches: Mutex<HashMap<Option<String>, WatchState>>,
}

impl<P> Default for Projection<P> {
    fn default() -> Self {
        Self { entries: RwLock::default(), watches: Mutex::default() }
    }
}

fn key_of(object: &impl ResourceExt) -> Key {
    (object.namespace().unwrap_or_default(), object.name_any())
}

/// A changed entry: its key, and its projection before and after.
type Change<P> = (Key, Option<P>, Option<P>);

impl<P: Terms + PartialEq + Clone> Projection<P> {
    /// Applies one watch event; returns what changed.
    fn apply<K: ResourceExt>(
        &self,
        scope: &Option<String>,
        event: &watcher::Event<K>,
        project: fn(&K) -> Option<P>,
    ) -> Vec<Change<P>> {
        let mut entries = self.entries.write().unwrap_or_else(|p| p.into_inner());
        let mut watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        let watch = watches.entry(scope.clone()).or_default();
        fn set<P: Terms + PartialEq + Clone>(entries: &mut Indexed<P>, key: Key, new: Option<P>) -> Option<Change<P>> {
            let old = entries.set(&key.0, &key.1, new.clone());
            (old != new).then_some((key, old, new))
        }
        match event {
            watcher::Event::Init => {
                watch.relisting = Some(HashSet::new());
                Vec::new()
            }
            watcher::Event::InitApply(object) => {
                let key = key_of(object);
                if let Some(seen) = watch.relisting.as_mut() {
                    seen.insert(key.clone());
                }
                set(&mut entries, key, project(object)).into_iter().collect()
            }
            watcher::Event::Apply(object) => set(&mut entries, key_of(object), project(object)).into_iter().collect(),
            watcher::Event::Delete(object) => set(&mut entries, key_of(object), None).into_iter().collect(),
            watcher::Event::InitDone => {
                watch.listed = true;
                let seen = watch.relisting.take().unwrap_or_default();
                // Cluster-scoped objects have no namespace; a watch of every
                // namespace does not own them.
                let in_scope = |ns: &String| match scope {
                    None => !ns.is_empty(),
                    Some(s) => s == ns,
                };
                let gone: Vec<Key> = entries
                    .objects
                    .iter()
                    .filter(|(ns, _)| in_scope(ns))
                    .flat_map(|(ns, names)| names.keys().map(|name| (ns.clone(), name.clone())))
                    .filter(|k| !seen.contains(k))
                    .collect();
                gone.into_iter().filter_map(|k| set(&mut entries, k, None)).collect()
            }
        }
    }

    fn filled(&self, scope: &Option<String>) -> bool {
        let watches = self.watches.lock().unwrap_or_else(|p| p.into_inner());
        watches.get(scope).is_some_and(|w| w.listed)
    }
}

fn ours(object: &impl ResourceExt) -> bool {
    object.labels().get("app.kubernetes.io/managed-by").is_some_and(|v| v == MANAGED_BY)
}

/// The Secrets of an instance the audit follows the readers of.
const AUDITED_SUFFIXES: [&str; 3] = [CREDENTIALS_SUFFIX, ADMIN_SUFFIX, BACKUP_LOGIN_SUFFIX];

/// The ServiceDatabase whose credentials (or their delivered copy), admin
/// Secret or backup login a Secret name is.
fn owner_of_secret(namespace: &str, secret: &str) -> Option<Wake> {
    let (base, source) = match secret.split_once('.') {
        Some((base, source)) => (base, source),
        None => (secret, namespace),
    };
    let name = AUDITED_SUFFIXES.iter().find_map(|suffix| base.strip_suffix(suffix))?;
    Some(Wake::Object { namespace: source.to_string(), name: name.to_string() })
}

/// Everything the audit reads, for every watched scope.
#[derive(Default)]
pub struct IsolationView {
    policies: Projection<NetworkPolicy>,
    roles: Projection<Vec<SecretGrant>>,
    bindings: Projection<Binding>,
    pods: Projection<PodSecrets>,
    service_accounts: Projection<()>,
    /// Bumped by every change of RBAC or of the ServiceAccounts: reviews
    /// made before it are stale.
    epoch: AtomicU64,
    /// Per namespace: the epoch of the reviews and what they found.
    reviews: tokio::sync::Mutex<HashMap<String, (u64, Vec<Reader>)>>,
    wakes: Mutex<Option<tokio::sync::broadcast::Sender<Wake>>>,
    /// The scopes watched (`Some("")`: the cluster-wide kinds), recorded
    /// before their watches start: `is_listed` is false until each listed.
    scopes: Mutex<BTreeSet<Option<String>>>,
}

/// What the audit reads, borrowed from the view while it reads.
pub struct Seen<'a> {
    /// Found by the instance their pod selector fixes (`policy::ANY_INSTANCE` if none).
    pub policies: &'a Indexed<NetworkPolicy>,
    pub rbac: Rbac<'a>,
    /// Found by the Secrets they read.
    pub pods: &'a Indexed<PodSecrets>,
}

impl IsolationView {
    fn wake(&self, wake: Wake) {
        let wakes = self.wakes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(sender) = wakes.as_ref() {
            // No receiver yet (before the controllers run) is fine: they start with a full resync.
            let _ = sender.send(wake);
        }
    }

    /// The changes that concern ServiceDatabases, as object references
    /// from `store` (the ServiceDatabases of one watched scope).
    pub fn wakes(
        &self,
        store: Store<ServiceDatabase>,
    ) -> impl Stream<Item = ObjectRef<ServiceDatabase>> + Send + 'static {
        let receiver = {
            let mut wakes = self.wakes.lock().unwrap_or_else(|p| p.into_inner());
            wakes.get_or_insert_with(|| tokio::sync::broadcast::channel(1024).0).subscribe()
        };
        futures::stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(wake) => Some((wake, receiver)),
                // Missed some: wake everyone rather than no one.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => Some((Wake::All, receiver)),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => None,
            }
        })
        .flat_map(move |wake| {
            let refs: Vec<ObjectRef<ServiceDatabase>> = match wake {
                // Only this scope's: every scope's controller hears every wake.
                Wake::Object { namespace, name } => {
                    let object = ObjectRef::new(&name).within(&namespace);
                    store.get(&object).map(|_| object).into_iter().collect()
                }
                Wake::All | Wake::Namespace(_) => store
                    .state()
                    .iter()
                    .filter(|sdb| match &wake {
                        Wake::Namespace(ns) => sdb.namespace().as_deref() == Some(ns.as_str()),
                        _ => true,
                    })
                    .map(|sdb| ObjectRef::from_obj(&**sdb))
                    .collect(),
            };
            futures::stream::iter(refs)
        })
    }

    /// Whether every watch listed once: before that, the audit would miss
    /// what it was not told yet.
    pub fn is_listed(&self) -> bool {
        let scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        let cluster = Some(CLUSTER.to_string());
        scopes.iter().all(|scope| {
            let rbac = self.roles.filled(scope) && self.bindings.filled(scope);
            rbac && (*scope == cluster
                || (self.policies.filled(scope) && self.pods.filled(scope) && self.service_accounts.filled(scope)))
        })
    }

    /// Records the scopes about to be watched, before their watches run: a
    /// task that has not started yet must not count as listed.
    fn watching(&self, scope: &Option<String>, cluster_wide: bool) {
        let mut scopes = self.scopes.lock().unwrap_or_else(|p| p.into_inner());
        scopes.insert(scope.clone());
        if cluster_wide {
            scopes.insert(Some(CLUSTER.to_string()));
        }
    }

    /// Plays the first list of every watch from `objects(plural)`, for
    /// tests that have no watches: `scope` as in [`Self::spawn_watches`].
    pub fn relist(
        &self,
        scope: Option<String>,
        objects: &dyn Fn(&str) -> Vec<serde_json::Value>,
    ) -> Result<(), serde_json::Error> {
        /// Whether anything changed.
        fn play<K: ResourceExt + DeserializeOwned, P: Terms + PartialEq + Clone>(
            view: &IsolationView,
            scope: &Option<String>,
            objects: Vec<serde_json::Value>,
            kind: &Kind<K, P>,
        ) -> Result<bool, serde_json::Error> {
            let projection = (kind.projection)(view);
            let mut changes = projection.apply::<K>(scope, &watcher::Event::Init, kind.project);
            for object in objects {
                let object = serde_json::from_value::<K>(object)?;
                changes.extend(projection.apply(scope, &watcher::Event::InitApply(object), kind.project));
            }
            changes.extend(projection.apply::<K>(scope, &watcher::Event::InitDone, kind.project));
            Ok(!changes.is_empty())
        }
        let cluster = Some(CLUSTER.to_string());
        play(self, &scope, objects("networkpolicies"), &POLICIES)?;
        play(self, &scope, objects("pods"), &PODS)?;
        let rbac = [
            play(self, &scope, objects("roles"), &ROLES)?,
            play(self, &scope, objects("rolebindings"), &ROLE_BINDINGS)?,
            play(self, &scope, objects("serviceaccounts"), &SERVICE_ACCOUNTS)?,
            play(self, &cluster, objects("clusterroles"), &CLUSTER_ROLES)?,
            play(self, &cluster, objects("clusterrolebindings"), &CLUSTER_ROLE_BINDINGS)?,
        ];
        if rbac.contains(&true) {
            self.epoch.fetch_add(1, Ordering::SeqCst);
        }
        self.watching(&scope, true);
        Ok(())
    }

    /// Runs `read` over what the view holds, under its read locks (no copy:
    /// a reconcile reads its own namespaces' entries only).
    pub fn read<T>(&self, read: impl FnOnce(&Seen<'_>) -> T) -> T {
        let policies = self.policies.entries.read().unwrap_or_else(|p| p.into_inner());
        let roles = self.roles.entries.read().unwrap_or_else(|p| p.into_inner());
        let bindings = self.bindings.entries.read().unwrap_or_else(|p| p.into_inner());
        let pods = self.pods.entries.read().unwrap_or_else(|p| p.into_inner());
        read(&Seen { policies: &policies, rbac: Rbac { roles: &roles, bindings: &bindings }, pods: &pods })
    }

    /// The ServiceAccounts of `namespace` that may get or list every Secret
    /// there, by SubjectAccessReview: what RBAC objects alone do not show
    /// (another authorizer, a webhook). Asked again only after RBAC or the
    /// ServiceAccounts changed; one review per account and verb.
    pub async fn reviewed_readers(&self, client: &Client, namespace: &str) -> Result<Vec<Reader>, kube::Error> {
        let mut reviews = self.reviews.lock().await;
        let epoch = self.epoch.load(Ordering::SeqCst);
        if let Some((at, readers)) = reviews.get(namespace)
            && *at == epoch
        {
            return Ok(readers.clone());
        }
        let accounts: Vec<String> = {
            let entries = self.service_accounts.entries.read().unwrap_or_else(|p| p.into_inner());
            entries.objects.get(namespace).into_iter().flat_map(|names| names.keys().cloned()).collect()
        };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        let questions: Vec<(String, String)> = accounts
            .into_iter()
            .flat_map(|account| ["get", "list"].map(|verb| (account.clone(), verb.to_string())))
            .collect();
        let answers: Vec<Option<Reader>> = futures::stream::iter(questions)
            .map(|(account, verb)| ask(api.clone(), namespace.to_string(), account, verb))
            .buffer_unordered(REVIEWS_IN_FLIGHT)
            .try_collect()
            .await?;
        let mut readers: Vec<Reader> = answers.into_iter().flatten().collect();
        readers.sort_by(|a, b| (a.subject.to_string(), &a.via).cmp(&(b.subject.to_string(), &b.via)));
        readers.dedup_by(|a, b| a.subject == b.subject);
        reviews.insert(namespace.to_string(), (epoch, readers.clone()));
        Ok(readers)
    }
}

/// Whether `account` may `verb` every Secret of `namespace`: a reader if so.
async fn ask(
    api: Api<SubjectAccessReview>,
    namespace: String,
    account: String,
    verb: String,
) -> Result<Option<Reader>, kube::Error> {
    let review = api.create(&PostParams::default(), &review(&namespace, &account, &verb)).await?;
    let allowed = review.status.is_some_and(|s| s.allowed);
    Ok(allowed.then(|| Reader {
        via: format!("a SubjectAccessReview: it may {verb} every Secret in {namespace}"),
        subject: SubjectRef::ServiceAccount { namespace, name: account },
    }))
}

/// A ServiceAccount's question, with the groups every ServiceAccount has
/// (a review answers for exactly the user and groups it is given).
fn review(namespace: &str, account: &str, verb: &str) -> SubjectAccessReview {
    SubjectAccessReview {
        spec: SubjectAccessReviewSpec {
            user: Some(format!("system:serviceaccount:{namespace}:{account}")),
            groups: Some(vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ]),
            resource_attributes: Some(ResourceAttributes {
                namespace: Some(namespace.into()),
                verb: Some(verb.into()),
                resource: Some("secrets".into()),
                ..ResourceAttributes::default()
            }),
            ..SubjectAccessReviewSpec::default()
        },
        ..SubjectAccessReview::default()
    }
}

/// The scope key of the cluster-wide watches (ClusterRoles and their bindings).
const CLUSTER: &str = "";

/// One projected kind: where its projection is, how an object projects,
/// and what a change of it wakes.
struct Kind<K, P> {
    projection: fn(&IsolationView) -> &Projection<P>,
    project: fn(&K) -> Option<P>,
    on_change: fn(&IsolationView, Change<P>),
}

const POLICIES: Kind<NetworkPolicy, NetworkPolicy> = Kind {
    projection: |v| &v.policies,
    project: project_policy,
    on_change: |v, ((ns, _), _, _)| v.wake(Wake::Namespace(ns)),
};
const ROLES: Kind<Role, Vec<SecretGrant>> =
    Kind { projection: |v| &v.roles, project: |r| Some(secret_grants(r.rules.as_ref())), on_change: rbac_changed };
const CLUSTER_ROLES: Kind<ClusterRole, Vec<SecretGrant>> =
    Kind { projection: |v| &v.roles, project: |r| Some(secret_grants(r.rules.as_ref())), on_change: rbac_changed };
const ROLE_BINDINGS: Kind<RoleBinding, Binding> =
    Kind { projection: |v| &v.bindings, project: |b| Some(Binding::of_role_binding(b)), on_change: rbac_changed };
const CLUSTER_ROLE_BINDINGS: Kind<ClusterRoleBinding, Binding> = Kind {
    projection: |v| &v.bindings,
    project: |b| Some(Binding::of_cluster_role_binding(b)),
    on_change: rbac_changed,
};
const PODS: Kind<Pod, PodSecrets> = Kind {
    projection: |v| &v.pods,
    project: project_pod,
    on_change: |v, ((ns, _), old, new)| {
        // Every instance whose credentials it read or reads.
        let read = old.into_iter().chain(new).flat_map(|p| p.secrets);
        for owner in read.filter_map(|secret| owner_of_secret(&ns, &secret)).collect::<BTreeSet<_>>() {
            v.wake(owner);
        }
    },
};
const SERVICE_ACCOUNTS: Kind<ServiceAccount, ()> = Kind {
    projection: |v| &v.service_accounts,
    project: |_| Some(()),
    on_change: |v, _| {
        v.epoch.fetch_add(1, Ordering::SeqCst);
    },
};

/// A policy's name, namespace and spec: what the comparison reads.
fn project_policy(p: &NetworkPolicy) -> Option<NetworkPolicy> {
    let metadata = kube::api::ObjectMeta {
        name: p.metadata.name.clone(),
        namespace: p.metadata.namespace.clone(),
        ..Default::default()
    };
    Some(NetworkPolicy { metadata, spec: p.spec.clone() })
}

/// Only pods that read a Secret the audit follows are kept.
fn project_pod(p: &Pod) -> Option<PodSecrets> {
    let found = pod_secrets(p);
    found.secrets.iter().any(|s| AUDITED_SUFFIXES.iter().any(|suffix| s.contains(suffix))).then_some(found)
}

fn rbac_changed<P>(view: &IsolationView, ((namespace, _), _, _): Change<P>) {
    view.epoch.fetch_add(1, Ordering::SeqCst);
    view.wake(if namespace.is_empty() { Wake::All } else { Wake::Namespace(namespace.clone()) });
}

/// What the children caches are given of an object of a shared watch: all
/// of one of ours; of anyone else's, only what tells the caches it is not
/// theirs (or no longer: a label changed) and whom its removal wakes.
fn for_caches<K: Resource + Serialize>(object: &K) -> Option<DynamicObject> {
    if ours(object) {
        return serde_json::to_value(object).and_then(serde_json::from_value).ok();
    }
    let meta = object.meta();
    let metadata = kube::api::ObjectMeta {
        name: meta.name.clone(),
        namespace: meta.namespace.clone(),
        labels: meta.labels.clone(),
        owner_references: meta.owner_references.clone(),
        ..Default::default()
    };
    Some(DynamicObject { types: None, metadata, data: serde_json::Value::Null })
}

impl IsolationView {
    /// Takes one event of a watch of `scope` into `kind`'s projection.
    fn take<K: ResourceExt, P: Terms + PartialEq + Clone>(
        &self,
        scope: &Option<String>,
        event: &watcher::Event<K>,
        kind: &Kind<K, P>,
    ) {
        let projection = (kind.projection)(self);
        // The first list wakes no one: reconciles wait for it (`is_listed`).
        // Nor do the operator's own objects, made by reconciles that see
        // them; they are kept all the same (a label is no proof of who made
        // an object).
        let quiet = !projection.filled(scope)
            || matches!(event, watcher::Event::Apply(o) | watcher::Event::Delete(o) if ours(o));
        for change in projection.apply(scope, event, kind.project) {
            if !quiet {
                (kind.on_change)(self, change);
            }
        }
    }

    /// The watch of one kind in `scope`, taking each event into the view
    /// before passing it on.
    fn observe<K, P>(
        self: &Arc<Self>,
        api: Api<K>,
        scope: Option<String>,
        kind: Kind<K, P>,
    ) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
    where
        K: Resource + Clone + Debug + DeserializeOwned + Send + Sync + 'static,
        K::DynamicType: Default,
        P: Terms + PartialEq + Clone + Send + Sync + 'static,
    {
        let view = self.clone();
        let config = watcher::Config::default().page_size(super::caches::LIST_PAGE_SIZE);
        watcher(api, config).default_backoff().inspect(move |event| match event {
            Ok(event) => view.take(&scope, event, &kind),
            Err(error) => tracing::warn!(%error, kind = K::kind(&Default::default()).as_ref(), "isolation watch"),
        })
    }

    /// One watch feeding both the view and the children caches, for the
    /// kinds both read: the events of the caches' kind `plural` in `scope`,
    /// or `None` when the view does not watch that kind.
    pub fn shared_watch(self: &Arc<Self>, client: &Client, scope: Option<String>, plural: &str) -> Option<Events> {
        fn shared<K: Cached, P: Terms + PartialEq + Clone + Send + Sync + 'static>(
            view: &Arc<IsolationView>,
            client: &Client,
            scope: Option<String>,
            kind: Kind<K, P>,
        ) -> Events {
            let api = super::api::<K>(client, scope.as_deref());
            let events = view.observe(api, scope, kind).filter_map(|event| {
                futures::future::ready(match event {
                    Ok(watcher::Event::Init) => Some(Ok(watcher::Event::Init)),
                    Ok(watcher::Event::InitDone) => Some(Ok(watcher::Event::InitDone)),
                    Ok(watcher::Event::InitApply(o)) => for_caches(&o).map(|o| Ok(watcher::Event::InitApply(o))),
                    Ok(watcher::Event::Apply(o)) => for_caches(&o).map(|o| Ok(watcher::Event::Apply(o))),
                    Ok(watcher::Event::Delete(o)) => for_caches(&o).map(|o| Ok(watcher::Event::Delete(o))),
                    Err(error) => Some(Err(error)),
                })
            });
            events.boxed()
        }
        match plural {
            "networkpolicies" => Some(shared(self, client, scope, POLICIES)),
            "roles" => Some(shared(self, client, scope, ROLES)),
            "rolebindings" => Some(shared(self, client, scope, ROLE_BINDINGS)),
            "pods" => Some(shared(self, client, scope, PODS)),
            _ => None,
        }
    }

    /// Records `scope` (`None`: the whole cluster) and starts the watches
    /// only the view has: ServiceAccounts, and with `cluster_wide` the
    /// ClusterRoles and ClusterRoleBindings. The rest come through
    /// [`Self::shared_watch`].
    pub fn spawn_watches(self: &Arc<Self>, client: &Client, scope: Option<String>, cluster_wide: bool) {
        fn run<K: Debug>(events: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static) {
            tokio::spawn(events.for_each(|_| futures::future::ready(())));
        }
        self.watching(&scope, cluster_wide);
        run(self.observe(super::api::<ServiceAccount>(client, scope.as_deref()), scope, SERVICE_ACCOUNTS));
        if cluster_wide {
            let cluster = Some(CLUSTER.to_string());
            run(self.observe(Api::<ClusterRole>::all(client.clone()), cluster.clone(), CLUSTER_ROLES));
            run(self.observe(Api::<ClusterRoleBinding>::all(client.clone()), cluster, CLUSTER_ROLE_BINDINGS));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_listed_until_every_watch_recorded_listed_once() {
        let view = IsolationView::default();
        view.watching(&Some("shop".into()), true);
        assert!(!view.is_listed(), "recorded, not started: a reconcile must wait");
        view.relist(Some("shop".into()), &|_| Vec::new()).unwrap();
        assert!(view.is_listed());
        view.watching(&Some("billing".into()), false);
        assert!(!view.is_listed(), "a second namespace not listed yet");
    }

    #[test]
    fn the_caches_get_all_of_our_objects_and_only_the_labels_and_owners_of_others() {
        let policy = |managed_by: &str| -> NetworkPolicy {
            serde_json::from_value(serde_json::json!({"metadata": {"name": "p", "namespace": "shop",
                "labels": {"app.kubernetes.io/managed-by": managed_by}},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"]}}))
            .unwrap()
        };
        let ours = for_caches(&policy(MANAGED_BY)).unwrap();
        assert_eq!(ours.data["spec"]["policyTypes"][0], "Ingress");
        assert_eq!(ours.types.unwrap().kind, "NetworkPolicy");
        let other = for_caches(&policy("helm")).unwrap();
        assert_eq!(other.data, serde_json::Value::Null, "not decoded again for the caches");
        assert_eq!(other.labels()["app.kubernetes.io/managed-by"], "helm");
        assert_eq!(other.name_any(), "p");
    }

    #[test]
    fn a_pod_wakes_the_instance_whose_credentials_delivered_copy_admin_or_backup_login_it_reads() {
        let wake = |ns: &str, secret: &str| owner_of_secret(ns, secret);
        let object = |ns: &str, name: &str| Some(Wake::Object { namespace: ns.into(), name: name.into() });
        assert_eq!(wake("shop", "orders-db-credentials"), object("shop", "orders"));
        assert_eq!(wake("storefront", "orders-db-credentials.shop"), object("shop", "orders"));
        assert_eq!(wake("shop", "orders-db-admin"), object("shop", "orders"));
        assert_eq!(wake("shop", "orders-db-backup-login"), object("shop", "orders"));
        assert_eq!(wake("shop", "s3-creds"), None);
    }
}
