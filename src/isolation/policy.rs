//! Is another NetworkPolicy wider than ours for the database pod?
//!
//! Policies add up: a pod selected by several Ingress policies accepts what
//! any of them admits. So another policy that selects the database pod and
//! admits a source on a port the pod listens on, where ours does not admit
//! that source, opens the database to it. This compares peers by the sets
//! they describe (namespaces, pods), never by their spelling.

use super::selector::{selects, within};
use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::ResourceExt;
use std::collections::BTreeMap;

/// Label every namespace carries with its own name (set by the API server).
const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// The database pod as NetworkPolicies see it.
pub struct Target<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
    /// The TCP ports its containers listen on: number and port name.
    pub ports: &'a [(i32, &'a str)],
}

/// The label that names an instance, which the operator's policies select on.
const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
/// The term of a policy that may select pods of any instance.
pub const ANY_INSTANCE: &str = "*";

/// A policy is found by the instance its pod selector fixes, if any: one
/// that fixes another instance cannot select this one's pod.
impl super::index::Terms for NetworkPolicy {
    fn terms(&self) -> Vec<String> {
        let selector = self.spec.as_ref().and_then(|s| s.pod_selector.as_ref());
        let fixed = selector.and_then(|s| s.match_labels.as_ref()).and_then(|l| l.get(INSTANCE_LABEL));
        vec![fixed.cloned().unwrap_or_else(|| ANY_INSTANCE.to_string())]
    }
}

/// Another policy and the first thing it admits that ours does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WiderPolicy {
    pub name: String,
    pub admits: String,
}

/// Which namespaces a peer covers.
enum Namespaces<'a> {
    /// The policy's own namespace (no namespaceSelector).
    Own,
    Matching(&'a LabelSelector),
}

/// A peer without an ipBlock: namespaces, and the pods in them (an empty
/// selector is every pod).
struct Peer<'a> {
    namespaces: Namespaces<'a>,
    pods: std::borrow::Cow<'a, LabelSelector>,
}

impl<'a> Peer<'a> {
    fn of(peer: &'a NetworkPolicyPeer) -> Option<Peer<'a>> {
        if peer.ip_block.is_some() {
            return None;
        }
        let namespaces = peer.namespace_selector.as_ref().map_or(Namespaces::Own, Namespaces::Matching);
        let pods = peer.pod_selector.as_ref().map_or_else(Default::default, std::borrow::Cow::Borrowed);
        Some(Peer { namespaces, pods })
    }

    /// Whether every pod `self` covers is covered by `wide` as well.
    fn within(&self, wide: &Peer<'_>, own: &str) -> bool {
        let own_labels = BTreeMap::from([(NAMESPACE_NAME_LABEL.to_string(), own.to_string())]);
        let own_selector = LabelSelector { match_labels: Some(own_labels.clone()), ..Default::default() };
        let namespaces = match (&self.namespaces, &wide.namespaces) {
            (Namespaces::Own, Namespaces::Own) => true,
            (Namespaces::Own, Namespaces::Matching(w)) => selects(w, &own_labels),
            (Namespaces::Matching(n), Namespaces::Own) => within(n, &own_selector),
            (Namespaces::Matching(n), Namespaces::Matching(w)) => within(n, w),
        };
        namespaces && within(&self.pods, &wide.pods)
    }
}

fn describe_selector(selector: &LabelSelector) -> String {
    let pairs = selector.match_labels.iter().flatten().map(|(k, v)| format!("{k}={v}"));
    let expressions =
        selector.match_expressions.iter().flatten().map(|r| match r.values.as_deref().unwrap_or_default() {
            [] => format!("{} {}", r.key, r.operator),
            values => format!("{} {} ({})", r.key, r.operator, values.join(",")),
        });
    pairs.chain(expressions).collect::<Vec<_>>().join(",")
}

fn describe(peer: &NetworkPolicyPeer, own: &str) -> String {
    if let Some(block) = &peer.ip_block {
        let except = block.except.as_deref().map(|e| format!(" except {}", e.join(","))).unwrap_or_default();
        return format!("addresses {}{except}", block.cidr);
    }
    let pods = match peer.pod_selector.as_ref().map(describe_selector).filter(|s| !s.is_empty()) {
        Some(s) => format!("pods {s}"),
        None => "every pod".to_string(),
    };
    match peer.namespace_selector.as_ref().map(describe_selector) {
        None => format!("{pods} in namespace {own}"),
        Some(s) if s.is_empty() => format!("{pods} in any namespace"),
        Some(s) => format!("{pods} in namespaces {s}"),
    }
}

fn admits_port(port: &NetworkPolicyPort, (number, name): (i32, &str)) -> bool {
    if port.protocol.as_deref().unwrap_or("TCP") != "TCP" {
        return false;
    }
    match &port.port {
        None => true,
        Some(IntOrString::Int(first)) => match port.end_port {
            Some(last) => (*first..=last).contains(&number),
            None => *first == number,
        },
        Some(IntOrString::String(port_name)) => port_name == name,
    }
}

fn rule_admits_port(ports: Option<&Vec<NetworkPolicyPort>>, port: (i32, &str)) -> bool {
    ports.is_none_or(|p| p.is_empty() || p.iter().any(|p| admits_port(p, port)))
}

/// Whether a policy constrains the ingress of the target pod.
fn selects_target(spec: &NetworkPolicySpec, target: &Target<'_>) -> bool {
    let selected = spec.pod_selector.as_ref().is_none_or(|s| selects(s, target.labels));
    // Without policyTypes a policy is an Ingress policy.
    let ingress = spec.policy_types.as_ref().is_none_or(|types| types.iter().any(|t| t == "Ingress"));
    selected && ingress
}

/// What `theirs` admits to the target that `ours` does not, if anything.
pub fn wider(ours: &NetworkPolicy, theirs: &NetworkPolicy, target: &Target<'_>) -> Option<WiderPolicy> {
    let spec = theirs.spec.as_ref()?;
    if !selects_target(spec, target) {
        return None;
    }
    let own = target.namespace;
    let our_rules = ours.spec.as_ref().and_then(|s| s.ingress.as_deref()).unwrap_or_default();
    let found = |admits: String| Some(WiderPolicy { name: theirs.name_any(), admits });
    for rule in spec.ingress.iter().flatten() {
        for &port in target.ports {
            if !rule_admits_port(rule.ports.as_ref(), port) {
                continue;
            }
            let ours_here: Vec<Peer<'_>> = our_rules
                .iter()
                .filter(|r| rule_admits_port(r.ports.as_ref(), port))
                .flat_map(|r| r.from.iter().flatten().filter_map(Peer::of))
                .collect();
            let Some(peers) = rule.from.as_ref().filter(|p| !p.is_empty()) else {
                return found(format!("any source on port {}", port.0));
            };
            for peer in peers {
                let admitted = Peer::of(peer).is_some_and(|p| ours_here.iter().any(|o| p.within(o, own)));
                if !admitted {
                    return found(format!("{} on port {}", describe(peer, own), port.0));
                }
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy(name: &str, spec: serde_json::Value) -> NetworkPolicy {
        serde_json::from_value(json!({"metadata": {"name": name, "namespace": "shop"}, "spec": spec})).unwrap()
    }

    /// Ours, as the builder makes it: the service's pods and the operator on
    /// 5432, the monitoring namespace on 9187.
    fn ours() -> NetworkPolicy {
        policy(
            "orders-db",
            json!({"podSelector": {"matchLabels": {"app.kubernetes.io/instance": "orders", "app.kubernetes.io/component": "database"}},
                "policyTypes": ["Ingress", "Egress"],
                "ingress": [
                    {"from": [{"podSelector": {"matchLabels": {"app": "orders"}}},
                              {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "servicedb-system"}},
                               "podSelector": {"matchLabels": {"app.kubernetes.io/name": "servicedb"}}}],
                     "ports": [{"port": 5432, "protocol": "TCP"}]},
                    {"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
                     "ports": [{"port": 9187, "protocol": "TCP"}]}]}),
        )
    }

    fn verdict(spec: serde_json::Value) -> Option<String> {
        let labels = BTreeMap::from([
            ("app.kubernetes.io/instance".to_string(), "orders".to_string()),
            ("app.kubernetes.io/component".to_string(), "database".to_string()),
        ]);
        let target = Target { namespace: "shop", labels: &labels, ports: &[(5432, "postgres"), (9187, "metrics")] };
        wider(&ours(), &policy("theirs", spec), &target).map(|w| w.admits)
    }

    #[test]
    fn policies_that_open_the_database_wider_are_named_with_what_they_admit() {
        let db = json!({"matchLabels": {"app.kubernetes.io/component": "database"}});
        let cases: Vec<(&str, serde_json::Value, Option<&str>)> = vec![
            ("allow all ingress", json!({"podSelector": {}, "ingress": [{}]}), Some("any source on port 5432")),
            (
                "another app of the namespace",
                json!({"podSelector": db, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "carts"}}}]}]}),
                Some("pods app=carts in namespace shop on port 5432"),
            ),
            (
                "every namespace",
                json!({"podSelector": db, "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": 5432}]}]}),
                Some("every pod in any namespace on port 5432"),
            ),
            (
                "an address block",
                json!({"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}}]}]}),
                Some("addresses 10.0.0.0/8 on port 5432"),
            ),
            (
                "the owner's app in every namespace",
                json!({"podSelector": db, "ingress": [{"from": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "orders"}}}]}]}),
                Some("pods app=orders in any namespace on port 5432"),
            ),
            (
                "a port range over the database port",
                json!({"podSelector": db, "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": 5000, "endPort": 6000}]}]}),
                Some("every pod in namespace shop on port 5432"),
            ),
            (
                "the exporter's port from the whole cluster",
                json!({"podSelector": db, "ingress": [{"from": [{"namespaceSelector": {}}], "ports": [{"port": "metrics"}]}]}),
                Some("every pod in any namespace on port 9187"),
            ),
            (
                "no policyTypes is an ingress policy",
                json!({"podSelector": db, "ingress": [{"from": [{"podSelector": {"matchExpressions": [{"key": "app", "operator": "Exists"}]}}]}]}),
                Some("pods app Exists in namespace shop on port 5432"),
            ),
            // Not wider:
            ("selects other pods", json!({"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{}]}), None),
            ("egress only", json!({"podSelector": {}, "policyTypes": ["Egress"], "egress": [{}]}), None),
            ("deny all", json!({"podSelector": {}, "policyTypes": ["Ingress"]}), None),
            (
                "a port the pod does not listen on",
                json!({"podSelector": {}, "ingress": [{"ports": [{"port": 8080}]}]}),
                None,
            ),
            ("UDP", json!({"podSelector": {}, "ingress": [{"ports": [{"port": 5432, "protocol": "UDP"}]}]}), None),
            (
                "the owner's pods, narrower",
                json!({"podSelector": db, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "orders", "tier": "api"}}}], "ports": [{"port": 5432}]}]}),
                None,
            ),
            (
                "the owner's pods, by their namespace's name",
                json!({"podSelector": db, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "shop"}},
                    "podSelector": {"matchExpressions": [{"key": "app", "operator": "In", "values": ["orders"]}]}}], "ports": [{"port": 5432}]}]}),
                None,
            ),
            (
                "monitoring on the exporter's port",
                json!({"podSelector": db, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}], "ports": [{"port": 9187}]}]}),
                None,
            ),
        ];
        for (case, spec, expected) in cases {
            assert_eq!(verdict(spec).as_deref(), expected, "{case}");
        }
    }

    #[test]
    fn monitoring_on_the_database_port_is_wider_than_monitoring_on_the_exporters() {
        let spec = json!({"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}]});
        assert_eq!(
            verdict(spec).as_deref(),
            Some("every pod in namespaces kubernetes.io/metadata.name=monitoring on port 5432")
        );
    }

    #[test]
    fn our_own_policy_is_not_wider_than_itself() {
        let ours = ours();
        let labels = BTreeMap::from([
            ("app.kubernetes.io/instance".to_string(), "orders".to_string()),
            ("app.kubernetes.io/component".to_string(), "database".to_string()),
        ]);
        let target = Target { namespace: "shop", labels: &labels, ports: &[(5432, "postgres"), (9187, "metrics")] };
        assert_eq!(wider(&ours, &ours, &target), None);
    }
}
