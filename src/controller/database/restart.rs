//! After a rotation, optionally restart the workloads that read the
//! credentials Secret, as `kubectl rollout restart` does: a pod template
//! annotation, so their pods start with the new login.

use crate::controller::error::Error;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::PodSpec;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client, ResourceExt};
use serde::Serialize;
use std::collections::BTreeMap;

pub const ROTATED_AT_ANNOTATION: &str = "servicedb.dev/credentials-rotated-at";
const RESTART_MANAGER: &str = "servicedb-restart";

/// Whether a pod reads the Secret: env, envFrom, a volume or a projected volume.
pub fn reads_secret(pod: &PodSpec, secret: &str) -> bool {
    let containers = pod.containers.iter().chain(pod.init_containers.iter().flatten());
    let by_env = containers
        .clone()
        .flat_map(|c| c.env.iter().flatten())
        .any(|e| e.value_from.as_ref().and_then(|f| f.secret_key_ref.as_ref()).is_some_and(|r| r.name == secret));
    let by_env_from = containers
        .flat_map(|c| c.env_from.iter().flatten())
        .any(|e| e.secret_ref.as_ref().is_some_and(|r| r.name == secret));
    let by_volume = pod.volumes.iter().flatten().any(|v| {
        v.secret.as_ref().is_some_and(|s| s.secret_name.as_deref() == Some(secret))
            || v.projected.as_ref().is_some_and(|p| {
                p.sources.iter().flatten().any(|s| s.secret.as_ref().is_some_and(|r| r.name == secret))
            })
    });
    by_env || by_env_from || by_volume
}

#[derive(Serialize, Debug)]
struct RestartPatch<'a> {
    spec: RestartSpec<'a>,
}
#[derive(Serialize, Debug)]
struct RestartSpec<'a> {
    template: RestartTemplate<'a>,
}
#[derive(Serialize, Debug)]
struct RestartTemplate<'a> {
    metadata: RestartMeta<'a>,
}
#[derive(Serialize, Debug)]
struct RestartMeta<'a> {
    annotations: BTreeMap<&'a str, &'a str>,
}

/// Annotates the pod template of every Deployment and StatefulSet in
/// `namespace` that reads `secret`. Returns how many were restarted.
pub async fn restart_readers(client: &Client, namespace: &str, secret: &str, rotated_at: &str) -> Result<usize, Error> {
    let patch = RestartPatch {
        spec: RestartSpec {
            template: RestartTemplate {
                metadata: RestartMeta { annotations: BTreeMap::from([(ROTATED_AT_ANNOTATION, rotated_at)]) },
            },
        },
    };
    let params = PatchParams { field_manager: Some(RESTART_MANAGER.into()), ..PatchParams::default() };
    let mut restarted = 0;
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), namespace);
    let list = deployments.list(&ListParams::default()).await.map_err(Error::kube("list", "Deployments"))?;
    for d in list
        .items
        .iter()
        .filter(|d| d.spec.as_ref().and_then(|s| s.template.spec.as_ref()).is_some_and(|p| reads_secret(p, secret)))
    {
        deployments
            .patch(&d.name_any(), &params, &Patch::Strategic(&patch))
            .await
            .map_err(Error::kube("restart", format!("Deployment {}", d.name_any())))?;
        restarted += 1;
    }
    let sets: Api<StatefulSet> = Api::namespaced(client.clone(), namespace);
    let list = sets.list(&ListParams::default()).await.map_err(Error::kube("list", "StatefulSets"))?;
    for s in list
        .items
        .iter()
        .filter(|s| s.spec.as_ref().and_then(|s| s.template.spec.as_ref()).is_some_and(|p| reads_secret(p, secret)))
    {
        sets.patch(&s.name_any(), &params, &Patch::Strategic(&patch))
            .await
            .map_err(Error::kube("restart", format!("StatefulSet {}", s.name_any())))?;
        restarted += 1;
    }
    Ok(restarted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(yaml: &str) -> PodSpec {
        yaml_serde::from_str(yaml).unwrap()
    }

    #[test]
    fn finds_every_way_a_pod_reads_a_secret() {
        let env = pod(
            "containers: [{name: a, env: [{name: P, valueFrom: {secretKeyRef: {name: orders-db-credentials, key: password}}}]}]",
        );
        let env_from = pod("containers: [{name: a, envFrom: [{secretRef: {name: orders-db-credentials}}]}]");
        let volume = pod("containers: [{name: a}]\nvolumes: [{name: v, secret: {secretName: orders-db-credentials}}]");
        let projected = pod(
            "containers: [{name: a}]\nvolumes: [{name: v, projected: {sources: [{secret: {name: orders-db-credentials}}]}}]",
        );
        let init = pod(
            "containers: [{name: a}]\ninitContainers: [{name: i, envFrom: [{secretRef: {name: orders-db-credentials}}]}]",
        );
        for (what, p) in
            [("env", env), ("envFrom", env_from), ("volume", volume), ("projected", projected), ("init", init)]
        {
            assert!(reads_secret(&p, "orders-db-credentials"), "{what}");
            assert!(!reads_secret(&p, "billing-db-credentials"), "{what}: another Secret");
        }
        assert!(!reads_secret(&pod("containers: [{name: a}]"), "orders-db-credentials"));
    }
}
