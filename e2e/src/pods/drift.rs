use super::env::PodEnv;
use crate::cluster::{Outcome, ensure, kubectl, kubectl_apply, sdb_yaml, wait_for};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Service;
use k8s_openapi::api::networking::v1::NetworkPolicy;
use std::time::{Duration, Instant};

const REPAIR_WITHIN: Duration = Duration::from_secs(10);

pub async fn repaired(env: &PodEnv) -> Outcome {
    let ns = env.namespace("e2e-drift").await?;
    kubectl_apply(&sdb_yaml(&ns, "orders", "")).await?;
    env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let password = env.password(&ns, "orders").await.ok_or("no password")?;
    let policies = env.api::<NetworkPolicy>(&ns);
    let original = policies.get("orders-db").await.map_err(|e| e.to_string())?.spec;

    // A deleted Service comes back.
    let services = env.api::<Service>(&ns);
    let old_uid = services.get("orders-db").await.map_err(|e| e.to_string())?.metadata.uid;
    kubectl(&["-n", &ns, "delete", "service", "orders-db", "--wait=true"]).await?;
    let start = Instant::now();
    wait_for("the Service to be re-created", REPAIR_WITHIN, || async {
        let svc = services.get_opt("orders-db").await.ok().flatten()?;
        (svc.metadata.uid != old_uid).then_some(())
    })
    .await?;
    crate::cluster::step(&format!("  Service restored in {:?}", start.elapsed()));

    // An ingress rule opened to everyone is closed again.
    kubectl(&[
        "-n",
        &ns,
        "patch",
        "networkpolicy",
        "orders-db",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/ingress","value":[{}]}]"#,
    ])
    .await?;
    let start = Instant::now();
    wait_for("the NetworkPolicy to be restored", REPAIR_WITHIN, || async {
        let live = policies.get_opt("orders-db").await.ok().flatten()?;
        (live.spec == original).then_some(())
    })
    .await?;
    crate::cluster::step(&format!("  NetworkPolicy restored in {:?}", start.elapsed()));

    // A StatefulSet scaled to zero is scaled back.
    kubectl(&["-n", &ns, "scale", "statefulset", "orders-db", "--replicas=0"]).await?;
    let sets = env.api::<StatefulSet>(&ns);
    let start = Instant::now();
    wait_for("the StatefulSet to be scaled back to 1", REPAIR_WITHIN, || async {
        let sts = sets.get_opt("orders-db").await.ok().flatten()?;
        (sts.spec?.replicas == Some(1)).then_some(())
    })
    .await?;
    crate::cluster::step(&format!("  replicas restored in {:?}", start.elapsed()));

    env.wait_ready(&ns, "orders", Duration::from_secs(240)).await?;
    let after = env.password(&ns, "orders").await.ok_or("password gone")?;
    ensure(after == password, || "the password changed during drift repair".into())
}
