//! Typed clients for the two Prometheus Operator kinds the operator writes
//! (only the fields it sets). Their CRDs belong to the Prometheus Operator;
//! servicedb never installs them.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const GROUP_VERSION: &str = "monitoring.coreos.com/v1";

#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[kube(group = "monitoring.coreos.com", version = "v1", kind = "PodMonitor", namespaced)]
#[serde(rename_all = "camelCase")]
pub struct PodMonitorSpec {
    pub selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    pub pod_metrics_endpoints: Vec<PodMetricsEndpoint>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct PodMetricsEndpoint {
    pub port: String,
    pub interval: String,
}

#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
#[kube(group = "monitoring.coreos.com", version = "v1", kind = "PrometheusRule", namespaced)]
pub struct PrometheusRuleSpec {
    pub groups: Vec<RuleGroup>,
}

/// A Prometheus rule group, as in a rules file.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct RuleGroup {
    pub name: String,
    pub rules: Vec<AlertRule>,
}

#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Default)]
pub struct AlertRule {
    pub alert: String,
    pub expr: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
}
