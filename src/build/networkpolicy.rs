//! The NetworkPolicy that keeps every other workload away from the database.

use super::Instance;
use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyEgressRule, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// Label every namespace carries with its own name (set by the API server).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";
/// Label of the operator's pods (set by the chart).
pub const OPERATOR_POD_LABELS: [(&str, &str); 1] = [("app.kubernetes.io/name", "servicedb")];

fn selector(labels: BTreeMap<String, String>) -> Option<LabelSelector> {
    Some(LabelSelector { match_labels: Some(labels), ..LabelSelector::default() })
}

fn namespace_selector(namespace: &str) -> Option<LabelSelector> {
    selector(BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())]))
}

fn port(number: i32, protocol: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(number)),
        protocol: Some(protocol.to_string()),
        ..NetworkPolicyPort::default()
    }
}

/// `<name>-db`: ingress on the database port only from the owning service's
/// pods (same namespace) and the operator's pods; egress only to cluster DNS.
pub fn network_policy(instance: &Instance<'_>) -> NetworkPolicy {
    let (db_port, _) = instance.engine.port();
    let owner = NetworkPolicyPeer {
        pod_selector: selector(instance.spec.service.pod_selector()),
        ..NetworkPolicyPeer::default()
    };
    let operator = NetworkPolicyPeer {
        namespace_selector: namespace_selector(instance.operator_namespace),
        pod_selector: selector(OPERATOR_POD_LABELS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..NetworkPolicyPeer::default()
    };
    let dns = NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: namespace_selector("kube-system"),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![port(53, "UDP"), port(53, "TCP")]),
    };
    NetworkPolicy {
        metadata: instance.child_meta(instance.instance_name()),
        spec: Some(NetworkPolicySpec {
            pod_selector: selector(instance.selector_labels()),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(vec![owner, operator]),
                ports: Some(vec![port(i32::from(db_port), "TCP")]),
            }]),
            egress: Some(vec![dns]),
        }),
    }
}
