//! The servicedb.dev/v1alpha1 API: CRD types and their YAML.

pub mod conditions;
pub mod quantity;
mod servicedatabase;

pub use servicedatabase::*;

use kube::CustomResourceExt;

/// The CRDs this operator serves, as the multi-document YAML kept in `crds/`.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let crd = serde_yaml::to_string(&ServiceDatabase::crd())?;
    Ok(format!("---\n{crd}"))
}
