//! Which Secrets a pod reads: mounted as a volume (also through a projected
//! volume) or taken into its environment, by any of its containers. Image
//! pull Secrets are left out: the node reads them, not the pod.

use k8s_openapi::api::core::v1::{Container, Pod};
use kube::ResourceExt;
use std::collections::{BTreeMap, BTreeSet};

/// A pod reduced to what the audit reads.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PodSecrets {
    pub labels: BTreeMap<String, String>,
    /// `Kind/name` of its controller, e.g. `StatefulSet/orders-db`.
    pub controller: Option<String>,
    pub secrets: BTreeSet<String>,
}

/// A pod is found by the Secrets it reads.
impl super::index::Terms for PodSecrets {
    fn terms(&self) -> Vec<String> {
        self.secrets.iter().cloned().collect()
    }
}

fn container_secrets(c: &Container) -> impl Iterator<Item = &String> {
    let env = c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref()).map(|r| &r.name);
    let env_from = c.env_from.iter().flatten().filter_map(|e| e.secret_ref.as_ref()).map(|r| &r.name);
    env.chain(env_from)
}

pub fn pod_secrets(pod: &Pod) -> PodSecrets {
    let mut secrets = BTreeSet::new();
    if let Some(spec) = &pod.spec {
        for volume in spec.volumes.iter().flatten() {
            secrets.extend(volume.secret.as_ref().and_then(|s| s.secret_name.clone()));
            let projected = volume.projected.as_ref().and_then(|p| p.sources.as_ref());
            secrets.extend(projected.into_iter().flatten().filter_map(|s| s.secret.as_ref()).map(|s| s.name.clone()));
        }
        let ephemeral = spec.ephemeral_containers.iter().flatten().flat_map(|c| {
            let env = c.env.iter().flatten().filter_map(|e| e.value_from.as_ref()?.secret_key_ref.as_ref());
            let env_from = c.env_from.iter().flatten().filter_map(|e| e.secret_ref.as_ref());
            env.map(|r| &r.name).chain(env_from.map(|r| &r.name))
        });
        let containers = spec.containers.iter().chain(spec.init_containers.iter().flatten());
        secrets.extend(containers.flat_map(container_secrets).chain(ephemeral).cloned());
    }
    let controller = pod.owner_references().iter().find(|o| o.controller == Some(true));
    PodSecrets {
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        controller: controller.map(|o| format!("{}/{}", o.kind, o.name)),
        secrets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_way_a_pod_reads_a_secret_is_found_but_pull_secrets() {
        let pod: Pod = serde_json::from_value(json!({"metadata": {"name": "p", "labels": {"app": "x"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x-5d8", "uid": "u", "controller": true}]}, "spec": {
            "imagePullSecrets": [{"name": "registry"}],
            "volumes": [{"name": "a", "secret": {"secretName": "mounted"}},
                        {"name": "b", "projected": {"sources": [{"secret": {"name": "projected"}}, {"configMap": {"name": "cm"}}]}},
                        {"name": "c", "emptyDir": {}}],
            "initContainers": [{"name": "i", "envFrom": [{"secretRef": {"name": "init-env-from"}}]}],
            "containers": [{"name": "c", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "env", "key": "password"}}},
                                                 {"name": "Q", "value": "plain"}]}],
            "ephemeralContainers": [{"name": "debug", "envFrom": [{"secretRef": {"name": "debugged"}}]}]}}))
        .unwrap();
        let found = pod_secrets(&pod);
        assert_eq!(
            found.secrets.iter().map(String::as_str).collect::<Vec<_>>(),
            ["debugged", "env", "init-env-from", "mounted", "projected"]
        );
        assert_eq!(found.labels.get("app").map(String::as_str), Some("x"));
        assert_eq!(found.controller.as_deref(), Some("ReplicaSet/x-5d8"));
        assert!(pod_secrets(&Pod::default()).secrets.is_empty());
    }
}
