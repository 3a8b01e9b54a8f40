//! Engines and versions this machine has no image for (MySQL is not in
//! Debian; MariaDB 11.4 and Redis 7.4 are newer than its packages): the same
//! API over them, with the official images named in the pods and real
//! servers standing in for the containers.

use crate::cluster::{Outcome, ensure, kubectl_apply, sdb_yaml};
use crate::harness::Env;
use k8s_openapi::api::core::v1::{Pod, Secret};
use std::time::Duration;

/// Every engine behind the same API: Ready, its own port, the same keys.
pub async fn every_engine(env: &Env) -> Outcome {
    let ns = env.namespace("e2e-engines").await?;
    for (engine, version, port) in [("mysql", "8.4", "3306"), ("mariadb", "11.4", "3306"), ("redis", "7.4", "6379")] {
        let name = format!("app-{engine}");
        let yaml = sdb_yaml(&ns, &name, "")
            .replace("engine: postgres", &format!("engine: {engine}"))
            .replace("\"15\"", &format!("\"{version}\""));
        kubectl_apply(&yaml).await?;
        let sdb = env.wait_ready(&ns, &name, Duration::from_secs(60)).await?;
        let endpoint = sdb.status.clone().and_then(|s| s.endpoint).ok_or("no endpoint")?;
        ensure(endpoint.port.to_string() == port, || format!("{engine}: port {}", endpoint.port))?;
        let secret = env.api::<Secret>(&ns).get(&format!("{name}-db-credentials")).await.map_err(|e| e.to_string())?;
        let data = secret.data.unwrap_or_default();
        for key in ["username", "password", "host", "port", "database", "uri"] {
            ensure(data.contains_key(key), || format!("{engine}: no {key}"))?;
        }
        ensure(data.contains_key("jdbc-uri") == (engine != "redis"), || format!("{engine}: jdbc-uri"))?;
        let administered = sdb
            .status
            .as_ref()
            .is_some_and(|s| s.conditions.iter().any(|c| c.type_ == "CredentialsReady" && c.status == "True"));
        ensure(administered, || format!("{engine}: CredentialsReady is not True"))?;
        let pod = env.api::<Pod>(&ns).get(&format!("{name}-db-0")).await.map_err(|e| format!("{engine} pod: {e}"))?;
        let image = pod.spec.and_then(|s| s.containers.into_iter().next()).and_then(|c| c.image).unwrap_or_default();
        ensure(image == format!("docker.io/library/{engine}:{version}"), || format!("{engine}: image {image}"))?;
    }
    Ok(())
}
