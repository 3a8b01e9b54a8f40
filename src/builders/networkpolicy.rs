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

pub(super) fn selector(labels: BTreeMap<String, String>) -> Option<LabelSelector> {
    Some(LabelSelector { match_labels: Some(labels), ..LabelSelector::default() })
}

fn namespace_selector(namespace: &str) -> Option<LabelSelector> {
    selector(BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), namespace.to_string())]))
}

pub(super) fn port(number: i32, protocol: &str) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(number)),
        protocol: Some(protocol.to_string()),
        ..NetworkPolicyPort::default()
    }
}

/// Egress to the cluster DNS, which every pod needs.
pub(super) fn dns_egress() -> NetworkPolicyEgressRule {
    NetworkPolicyEgressRule {
        to: Some(vec![NetworkPolicyPeer {
            namespace_selector: namespace_selector("kube-system"),
            ..NetworkPolicyPeer::default()
        }]),
        ports: Some(vec![port(53, "UDP"), port(53, "TCP")]),
    }
}

/// `<name>-db`: ingress on the database port only from the owning service's
/// pods (in its namespace), the operator's pods and this instance's backup
/// and restore pods; the exporter's port only from the monitoring
/// namespace; egress only to cluster DNS.
pub fn network_policy(instance: &Instance<'_>, monitoring_namespace: &str) -> NetworkPolicy {
    let (db_port, _) = instance.engine.port();
    // One peer with both selectors: the service's pods in that namespace
    // only (two peers would admit either).
    let owner = NetworkPolicyPeer {
        namespace_selector: instance.service_elsewhere().and_then(namespace_selector),
        pod_selector: selector(instance.spec.service.pod_selector()),
        ..NetworkPolicyPeer::default()
    };
    let operator = NetworkPolicyPeer {
        namespace_selector: namespace_selector(instance.operator_namespace),
        pod_selector: selector(OPERATOR_POD_LABELS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()),
        ..NetworkPolicyPeer::default()
    };
    let mut from = vec![owner, operator];
    if instance.spec.backup.is_some() {
        from.push(NetworkPolicyPeer {
            pod_selector: selector(super::backup::backup_pod_labels(instance)),
            ..NetworkPolicyPeer::default()
        });
    }
    if instance.spec.bootstrap.is_some() {
        from.push(NetworkPolicyPeer {
            pod_selector: selector(super::restore::restore_pod_labels(instance)),
            ..NetworkPolicyPeer::default()
        });
    }
    let mut ingress =
        vec![NetworkPolicyIngressRule { from: Some(from), ports: Some(vec![port(i32::from(db_port), "TCP")]) }];
    if instance.spec.monitoring_enabled() {
        // The exporter's port, from the monitoring namespace only.
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                namespace_selector: namespace_selector(monitoring_namespace),
                ..NetworkPolicyPeer::default()
            }]),
            ports: Some(vec![port(i32::from(instance.engine.exporter("", false).port), "TCP")]),
        });
    }
    NetworkPolicy {
        metadata: instance.child_meta(instance.instance_name()),
        spec: Some(NetworkPolicySpec {
            pod_selector: selector(instance.selector_labels()),
            policy_types: Some(vec!["Ingress".to_string(), "Egress".to_string()]),
            ingress: Some(ingress),
            egress: Some(vec![dns_egress()]),
        }),
    }
}
