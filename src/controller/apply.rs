//! The apply step, the one place children are written: every desired child
//! by server-side apply, only when its cached live counterpart differs (a
//! steady state makes zero requests), in two ordered stages whose children
//! go side by side (see `children`), the API server's answer kept in the
//! cache; children the owner controls but no longer wants, found by owner
//! in the caches, deleted (those delivered to another namespace, which
//! cannot have an owner reference, by their source label); a grown storage
//! size carried to the live volume.

use super::caches::{Cached, Caches};
use super::context::Context;
use super::error::Error;
use crate::api::prometheus::{PodMonitor, PrometheusRule};
use crate::api::quantity;
use crate::builders::delivery::SOURCE_UID_LABEL;
use crate::builders::{
    BackupChildren, DESIRED_HASH_ANNOTATION, DeliveredCredentials, Desired, Instance, MonitoringChildren, Passwords,
    RestoreChildren,
};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, Secret, Service, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{Api, DeleteParams, ObjectMeta, Patch, PatchParams};
use kube::{Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::{BTreeSet, HashSet};
use std::fmt::Debug;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The one field manager of every child the operator applies.
pub const FIELD_MANAGER: &str = "servicedb";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    Unchanged,
    Written,
}

/// The desired object with a hash of itself in an annotation: the hash tells
/// a changed desired state (including removed fields) from drift, which the
/// subset comparison in [`matches`] catches.
pub fn with_desired_hash<K: Resource + Serialize>(mut desired: K) -> Result<K, Error> {
    let json = serde_json::to_vec(&desired).map_err(Error::Serialize)?;
    let hash = format!("{:x}", Sha256::digest(&json));
    desired.meta_mut().annotations.get_or_insert_default().insert(DESIRED_HASH_ANNOTATION.to_string(), hash);
    Ok(desired)
}

/// Whether every field of `desired` has the same value in `live`. Fields the
/// API server defaults are ignored; lists must match element by element;
/// quantities compare by amount ("0.5" equals the canonical "500m").
pub fn matches(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) => d.iter().all(|(k, dv)| match l.get(k) {
            Some(lv) => matches(dv, lv),
            None => is_empty(dv),
        }),
        (Value::Object(d), Value::Null) => d.is_empty(),
        (Value::Array(d), Value::Array(l)) => d.len() == l.len() && d.iter().zip(l).all(|(dv, lv)| matches(dv, lv)),
        (Value::Array(d), Value::Null) => d.is_empty(),
        (Value::String(d), Value::String(l)) => d == l || quantity::same(d, l),
        (Value::Number(d), Value::Number(l)) => d.as_f64() == l.as_f64(),
        (d, l) => d == l,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Object(o) => o.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// A JSON merge patch (RFC 7386) that turns `old` into `new`: keys missing
/// from `new` become `null`, so that a field that went away is removed
/// rather than left behind.
pub fn merge_patch(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = serde_json::Map::new();
            for (key, value) in n {
                patch.insert(key.clone(), o.get(key).map_or_else(|| value.clone(), |old| merge_patch(old, value)));
            }
            for key in o.keys().filter(|k| !n.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Value::Object(patch)
        }
        (_, new) => new.clone(),
    }
}

fn describe<K: Resource<DynamicType = ()>>(name: &str) -> String {
    format!("{} {name}", K::kind(&()))
}

/// Applies `desired` (already hashed) unless `live` matches it; returns the
/// object as the API server now has it.
pub async fn apply<K>(api: &Api<K>, desired: &K, live: Option<K>) -> Result<(Applied, K), Error>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
{
    let name = desired.name_any();
    let to_json = |o: &K| serde_json::to_value(o).map_err(Error::Serialize);
    if let Some(live) = live
        && matches(&to_json(desired)?, &to_json(&live)?)
    {
        return Ok((Applied::Unchanged, live));
    }
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let written =
        api.patch(&name, &params, &Patch::Apply(desired)).await.map_err(Error::kube("apply", describe::<K>(&name)))?;
    Ok((Applied::Written, written))
}

/// GETs an object the operator does not cache; a missing one is `None`.
async fn get<K>(api: &Api<K>, name: &str) -> Result<Option<K>, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    api.get_opt(name).await.map_err(Error::kube("get", describe::<K>(name)))
}

/// Deletes a child that is no longer wanted; one already gone is fine.
async fn delete<K>(api: &Api<K>, name: &str) -> Result<Applied, Error>
where
    K: Resource<DynamicType = ()> + Clone + Debug + DeserializeOwned,
{
    match api.delete(name, &DeleteParams::background()).await {
        Ok(_) => Ok(Applied::Written),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Applied::Unchanged),
        Err(e) => Err(Error::kube("delete", describe::<K>(name))(e)),
    }
}

fn controlled_by<K: Resource>(object: &K, owner_uid: &str) -> bool {
    object.owner_references().iter().any(|o| o.uid == owner_uid && o.controller == Some(true))
}

/// The live Secrets, read by name in the observe step: Secrets are not
/// cached (see `observe`).
pub struct LiveSecrets<'a> {
    pub admin: Option<&'a Secret>,
    pub credentials: Option<&'a Secret>,
    /// The copy delivered to the owning service's namespace, when it is elsewhere.
    pub delivered: Option<&'a Secret>,
    /// The backup login's, read only when the spec has backups.
    pub backup_login: Option<&'a Secret>,
}

/// What the apply step did: the StatefulSet as the API server has it, and
/// how many writes it took.
pub struct ApplyReport {
    pub statefulset: StatefulSet,
    pub writes: usize,
}

struct Applier<'a> {
    client: &'a Client,
    caches: &'a Caches,
    namespace: &'a str,
    owner_uid: &'a str,
    /// (kind, namespace, name) of what was applied: every other child the
    /// owner controls is a leftover. Children are applied side by side.
    kept: Mutex<HashSet<(String, String, String)>>,
    writes: AtomicUsize,
}

impl<'a> Applier<'a> {
    fn new(ctx: &'a Context, instance: &'a Instance<'a>) -> Self {
        Applier {
            client: &ctx.client,
            caches: &ctx.caches,
            namespace: instance.namespace,
            owner_uid: instance.owner_uid(),
            kept: Mutex::default(),
            writes: AtomicUsize::new(0),
        }
    }

    fn keep(&self, kind: String, namespace: String, name: String) {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).insert((kind, namespace, name));
    }

    fn kept(&self, kind: &str, namespace: &str, name: &str) -> bool {
        let kept = self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        kept.contains(&(kind.to_string(), namespace.to_string(), name.to_string()))
    }

    fn count(&self, done: Applied) {
        self.writes.fetch_add(usize::from(done == Applied::Written), Ordering::Relaxed);
    }

    fn api<K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    /// The namespace a desired child goes to: its own (a delivered child's
    /// is the service's), else the instance's.
    fn namespace_of<K: Resource>(&self, desired: &K) -> String {
        desired.meta().namespace.clone().unwrap_or_else(|| self.namespace.to_string())
    }

    async fn write<K>(&self, desired: K, live: Option<K>) -> Result<(Applied, K), Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    {
        let namespace = self.namespace_of(&desired);
        let api: Api<K> = Api::namespaced(self.client.clone(), &namespace);
        self.keep(K::kind(&()).into_owned(), namespace, desired.name_any());
        let (applied, object) = apply(&api, &with_desired_hash(desired)?, live).await?;
        self.count(applied);
        Ok((applied, object))
    }

    /// Applies a cached kind when its cached live object differs.
    async fn ensure<K: Cached>(&self, desired: K) -> Result<K, Error> {
        let live = self.caches.get::<K>(&self.namespace_of(&desired), &desired.name_any());
        let (applied, object) = self.write(desired, live).await?;
        if applied == Applied::Written {
            self.caches.remember(&object);
        }
        Ok(object)
    }

    /// Creates an object once and leaves it alone afterwards (a claim's or a
    /// Job's spec is immutable).
    async fn ensure_created<K: Cached>(&self, desired: K) -> Result<(), Error> {
        let name = desired.name_any();
        if self.caches.contains::<K>(self.namespace, &name) {
            self.keep(K::kind(&()).into_owned(), self.namespace.to_string(), name);
        } else {
            self.caches.remember(&self.write(desired, None).await?.1);
        }
        Ok(())
    }

    /// Applies a Secret against the copy read by name.
    async fn ensure_secret(&self, desired: Secret, live: Option<&Secret>) -> Result<(), Error> {
        self.write(desired, live.cloned()).await.map(drop)
    }

    /// Applies a kind that is not cached (the Prometheus Operator's, served
    /// or not at any time): the exception that is read by name.
    async fn ensure_uncached<K>(&self, desired: K) -> Result<(), Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    {
        let live = get(&self.api::<K>(), &desired.name_any()).await?;
        self.write(desired, live).await.map(drop)
    }

    /// Deletes an uncached child by name, if this owner controls it.
    async fn remove_uncached<K>(&self, name: &str) -> Result<(), Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    {
        let api = self.api::<K>();
        if get(&api, name).await?.is_some_and(|live| controlled_by(&live, self.owner_uid)) {
            self.count(delete(&api, name).await?);
        }
        Ok(())
    }

    /// Deletes every cached child of kind `K` the owner controls and this
    /// reconcile did not apply.
    async fn sweep<K: Cached>(&self) -> Result<(), Error> {
        let kind = K::kind(&()).into_owned();
        let leftovers: Vec<String> = self
            .caches
            .controlled_by::<K>(self.namespace, self.owner_uid)
            .into_iter()
            .filter(|name| !self.kept(&kind, self.namespace, name))
            .collect();
        for name in leftovers {
            tracing::info!(%kind, %name, "deleting a child no longer wanted");
            self.count(delete(&self.api::<K>(), &name).await?);
        }
        Ok(())
    }

    /// Removes what this owner delivered to other namespaces and this
    /// reconcile did not apply (the service moved, or came back home).
    async fn sweep_delivered(&self) -> Result<(), Error> {
        let role = Role::kind(&());
        let leftovers: BTreeSet<(String, String)> = delivered(self.caches, self.owner_uid)
            .into_iter()
            .filter(|(ns, name)| !self.kept(&role, ns, name))
            .collect();
        let deleted = remove_delivered(self.client, self.caches, self.owner_uid, &leftovers).await?;
        self.writes.fetch_add(deleted, Ordering::Relaxed);
        Ok(())
    }
}

/// Where the credentials `source_uid` delivered to other namespaces are,
/// as `(namespace, name)`: found by their cached Role and RoleBinding (the
/// Secret, which is not cached, has the same name beside them).
pub fn delivered(caches: &Caches, source_uid: &str) -> BTreeSet<(String, String)> {
    let roles = caches.delivered_by::<Role>(source_uid);
    roles.into_iter().chain(caches.delivered_by::<RoleBinding>(source_uid)).collect()
}

/// Deletes the credentials `source_uid` delivered at `at`: the binding
/// first (no access to a half-removed copy), then the Secret, then the Role
/// that found them. Each only when it carries that uid: a Role someone else
/// labelled cannot make the operator delete a Secret it did not deliver.
/// Returns how many deletes took place.
pub async fn remove_delivered(
    client: &Client,
    caches: &Caches,
    source_uid: &str,
    at: &BTreeSet<(String, String)>,
) -> Result<usize, Error> {
    let roles: BTreeSet<(String, String)> = caches.delivered_by::<Role>(source_uid).into_iter().collect();
    let bindings: BTreeSet<(String, String)> = caches.delivered_by::<RoleBinding>(source_uid).into_iter().collect();
    let mut deleted = Vec::new();
    for key @ (namespace, name) in at {
        tracing::info!(%namespace, %name, "deleting credentials delivered to another namespace");
        if bindings.contains(key) {
            deleted.push(delete(&Api::<RoleBinding>::namespaced(client.clone(), namespace), name).await?);
        }
        let secrets = Api::<Secret>::namespaced(client.clone(), namespace);
        let ours = |s: &Secret| s.labels().get(SOURCE_UID_LABEL).is_some_and(|uid| uid == source_uid);
        if get(&secrets, name).await?.is_some_and(|s| ours(&s)) {
            deleted.push(delete(&secrets, name).await?);
        }
        if roles.contains(key) {
            deleted.push(delete(&Api::<Role>::namespaced(client.clone(), namespace), name).await?);
        }
    }
    Ok(deleted.iter().filter(|d| **d == Applied::Written).count())
}

/// What else the apply step needs to know.
pub struct ApplyInputs<'a> {
    pub secrets: LiveSecrets<'a>,
    /// Whether the Prometheus Operator's kinds are served.
    pub monitoring_served: bool,
    /// Whether to look for monitoring children to remove: they are not
    /// cached, so only after a spec change (monitoring turned off).
    pub spec_changed: bool,
}

/// Applies the desired set. It is destructured whole, so a child added to
/// [`Desired`] does not compile until it is applied here.
pub async fn children(
    ctx: &Context,
    instance: &Instance<'_>,
    desired: Desired,
    inputs: ApplyInputs<'_>,
) -> Result<ApplyReport, Error> {
    let Desired {
        admin_secret,
        credentials_secret,
        credentials_access,
        delivered_credentials,
        network_policy,
        init_config,
        headless_service,
        client_service,
        statefulset,
        backup,
        restore,
        monitoring,
    } = desired;
    let a = Applier::new(ctx, instance);
    // Side by side where order does not matter: one round trip per step
    // rather than per child (a creation's latency is the API server's, and
    // at a thousand instances that is what kept them waiting). In order
    // where it does: the admin Secret keeps the passwords, so it is never
    // behind the one the service reads; a delivered copy's Role is how it is
    // found again; the NetworkPolicy, the init config and the Secrets are
    // in place before anything that starts or reaches a pod.
    let secrets = async {
        a.ensure_secret(admin_secret, inputs.secrets.admin).await?;
        a.ensure_secret(credentials_secret, inputs.secrets.credentials).await
    };
    let access = async {
        if let Some((role, binding)) = credentials_access {
            a.ensure(role).await?;
            a.ensure(binding).await?;
        }
        Ok(())
    };
    let delivered = async {
        if let Some(DeliveredCredentials { role, secret, binding }) = delivered_credentials {
            a.ensure(role).await?;
            a.ensure_secret(secret, inputs.secrets.delivered).await?;
            a.ensure(binding).await?;
        }
        Ok(())
    };
    let config = async {
        match init_config {
            Some(config) => a.ensure(config).await.map(drop),
            None => Ok(()),
        }
    };
    futures::try_join!(secrets, access, delivered, a.ensure(network_policy), config)?;

    let backup = async {
        match backup {
            Some(BackupChildren { login_secret, claim, network_policy, cronjob }) => {
                a.ensure_secret(login_secret, inputs.secrets.backup_login).await?;
                // The backup claim is never deleted: it holds the backups.
                if let Some(claim) = claim {
                    a.ensure_created(claim).await?;
                }
                a.ensure(network_policy).await?;
                a.ensure(cronjob).await?;
            }
            // Secrets are not cached: the login's is looked for only after
            // a spec change (backups turned off).
            None if inputs.spec_changed => a.remove_uncached::<Secret>(&instance.backup_login_secret_name()).await?,
            None => {}
        }
        Ok(())
    };
    let restore = async {
        if let Some(RestoreChildren { network_policy, job }) = restore {
            a.ensure(network_policy).await?;
            a.ensure_created(job).await?;
        }
        Ok(())
    };
    let (_, _, statefulset, (), ()) = futures::try_join!(
        a.ensure(headless_service),
        a.ensure(client_service),
        a.ensure(statefulset),
        backup,
        restore
    )?;
    if inputs.monitoring_served {
        match monitoring {
            Some(MonitoringChildren { pod_monitor, prometheus_rule }) => {
                a.ensure_uncached(pod_monitor).await?;
                a.ensure_uncached(prometheus_rule).await?;
            }
            None if inputs.spec_changed => {
                a.remove_uncached::<PodMonitor>(&instance.instance_name()).await?;
                a.remove_uncached::<PrometheusRule>(&instance.instance_name()).await?;
            }
            None => {}
        }
    }
    // Claims are left out: the data claim is the StatefulSet's, the backup claim keeps backups.
    a.sweep::<Role>().await?;
    a.sweep::<RoleBinding>().await?;
    a.sweep::<NetworkPolicy>().await?;
    a.sweep::<ConfigMap>().await?;
    a.sweep::<Service>().await?;
    a.sweep::<StatefulSet>().await?;
    a.sweep::<CronJob>().await?;
    a.sweep::<Job>().await?;
    a.sweep_delivered().await?;
    a.count(grow_volume(ctx, instance).await?);
    Ok(ApplyReport { statefulset, writes: a.writes.into_inner() })
}

/// Applies just the Secrets, admin first (a rotation's new state must be
/// kept before the service is told about it), then the service's, then its
/// copy in the service's namespace when it is elsewhere.
pub async fn secrets(
    ctx: &Context,
    instance: &Instance<'_>,
    passwords: &Passwords,
    live: LiveSecrets<'_>,
) -> Result<(), Error> {
    let a = Applier::new(ctx, instance);
    a.ensure_secret(crate::builders::secret::admin_secret(instance, passwords), live.admin).await?;
    let credentials = crate::builders::secret::credentials_secret(instance, passwords);
    let delivered = crate::builders::delivery::delivered_credentials(instance, &credentials);
    a.ensure_secret(credentials, live.credentials).await?;
    if let Some(delivered) = delivered {
        a.ensure_secret(delivered.secret, live.delivered).await?;
    }
    Ok(())
}

/// Requests the spec's storage size on the data PVC when it grew. The
/// StorageClass must allow volume expansion; the API server says so if not.
async fn grow_volume(ctx: &Context, instance: &Instance<'_>) -> Result<Applied, Error> {
    let name = instance.data_claim_name();
    let Some(live) = ctx.caches.get::<PersistentVolumeClaim>(instance.namespace, &name) else {
        return Ok(Applied::Unchanged);
    };
    let current = live.spec.as_ref().and_then(|s| s.resources.as_ref()?.requests.as_ref()?.get("storage").cloned());
    let wanted = &instance.spec.storage.size;
    let grows = match current.as_ref().and_then(|q| quantity::parse(&q.0)) {
        Some(bytes) => quantity::parse(wanted).is_some_and(|w| w > bytes),
        None => false,
    };
    if !grows {
        return Ok(Applied::Unchanged);
    }
    let resize = PersistentVolumeClaim {
        metadata: ObjectMeta { name: Some(name.clone()), ..ObjectMeta::default() },
        spec: Some(PersistentVolumeClaimSpec {
            resources: Some(VolumeResourceRequirements {
                requests: Some([("storage".to_string(), Quantity(wanted.clone()))].into()),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    };
    tracing::info!(claim = %name, to = %wanted, "growing the data volume");
    let api: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), instance.namespace);
    let (applied, _) = apply(&api, &resize, None).await?;
    Ok(applied)
}

/// The claim template size to build with: a StatefulSet's claim templates are
/// immutable, so an existing one keeps its size and growth goes to the PVC.
pub fn claim_template_size(live: Option<&StatefulSet>, instance: &Instance<'_>) -> String {
    live.and_then(|sts| {
        sts.spec
            .as_ref()?
            .volume_claim_templates
            .as_ref()?
            .first()?
            .spec
            .as_ref()?
            .resources
            .as_ref()?
            .requests
            .as_ref()
    })
    .and_then(|requests| requests.get("storage").map(|q| q.0.clone()))
    .unwrap_or_else(|| instance.spec.storage.size.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_merge_patch_removes_what_went_away() {
        let old = json!({"last": {"job": "a", "message": "failed"}, "phase": "Ready", "gone": 1});
        let new = json!({"last": {"job": "b"}, "phase": "Ready"});
        let patch = merge_patch(&old, &new);
        assert_eq!(patch, json!({"last": {"job": "b", "message": null}, "phase": "Ready", "gone": null}));
    }

    #[test]
    fn defaults_added_by_the_server_are_not_drift() {
        let desired = json!({"spec": {"ports": [{"port": 5432, "name": "postgres"}]}});
        let live = json!({"spec": {"ports": [{"port": 5432, "name": "postgres", "protocol": "TCP"}], "clusterIP": "10.96.0.9"}});
        assert!(matches(&desired, &live));
    }

    #[test]
    fn changed_values_extra_list_items_and_missing_fields_are_drift() {
        let desired = json!({"spec": {"replicas": 1, "ingress": [{"ports": [{"port": 5432}]}]}});
        assert!(!matches(&desired, &json!({"spec": {"replicas": 0, "ingress": [{"ports": [{"port": 5432}]}]}})));
        assert!(!matches(&desired, &json!({"spec": {"replicas": 1, "ingress": [{"ports": [{"port": 5432}]}, {}]}})));
        assert!(!matches(&desired, &json!({"spec": {"replicas": 1, "ingress": [{"ports": [{"port": 1}]}]}})));
        assert!(!matches(&desired, &json!({"spec": {"replicas": 1}})));
    }

    #[test]
    fn empty_desired_values_match_absent_ones_and_quantities_match_by_amount() {
        assert!(matches(&json!({"a": {}, "b": [], "c": null}), &json!({})));
        assert!(matches(&json!({"cpu": "0.5"}), &json!({"cpu": "500m"})));
        assert!(!matches(&json!({"cpu": "1"}), &json!({"cpu": "500m"})));
    }

    #[test]
    fn the_hash_changes_when_a_field_is_removed() {
        use k8s_openapi::api::core::v1::ConfigMap;
        let mut cm = ConfigMap::default();
        cm.metadata.name = Some("x".into());
        cm.data = Some([("a".to_string(), "1".to_string()), ("b".to_string(), "2".to_string())].into());
        let full = with_desired_hash(cm.clone()).unwrap();
        cm.data.as_mut().unwrap().remove("b");
        let smaller = with_desired_hash(cm).unwrap();
        let hash = |o: &ConfigMap| o.annotations()[DESIRED_HASH_ANNOTATION].clone();
        assert_ne!(hash(&full), hash(&smaller));
        // The live object still has both keys, yet the new desired state differs.
        assert!(!matches(&serde_json::to_value(&smaller).unwrap(), &serde_json::to_value(&full).unwrap()));
    }
}
