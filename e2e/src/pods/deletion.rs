use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret, Service};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::Role;
use std::time::Duration;

pub async fn retain(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-retain").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    let first = env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let password = env.password(&ns, "orders").await.ok_or("no password")?;
    kubectl(&["-n", &ns, "delete", "sdb", "orders", "--wait=true", "--timeout=60s"]).await?;

    let sets = env.api::<StatefulSet>(&ns);
    wait_for("the StatefulSet to be garbage-collected", Duration::from_secs(60), || async {
        sets.get_opt("orders-db").await.ok()?.is_none().then_some(())
    })
    .await?;
    let claim = env.api::<PersistentVolumeClaim>(&ns).get_opt("data-orders-db-0").await.map_err(|e| e.to_string())?;
    ensure(claim.is_some_and(|c| c.metadata.deletion_timestamp.is_none()), || "the data PVC was deleted".into())?;
    for name in ["orders-db-credentials", "orders-db-admin"] {
        let secret =
            env.api::<Secret>(&ns).get_opt(name).await.map_err(|e| e.to_string())?.ok_or(format!("{name} deleted"))?;
        ensure(secret.metadata.owner_references.unwrap_or_default().is_empty(), || format!("{name} still owned"))?;
    }
    // Give the garbage collector time to act on anything still owned.
    tokio::time::sleep(Duration::from_secs(3)).await;
    ensure(env.password(&ns, "orders").await.as_deref() == Some(password.as_str()), || "credentials lost".into())?;

    // The same name again: the data volume and the passwords are adopted.
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    let second = env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    ensure(second.metadata.uid != first.metadata.uid, || "not a new object".into())?;
    ensure(env.password(&ns, "orders").await.as_deref() == Some(password.as_str()), || {
        "password regenerated on re-create".into()
    })?;
    let owner = env
        .api::<Secret>(&ns)
        .get("orders-db-credentials")
        .await
        .map_err(|e| e.to_string())?
        .metadata
        .owner_references
        .unwrap_or_default();
    ensure(owner.iter().any(|o| Some(&o.uid) == second.metadata.uid.as_ref()), || "Secret not adopted".into())
}

pub async fn delete(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-delete").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "  deletionPolicy: Delete\n")).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    kubectl(&["-n", &ns, "delete", "sdb", "orders", "--wait=true", "--timeout=60s"]).await?;
    let gone = || async {
        let none = |r: Result<Option<_>, kube::Error>| matches!(r, Ok(None));
        let all_gone = none(env.api::<StatefulSet>(&ns).get_opt("orders-db").await.map(|o| o.map(drop)))
            && none(env.api::<Service>(&ns).get_opt("orders-db").await.map(|o| o.map(drop)))
            && none(env.api::<Service>(&ns).get_opt("orders-db-headless").await.map(|o| o.map(drop)))
            && none(env.api::<Secret>(&ns).get_opt("orders-db-credentials").await.map(|o| o.map(drop)))
            && none(env.api::<Secret>(&ns).get_opt("orders-db-admin").await.map(|o| o.map(drop)))
            && none(env.api::<NetworkPolicy>(&ns).get_opt("orders-db").await.map(|o| o.map(drop)))
            && none(env.api::<Role>(&ns).get_opt("orders-db-credentials").await.map(|o| o.map(drop)))
            && none(env.api::<ConfigMap>(&ns).get_opt("orders-db-init").await.map(|o| o.map(drop)))
            && none(env.api::<PersistentVolumeClaim>(&ns).get_opt("data-orders-db-0").await.map(|o| o.map(drop)));
        all_gone.then_some(())
    };
    wait_for("every child and the PVC to be deleted", Duration::from_secs(90), gone).await
}
