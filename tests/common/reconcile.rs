//! The reconcile test harness over the fake API (`fake_api.rs`, which the
//! including test crate declares as a sibling module): the operator's
//! context with caches filled from the fake's store, one `orders`
//! ServiceDatabase, and what the tests of `reconcile_*.rs` share.

#![allow(dead_code)]

use super::fake_api::FakeApi;
use base64::Engine as _;
use serde_json::json;
use servicedb::api::ServiceDatabase;
use servicedb::controller::{Caches, Context, Settings, Writers, reconcile};
use servicedb::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;

pub const SDB: &str = "/apis/servicedb.dev/v1alpha1/namespaces/shop/servicedatabases/orders";
pub const STS: &str = "/apis/apps/v1/namespaces/shop/statefulsets/orders-db";
pub const PVC: &str = "/api/v1/namespaces/shop/persistentvolumeclaims/data-orders-db-0";
pub const SECRETS: [&str; 2] =
    ["/api/v1/namespaces/shop/secrets/orders-db-admin", "/api/v1/namespaces/shop/secrets/orders-db-credentials"];

/// The operator's context, and the writers that fill its caches (the
/// watches' part, played by [`relist`]).
pub struct Harness {
    pub ctx: Arc<Context>,
    pub writers: std::sync::Mutex<Writers>,
}

pub fn context(fake: &FakeApi, endpoint_overrides: Option<std::path::PathBuf>) -> Harness {
    let settings = Settings {
        operator_namespace: "servicedb-system".into(),
        service_account: "servicedb".into(),
        resync: Duration::from_secs(300),
        concurrent_reconciles: 32,
        endpoint_overrides,
        tools_image: "servicedb-tools:test".into(),
        monitoring_namespace: "monitoring".into(),
        images: Default::default(),
    };
    let (caches, mut writers) = Caches::new(&[None]);
    let ctx = Arc::new(Context::new(fake.client(), caches, settings, Arc::new(Metrics::default()), "test".into()));
    // What the operator loads at start from Secret servicedb-ca.
    ctx.set_authority(servicedb::tls::Authority::generate(std::time::SystemTime::now()).expect("a CA"));
    Harness { ctx, writers: std::sync::Mutex::new(writers.remove(&None).unwrap()) }
}

/// What the watches would have delivered by now: every cache relisted.
pub fn relist(fake: &FakeApi, harness: &Harness) {
    let mut writers = harness.writers.lock().unwrap();
    writers.relist(&|resource| fake.objects_of(resource)).expect("the stored children decode");
    harness.ctx.isolation.relist(None, &|resource| fake.objects_of(resource)).expect("the stored objects decode");
}

/// A fake API holding one new `orders` ServiceDatabase.
pub fn with_database(policy: &str, size: &str) -> FakeApi {
    let fake = FakeApi::default();
    fake.put(
        SDB,
        json!({
            "apiVersion": "servicedb.dev/v1alpha1", "kind": "ServiceDatabase",
            "metadata": {"name": "orders", "namespace": "shop", "uid": "0b1c2d3e-orders", "generation": 1,
                "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"engine": "postgres", "version": "16",
                "service": {"name": "orders", "serviceAccountName": "orders"},
                "storage": {"size": size}, "deletionPolicy": policy}
        }),
    );
    fake
}

/// The ServiceDatabase as the API server has it now, as the watch would deliver it.
pub fn current(fake: &FakeApi) -> Arc<ServiceDatabase> {
    Arc::new(serde_json::from_value(fake.object(SDB).expect("the ServiceDatabase is stored")).unwrap())
}

pub async fn reconcile_once(fake: &FakeApi, harness: &Harness) -> Result<kube::runtime::controller::Action, String> {
    relist(fake, harness);
    // Boxed, as the controller runs it: the future is too large for a test thread's stack.
    let run = tokio::spawn(Box::pin(reconcile(current(fake), harness.ctx.clone())));
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("a reconcile against the fake API finishes within 10 s")
        .expect("the reconcile does not panic")
        .map_err(|e| e.to_string())
}

/// Marks the StatefulSet's pod ready, as the StatefulSet controller would.
pub fn make_ready(fake: &FakeApi) {
    let mut sts = fake.object(STS).expect("the StatefulSet was applied");
    sts["metadata"]["generation"] = json!(1);
    sts["status"] = json!({"replicas": 1, "readyReplicas": 1, "observedGeneration": 1});
    fake.put(STS, sts);
}

pub const STOREFRONT: &str = "/api/v1/namespaces/storefront";
pub const DELIVERED: &str = "orders-db-credentials.shop";

pub fn delivered_paths() -> [String; 3] {
    [
        format!("{STOREFRONT}/secrets/{DELIVERED}"),
        format!("/apis/rbac.authorization.k8s.io/v1/namespaces/storefront/roles/{DELIVERED}"),
        format!("/apis/rbac.authorization.k8s.io/v1/namespaces/storefront/rolebindings/{DELIVERED}"),
    ]
}

/// `orders` in `shop` for a service in `storefront`, whose Namespace carries
/// the opt-in annotation when given.
pub fn with_service_elsewhere(policy: &str, accepts: Option<&str>) -> FakeApi {
    let fake = with_database(policy, "1Gi");
    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["service"]["namespace"] = json!("storefront");
    fake.put(SDB, sdb);
    let annotations = accepts.map_or(json!({}), |a| json!({"servicedb.dev/accept-credentials-from": a}));
    fake.put(
        STOREFRONT,
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "storefront",
            "labels": {"kubernetes.io/metadata.name": "storefront"}, "annotations": annotations}}),
    );
    fake
}

pub fn decoded(secret: &serde_json::Value) -> std::collections::BTreeMap<String, String> {
    secret["data"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
            (k.clone(), String::from_utf8(bytes).unwrap())
        })
        .collect()
}
