//! The client Service and the StatefulSet's headless Service.

use super::Instance;
use k8s_openapi::api::core::v1::{Service, ServicePort, ServiceSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

fn spec(instance: &Instance<'_>) -> ServiceSpec {
    let (port, name) = instance.engine.port();
    ServiceSpec {
        selector: Some(instance.selector_labels()),
        ports: Some(vec![ServicePort {
            name: Some(name.to_string()),
            port: i32::from(port),
            target_port: Some(IntOrString::String(name.to_string())),
            protocol: Some("TCP".to_string()),
            ..ServicePort::default()
        }]),
        ..ServiceSpec::default()
    }
}

/// `<name>-db`: the stable ClusterIP address clients connect to.
pub fn client_service(instance: &Instance<'_>) -> Service {
    Service {
        metadata: instance.child_meta(instance.instance_name()),
        spec: Some(ServiceSpec { type_: Some("ClusterIP".to_string()), ..spec(instance) }),
        ..Service::default()
    }
}

/// `<name>-db-headless`: the StatefulSet's governing Service (stable pod DNS).
pub fn headless_service(instance: &Instance<'_>) -> Service {
    Service {
        metadata: instance.child_meta(instance.headless_service_name()),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".to_string()),
            publish_not_ready_addresses: Some(true),
            ..spec(instance)
        }),
        ..Service::default()
    }
}
