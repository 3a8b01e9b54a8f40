//! The servicedb.dev/v1alpha1 API: CRD types and their YAML.

mod backup;
pub mod conditions;
pub mod prometheus;
pub mod quantity;
pub mod reasons;
mod schema;
mod servicedatabase;

pub use backup::*;
pub use schema::KNOWN_FORMATS;
pub use servicedatabase::*;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

/// The CRDs this operator serves, as users apply them.
pub fn crds() -> [CustomResourceDefinition; 2] {
    [ServiceDatabase::crd(), ServiceDatabaseBackup::crd()].map(schema::for_api_server)
}

/// [`crds`] as the multi-document YAML kept in `crds/`.
pub fn crds_yaml() -> Result<String, yaml_serde::Error> {
    let [databases, backups] = crds();
    Ok(format!("---\n{}---\n{}", yaml_serde::to_string(&databases)?, yaml_serde::to_string(&backups)?))
}
