//! The apply step: every desired child, in order; unwanted children deleted;
//! a grown storage size carried to the live volume.

use super::apply::{Applied, apply, delete_owned, get, with_desired_hash};
use super::error::Error;
use crate::api::prometheus::{PodMonitor, PrometheusRule};
use crate::api::quantity;
use crate::builders::{Desired, Instance, MonitoringChildren, Passwords, RestoreChildren};
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::ObjectMeta;
use kube::{Api, Client, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fmt::Debug;

/// The applied StatefulSet, and how many writes it took.
pub struct ApplyReport {
    pub statefulset: StatefulSet,
    pub writes: usize,
}

struct Applier<'a> {
    client: &'a Client,
    namespace: &'a str,
    owner_uid: &'a str,
    writes: usize,
}

impl Applier<'_> {
    fn api<K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>>(&self) -> Api<K> {
        Api::namespaced(self.client.clone(), self.namespace)
    }

    async fn ensure<K>(&mut self, desired: K) -> Result<K, Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    {
        let api = self.api::<K>();
        let desired = with_desired_hash(desired)?;
        let live = get(&api, &desired.name_any()).await?;
        let (applied, object) = apply(&api, &desired, live).await?;
        self.writes += usize::from(applied == Applied::Written);
        Ok(object)
    }

    /// Creates an object once and leaves it alone afterwards (a claim's or a
    /// Job's spec is immutable).
    async fn ensure_created<K>(&mut self, desired: K) -> Result<(), Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    {
        let api = self.api::<K>();
        if get(&api, &desired.name_any()).await?.is_none() {
            apply(&api, &desired, None).await?;
            self.writes += 1;
        }
        Ok(())
    }

    async fn ensure_optional<K>(&mut self, desired: Option<K>, name: String) -> Result<(), Error>
    where
        K: Resource<DynamicType = (), Scope = NamespaceResourceScope> + Clone + Debug + Serialize + DeserializeOwned,
    {
        match desired {
            Some(desired) => self.ensure(desired).await.map(drop),
            None => {
                let deleted = delete_owned(&self.api::<K>(), &name, self.owner_uid).await?;
                self.writes += usize::from(deleted == Applied::Written);
                Ok(())
            }
        }
    }
}

/// The live StatefulSet, if any.
pub async fn live_statefulset(client: &Client, instance: &Instance<'_>) -> Result<Option<StatefulSet>, Error> {
    get(&Api::namespaced(client.clone(), instance.namespace), &instance.instance_name()).await
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

/// Applies every child in order and deletes the ones no longer wanted.
pub async fn apply_all(client: &Client, instance: &Instance<'_>, desired: Desired) -> Result<ApplyReport, Error> {
    let mut applier = Applier { client, namespace: instance.namespace, owner_uid: instance.owner_uid(), writes: 0 };
    let rbac_name = instance.credentials_secret_name();
    applier.ensure(desired.admin_secret).await?;
    applier.ensure(desired.credentials_secret).await?;
    let (role, binding) = desired.credentials_access.unzip();
    applier.ensure_optional::<Role>(role, rbac_name.clone()).await?;
    applier.ensure_optional::<RoleBinding>(binding, rbac_name).await?;
    applier.ensure::<NetworkPolicy>(desired.network_policy).await?;
    applier.ensure_optional::<ConfigMap>(desired.init_config, instance.init_config_name()).await?;
    applier.ensure(desired.headless_service).await?;
    applier.ensure(desired.client_service).await?;
    let statefulset = applier.ensure(desired.statefulset).await?;
    let backup_name = instance.backup_name();
    let (claim, network_policy, cronjob) = match desired.backup {
        Some(b) => (b.claim, Some(b.network_policy), Some(b.cronjob)),
        None => (None, None, None),
    };
    // The backup claim is never deleted here: it holds the backups.
    if let Some(claim) = claim {
        applier.ensure_created(claim).await?;
    }
    applier.ensure_optional::<NetworkPolicy>(network_policy, backup_name.clone()).await?;
    applier.ensure_optional::<CronJob>(cronjob, backup_name).await?;
    applier.writes += usize::from(grow_volume(client, instance).await? == Applied::Written);
    Ok(ApplyReport { statefulset, writes: applier.writes })
}

/// Applies the restore Job and its NetworkPolicy while a bootstrap is due,
/// and removes them once it is done (its record stays in status).
pub async fn apply_restore(
    client: &Client,
    instance: &Instance<'_>,
    desired: Option<RestoreChildren>,
) -> Result<usize, Error> {
    let mut applier = Applier { client, namespace: instance.namespace, owner_uid: instance.owner_uid(), writes: 0 };
    let (network_policy, job) = desired.map(|r| (r.network_policy, r.job)).unzip();
    applier.ensure_optional::<NetworkPolicy>(network_policy, instance.restore_name()).await?;
    match job {
        // A Job's pod template is immutable: create it once, never patch it.
        Some(job) => applier.ensure_created(job).await?,
        None => applier.ensure_optional::<Job>(None, instance.restore_name()).await?,
    }
    Ok(applier.writes)
}

/// Applies the PodMonitor and the PrometheusRule, or removes them when
/// monitoring was turned off. Only called while their API is served.
pub async fn apply_monitoring(
    client: &Client,
    instance: &Instance<'_>,
    desired: Option<MonitoringChildren>,
) -> Result<usize, Error> {
    let mut applier = Applier { client, namespace: instance.namespace, owner_uid: instance.owner_uid(), writes: 0 };
    let (pod_monitor, rule) = desired.map(|m| (m.pod_monitor, m.prometheus_rule)).unzip();
    applier.ensure_optional::<PodMonitor>(pod_monitor, instance.instance_name()).await?;
    applier.ensure_optional::<PrometheusRule>(rule, instance.instance_name()).await?;
    Ok(applier.writes)
}

/// Applies just the two Secrets, admin first (a rotation's new state must be
/// kept before the service is told about it).
pub async fn apply_secrets(client: &Client, instance: &Instance<'_>, passwords: &Passwords) -> Result<(), Error> {
    let mut applier = Applier { client, namespace: instance.namespace, owner_uid: instance.owner_uid(), writes: 0 };
    applier.ensure(crate::builders::secret::admin_secret(instance, passwords)).await?;
    applier.ensure(crate::builders::secret::credentials_secret(instance, passwords)).await?;
    Ok(())
}

/// Requests the spec's storage size on the data PVC when it grew. The
/// StorageClass must allow volume expansion; the API server says so if not.
async fn grow_volume(client: &Client, instance: &Instance<'_>) -> Result<Applied, Error> {
    let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), instance.namespace);
    let name = instance.data_claim_name();
    let Some(live) = get(&api, &name).await? else { return Ok(Applied::Unchanged) };
    let current = live.spec.and_then(|s| s.resources?.requests?.get("storage").cloned());
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
    let (applied, _) = apply(&api, &resize, None).await?;
    Ok(applied)
}
