//! The cluster and namespace a command works in: the kubeconfig (or the
//! in-cluster account), `-n` or the context's namespace.

use super::failure::Failure;
use crate::api::ServiceDatabase;
use crate::builders::Instance;
use kube::{Api, Client};

pub struct Target {
    pub client: Client,
    pub namespace: String,
}

impl Target {
    pub async fn connect(namespace: Option<String>) -> Result<Target, Failure> {
        crate::install_crypto_provider();
        let config = kube::Config::infer().await.map_err(|e| {
            Failure::Failed(format!("cannot load a kubeconfig (KUBECONFIG, ~/.kube/config or in-cluster): {e}"))
        })?;
        let namespace = namespace.unwrap_or_else(|| config.default_namespace.clone());
        let client = Client::try_from(config).map_err(|e| Failure::Failed(format!("cannot build a client: {e}")))?;
        Ok(Target { client, namespace })
    }

    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The ServiceDatabase `name`, or "not found" saying where we looked.
    /// The names of an instance's children, as the operator makes them.
    pub fn children<'a>(sdb: &'a ServiceDatabase) -> Result<Instance<'a>, Failure> {
        // The operator namespace plays no part in a child's name.
        Instance::new(sdb, "").map_err(|e| Failure::Failed(e.to_string()))
    }

    pub async fn instance(&self, name: &str) -> Result<ServiceDatabase, Failure> {
        self.api::<ServiceDatabase>()
            .get_opt(name)
            .await
            .map_err(Failure::kube("get", &format!("ServiceDatabase {}/{name}", self.namespace)))?
            .ok_or_else(|| {
                Failure::NotFound(format!(
                    "ServiceDatabase {name} not found in namespace {ns} (kubectl get sdb -n {ns} lists them)",
                    ns = self.namespace
                ))
            })
    }
}
