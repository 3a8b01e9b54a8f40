//! What the bench watches in the cluster: a volume provisioner fast enough
//! for thousands of claims (e2e/pv-provisioner.sh runs one kubectl per
//! claim), and counts of Ready ServiceDatabases and ready StatefulSets from
//! watch caches, so that counting costs the API server nothing per poll.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::PostParams;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};
use servicedb::api::ServiceDatabase;
use std::collections::HashSet;
use std::time::Duration;

/// A reflector store kept up to date by a background task.
pub struct Cache<K: kube::Resource<DynamicType = ()> + Clone + 'static> {
    pub store: Store<K>,
    task: tokio::task::JoinHandle<()>,
}

impl<K> Cache<K>
where
    K: kube::Resource<DynamicType = ()> + Clone + std::fmt::Debug + serde::de::DeserializeOwned + Send + Sync + 'static,
{
    pub fn start(api: Api<K>) -> Cache<K> {
        let (store, writer) = reflector::store();
        let stream = reflector::reflector(writer, watcher(api, watcher::Config::default()).default_backoff());
        let task = tokio::spawn(stream.applied_objects().for_each(|_| async {}));
        Cache { store, task }
    }

    pub fn stop(self) {
        self.task.abort();
    }
}

/// Ready=True for the object's current generation, as users wait for it.
pub fn is_ready(sdb: &ServiceDatabase) -> bool {
    sdb.status.as_ref().is_some_and(|s| {
        s.conditions
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True" && c.observed_generation == sdb.metadata.generation)
    })
}

pub fn ready_databases(cache: &Cache<ServiceDatabase>) -> usize {
    cache.store.state().iter().filter(|s| is_ready(s)).count()
}

pub fn ready_statefulsets(cache: &Cache<StatefulSet>) -> usize {
    cache.store.state().iter().filter(|s| s.status.as_ref().and_then(|st| st.ready_replicas).unwrap_or(0) >= 1).count()
}

/// Binds every Pending claim of the default class whose node the scheduler
/// picked to a new PV, as e2e/pv-provisioner.sh does, many at a time.
pub fn start_provisioner(client: Client, volumes: std::path::PathBuf) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let claims = Cache::start(Api::<PersistentVolumeClaim>::all(client.clone()));
        let pvs: Api<PersistentVolume> = Api::all(client);
        let mut made: HashSet<String> = HashSet::new();
        loop {
            let pending: Vec<PersistentVolumeClaim> = claims
                .store
                .state()
                .iter()
                .filter(|c| c.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Pending"))
                .filter(|c| c.spec.as_ref().and_then(|s| s.storage_class_name.as_deref()) == Some("standard"))
                .filter(|c| c.annotations().contains_key("volume.kubernetes.io/selected-node"))
                .filter(|c| c.uid().is_some_and(|u| !made.contains(&u)))
                .map(|c| (**c).clone())
                .collect();
            let created: Vec<Option<String>> = futures::stream::iter(pending)
                .map(|claim| create_pv(&pvs, &volumes, claim))
                .buffer_unordered(16)
                .collect()
                .await;
            made.extend(created.into_iter().flatten());
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    })
}

async fn create_pv(
    pvs: &Api<PersistentVolume>,
    volumes: &std::path::Path,
    claim: PersistentVolumeClaim,
) -> Option<String> {
    let uid = claim.uid()?;
    let size = claim.spec.as_ref()?.resources.as_ref()?.requests.as_ref()?.get("storage")?.0.clone();
    let pv: PersistentVolume = serde_json::from_value(serde_json::json!({
        "metadata": {"name": format!("pv-{uid}"), "labels": {"e2e.servicedb.dev/provisioned": "true"}},
        "spec": {
            "capacity": {"storage": size},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "standard",
            "hostPath": {"path": volumes.join(&uid).to_string_lossy()},
            "claimRef": {"namespace": claim.namespace(), "name": claim.name_any(), "uid": uid},
        },
    }))
    .ok()?;
    match pvs.create(&PostParams::default(), &pv).await {
        Ok(_) => Some(uid),
        Err(kube::Error::Api(s)) if s.is_already_exists() => Some(uid),
        Err(_) => None,
    }
}
