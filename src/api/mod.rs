//! The servicedb.dev/v1alpha1 API: CRD types and their YAML.

mod backup;
pub mod conditions;
pub mod prometheus;
pub mod quantity;
mod servicedatabase;

pub use backup::*;
pub use servicedatabase::*;

use kube::CustomResourceExt;

/// The CRDs this operator serves, as the multi-document YAML kept in `crds/`.
pub fn crds_yaml() -> Result<String, serde_yaml::Error> {
    let databases = serde_yaml::to_string(&ServiceDatabase::crd())?;
    let backups = serde_yaml::to_string(&ServiceDatabaseBackup::crd())?;
    Ok(format!("---\n{databases}---\n{backups}"))
}
