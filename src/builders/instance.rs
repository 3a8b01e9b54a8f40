//! Everything the builders need to know about one ServiceDatabase, resolved
//! once: names, namespace, owner reference, engine.

use crate::api::{ServiceDatabase, ServiceDatabaseSpec};
use crate::engine::{self, Engine};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::Resource;
use std::collections::BTreeMap;

pub const MANAGED_BY: &str = "servicedb";
/// How every credentials Secret's name ends (and a delivered copy's, before
/// the dot and the source namespace).
pub const CREDENTIALS_SUFFIX: &str = "-db-credentials";
/// How the admin Secret's and the backup login Secret's names end.
pub const ADMIN_SUFFIX: &str = "-db-admin";
pub const BACKUP_LOGIN_SUFFIX: &str = "-db-backup-login";
/// Annotation holding a hash of what the operator last applied to a child.
pub const DESIRED_HASH_ANNOTATION: &str = "servicedb.dev/desired-hash";
/// Annotation of the StatefulSet: the engine version it runs. A running
/// instance keeps its version whatever image the version maps to.
pub const ENGINE_VERSION_ANNOTATION: &str = "servicedb.dev/engine-version";

/// One ServiceDatabase, ready to build from.
#[derive(Clone)]
pub struct Instance<'a> {
    pub name: &'a str,
    pub namespace: &'a str,
    pub spec: &'a ServiceDatabaseSpec,
    pub engine: &'static dyn Engine,
    owner: OwnerReference,
    /// Namespace of the operator's pods, let into the database port.
    pub operator_namespace: &'a str,
}

/// The object lacks what every stored object has (a name, a namespace, a uid).
#[derive(Debug, thiserror::Error)]
#[error("the ServiceDatabase has no {0}; it does not come from the API server")]
pub struct NotStored(pub &'static str);

impl<'a> Instance<'a> {
    pub fn new(sdb: &'a ServiceDatabase, operator_namespace: &'a str) -> Result<Self, NotStored> {
        let name = sdb.metadata.name.as_deref().ok_or(NotStored("name"))?;
        let namespace = sdb.metadata.namespace.as_deref().ok_or(NotStored("namespace"))?;
        let owner = sdb.controller_owner_ref(&()).ok_or(NotStored("uid"))?;
        Ok(Self {
            name,
            namespace,
            spec: &sdb.spec,
            engine: engine::for_kind(sdb.spec.engine),
            owner,
            operator_namespace,
        })
    }

    /// The uid of the ServiceDatabase: children it controls name it.
    pub fn owner_uid(&self) -> &str {
        &self.owner.uid
    }

    /// Name of the StatefulSet and the client Service: `<name>-db`.
    pub fn instance_name(&self) -> String {
        format!("{}-db", self.name)
    }
    pub fn headless_service_name(&self) -> String {
        format!("{}-db-headless", self.name)
    }
    pub fn admin_secret_name(&self) -> String {
        format!("{}{ADMIN_SUFFIX}", self.name)
    }
    pub fn credentials_secret_name(&self) -> String {
        format!("{}{CREDENTIALS_SUFFIX}", self.name)
    }
    pub fn backup_login_secret_name(&self) -> String {
        format!("{}{BACKUP_LOGIN_SUFFIX}", self.name)
    }
    pub fn init_config_name(&self) -> String {
        format!("{}-db-init", self.name)
    }
    /// The backup CronJob and the backup pods' NetworkPolicy.
    pub fn backup_name(&self) -> String {
        format!("{}-db-backup", self.name)
    }
    /// The restore Job of `spec.bootstrap` and its pods' NetworkPolicy.
    pub fn restore_name(&self) -> String {
        format!("{}-db-restore", self.name)
    }
    /// The Job of the backup taken before deletion (deletionPolicy Snapshot).
    pub fn final_backup_name(&self) -> String {
        format!("{}-db-final-backup", self.name)
    }
    /// The StatefulSet's one pod.
    pub fn pod_name(&self) -> String {
        format!("{}-0", self.instance_name())
    }
    /// The PVC the StatefulSet controller creates from the `data` template.
    pub fn data_claim_name(&self) -> String {
        format!("data-{}", self.pod_name())
    }
    /// Login and database of the service: the object name as an identifier.
    pub fn app_identifier(&self) -> String {
        self.name.replace('-', "_")
    }
    /// The service's login in a rotation slot: A owns the data, B acts as A.
    pub fn login_name(&self, slot: crate::builders::secret::Slot) -> String {
        match slot {
            crate::builders::secret::Slot::A => self.app_identifier(),
            crate::builders::secret::Slot::B => format!("{}_b", self.app_identifier()),
        }
    }

    /// Namespace of the owning service's pods: `spec.service.namespace`, or this one.
    pub fn service_namespace(&self) -> &'a str {
        self.spec.service.namespace.as_deref().unwrap_or(self.namespace)
    }
    /// The owning service's namespace when it is not this one: the
    /// credentials are delivered there.
    pub fn service_elsewhere(&self) -> Option<&'a str> {
        Some(self.service_namespace()).filter(|ns| *ns != self.namespace)
    }
    /// The credentials Secret (and its Role and RoleBinding) delivered into
    /// the service's namespace: `<name>-db-credentials.<this namespace>`.
    /// The dot cannot occur in either part, so two ServiceDatabases never
    /// deliver the same name, nor collide with one of that namespace's own.
    pub fn delivered_credentials_name(&self) -> String {
        format!("{}.{}", self.credentials_secret_name(), self.namespace)
    }

    /// The client Service's DNS name inside the cluster.
    pub fn host(&self) -> String {
        format!("{}.{}.svc", self.instance_name(), self.namespace)
    }

    /// `app.kubernetes.io/*` labels of every child; also the pod selector.
    pub fn selector_labels(&self) -> BTreeMap<String, String> {
        BTreeMap::from([
            ("app.kubernetes.io/name".to_string(), self.spec.engine.as_str().to_string()),
            ("app.kubernetes.io/instance".to_string(), self.name.to_string()),
            ("app.kubernetes.io/component".to_string(), "database".to_string()),
            ("app.kubernetes.io/managed-by".to_string(), MANAGED_BY.to_string()),
        ])
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        let mut labels = self.selector_labels();
        labels.insert("app.kubernetes.io/part-of".to_string(), self.spec.service.name.clone());
        labels
    }

    /// Metadata of a child: deterministic name, labels, controller owner reference.
    pub fn child_meta(&self, name: String) -> ObjectMeta {
        ObjectMeta {
            name: Some(name),
            namespace: Some(self.namespace.to_string()),
            labels: Some(self.labels()),
            owner_references: Some(vec![self.owner.clone()]),
            ..ObjectMeta::default()
        }
    }
}
