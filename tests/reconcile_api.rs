//! The reconcile against an in-process API server (tests/common/fake_api.rs):
//! which requests it makes, in which order, and what it never writes. No
//! cluster and no database server; administration targets a closed loopback
//! port where a test needs it to run.

#[path = "common/fake_api.rs"]
mod fake_api;
#[path = "common/reconcile.rs"]
mod reconcile;

use base64::Engine as _;
use fake_api::{FakeApi, Recorded};
use reconcile::*;
use serde_json::json;
use servicedb::controller::{FIELD_MANAGER, FINALIZER};

fn writes(log: &[Recorded]) -> Vec<&Recorded> {
    log.iter().filter(|r| r.verb() != "get").collect()
}

/// Position of the first write to `resource`/`name`.
fn first_write(log: &[Recorded], resource: &str, name: &str) -> usize {
    writes(log)
        .iter()
        .position(|r| r.target() == (resource.to_string(), name.to_string()))
        .unwrap_or_else(|| panic!("no write to {resource}/{name}; writes: {:#?}", describe(log)))
}

fn describe(log: &[Recorded]) -> Vec<String> {
    writes(log).iter().map(|r| format!("{} {}", r.verb(), r.path)).collect()
}

/// Creates the data claim, as the StatefulSet controller would.
/// A claim as the StatefulSet controller makes it: labelled as its template.
fn create_claim(fake: &FakeApi, size: &str) {
    let labels =
        fake.object(STS).expect("the StatefulSet is stored")["spec"]["volumeClaimTemplates"][0]["metadata"]["labels"]
            .clone();
    fake.put(
        PVC,
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": "data-orders-db-0", "namespace": "shop", "labels": labels},
            "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}}),
    );
}

/// Turns nightly backups to `volume` on in the stored ServiceDatabase.
fn with_backups(fake: &FakeApi, volume: serde_json::Value) {
    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["backup"] = json!({"schedule": "0 3 * * *", "destination": {"volume": volume}});
    fake.put(SDB, sdb);
}

fn claim_size(fake: &FakeApi) -> String {
    let pvc = fake.object(PVC).expect("the claim is stored");
    pvc["spec"]["resources"]["requests"]["storage"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn first_reconcile_adds_the_finalizer_then_applies_secrets_and_the_network_policy_before_the_statefulset() {
    let fake = with_database("Retain", "1Gi");
    let ctx = context(&fake, None);
    reconcile_once(&fake, &ctx).await.expect("the first reconcile succeeds");
    let log = fake.log();

    let finalizer = first_write(&log, "servicedatabases", "orders");
    let first = &writes(&log)[finalizer];
    assert_eq!(first.verb(), "merge", "the finalizer is a merge patch guarded by resourceVersion");
    assert!(!first.is_status());
    assert_eq!(first.body["metadata"]["finalizers"], json!([FINALIZER]));
    assert_eq!(finalizer, 0, "nothing is written before the finalizer: {:#?}", describe(&log));

    let admin = first_write(&log, "secrets", "orders-db-admin");
    let credentials = first_write(&log, "secrets", "orders-db-credentials");
    let policy = first_write(&log, "networkpolicies", "orders-db");
    let statefulset = first_write(&log, "statefulsets", "orders-db");
    let order = describe(&log);
    assert!(admin < credentials, "the admin Secret keeps a password before the service's Secret names it: {order:#?}");
    assert!(credentials < statefulset, "the StatefulSet reads the Secrets: {order:#?}");
    assert!(policy < statefulset, "the database is never reachable without its NetworkPolicy: {order:#?}");
    for service in ["orders-db-headless", "orders-db"] {
        let at = first_write(&log, "services", service);
        assert!(policy < at, "Service {service} exists only behind the NetworkPolicy: {order:#?}");
    }

    let children: Vec<&Recorded> = writes(&log)
        .into_iter()
        .filter(|r| !r.path.contains("servicedatabases") && !r.path.contains("/events"))
        .collect();
    assert!(!children.is_empty());
    for child in &children {
        assert_eq!(child.verb(), "apply", "{} is server-side applied", child.path);
        assert!(child.query_has(&format!("fieldManager={FIELD_MANAGER}")), "{} {}", child.path, child.query);
        assert!(child.query_has("force=true"), "{} takes its fields over: {}", child.path, child.query);
        let owner = &child.body["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], "0b1c2d3e-orders", "{} is owned by its ServiceDatabase", child.path);
        assert_eq!(owner["controller"], true, "{}", child.path);
    }
    assert!(log.iter().all(|r| r.verb() != "delete"), "a first reconcile deletes nothing: {order:#?}");

    // A second reconcile of the unchanged object writes no child.
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("the second reconcile succeeds");
    let again = fake.log();
    let rewritten: Vec<String> = writes(&again)
        .iter()
        .filter(|r| !r.path.contains("servicedatabases") && !r.path.contains("/events"))
        .map(|r| r.path.clone())
        .collect();
    assert!(rewritten.is_empty(), "a steady state makes no child writes: {rewritten:#?}");
}

/// Every value under a key naming a password (or hash) in the applied Secrets.
fn secret_values(fake: &FakeApi) -> Vec<String> {
    let mut values = Vec::new();
    for path in SECRETS {
        let secret = fake.object(path).unwrap_or_else(|| panic!("{path} was applied"));
        let decoded = secret["data"].as_object().into_iter().flatten().filter_map(|(k, v)| {
            let bytes = base64::engine::general_purpose::STANDARD.decode(v.as_str()?).ok()?;
            Some((k.clone(), String::from_utf8(bytes).ok()?))
        });
        let plain = secret["stringData"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())));
        for (key, value) in decoded.chain(plain) {
            let secretive =
                ["password", "hash", "uri", "url", "token", "acl"].iter().any(|w| key.to_lowercase().contains(w));
            if secretive && value.len() >= 8 {
                values.push(value);
            }
        }
    }
    values
}

#[tokio::test]
async fn secret_contents_never_reach_status_or_events() {
    let fake = with_database("Retain", "1Gi");
    // Administration runs once the pod is ready and fails: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("endpoints.json");
    std::fs::write(&overrides, format!(r#"{{"shop/orders-db": "127.0.0.1:{closed}"}}"#)).unwrap();
    let ctx = context(&fake, Some(overrides));

    reconcile_once(&fake, &ctx).await.expect("the first reconcile succeeds");
    make_ready(&fake);
    let failed = reconcile_once(&fake, &ctx).await.expect_err("administration of a closed port fails");
    make_ready(&fake);
    let _ = reconcile_once(&fake, &ctx).await;

    let passwords = secret_values(&fake);
    assert!(passwords.len() >= 3, "admin, app and monitor passwords were generated: {}", passwords.len());
    let log = fake.log();
    let statuses: Vec<&Recorded> = log.iter().filter(|r| r.is_status() && r.verb() != "get").collect();
    let events: Vec<&Recorded> = log.iter().filter(|r| r.path.contains("/events") && r.verb() != "get").collect();
    assert!(statuses.len() >= 2, "status was written while provisioning and on failure: {}", statuses.len());
    assert!(!events.is_empty(), "conditions that changed were recorded as Events");
    let reported = statuses.iter().chain(&events).map(|r| r.body.to_string()).collect::<Vec<_>>().join("\n");
    assert!(
        reported.contains("CredentialsNotReady") && reported.contains(&closed.to_string()),
        "the administration failure ({failed}) is reported: {reported}"
    );
    // The needles are what went over the wire: each is in an applied Secret's body.
    let applied = log.iter().filter(|r| r.target().0 == "secrets").map(|r| r.body.to_string()).collect::<String>();
    for password in &passwords {
        let encoded = base64::engine::general_purpose::STANDARD.encode(password);
        assert!(applied.contains(&encoded) || applied.contains(password.as_str()), "the search looks for sent values");
        assert!(!reported.contains(password.as_str()), "a Secret value reached status or an Event: {reported}");
        assert!(!failed.contains(password.as_str()), "a Secret value reached the reconcile error");
    }
}

async fn delete(fake: &FakeApi) {
    let mut sdb = fake.object(SDB).unwrap();
    sdb["metadata"]["deletionTimestamp"] = json!("2026-01-02T00:00:00Z");
    fake.put(SDB, sdb);
}

#[tokio::test]
async fn retain_keeps_the_claim_and_orphans_the_secrets_before_letting_go() {
    let fake = with_database("Retain", "1Gi");
    let ctx = context(&fake, None);
    reconcile_once(&fake, &ctx).await.expect("the first reconcile succeeds");
    create_claim(&fake, "1Gi");
    delete(&fake).await;
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("finalizing succeeds");
    let log = fake.log();
    let order = describe(&log);

    assert!(log.iter().all(|r| r.verb() != "delete"), "Retain deletes nothing: {order:#?}");
    let released = first_write(&log, "servicedatabases", "orders");
    for path in SECRETS {
        let name = path.rsplit('/').next().unwrap();
        let orphaned = first_write(&log, "secrets", name);
        assert!(orphaned < released, "Secret {name} loses its owner before the finalizer goes: {order:#?}");
        let secret = fake.object(path).expect("the Secret is kept");
        assert!(secret["metadata"].get("ownerReferences").is_none(), "garbage collection must not take {name}");
    }
    assert_eq!(fake.object(SDB).unwrap()["metadata"]["finalizers"], json!([]), "the object may go now");
    assert!(fake.object(PVC).is_some(), "the data claim is kept");
    let sts = fake.object(STS).unwrap();
    assert_eq!(
        sts["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"], "Retain",
        "the StatefulSet keeps its claim"
    );
}

#[tokio::test]
async fn delete_leaves_children_to_garbage_collection_without_a_finalizer() {
    let fake = with_database("Delete", "1Gi");
    let ctx = context(&fake, None);
    reconcile_once(&fake, &ctx).await.expect("the first reconcile succeeds");
    let log = fake.log();
    assert!(
        !writes(&log).iter().any(|r| r.target().0 == "servicedatabases" && !r.is_status()),
        "Delete needs no finalizer: {:#?}",
        describe(&log)
    );
    assert_eq!(
        fake.object(STS).unwrap()["spec"]["persistentVolumeClaimRetentionPolicy"]["whenDeleted"],
        "Delete",
        "the StatefulSet hands its claim to garbage collection"
    );
    for path in SECRETS {
        let owner = &fake.object(path).unwrap()["metadata"]["ownerReferences"][0];
        assert_eq!(owner["uid"], "0b1c2d3e-orders", "{path} goes with its owner");
    }

    delete(&fake).await;
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("a deleted object without finalizer is left alone");
    assert!(fake.log().is_empty(), "nothing to do: {:#?}", describe(&fake.log()));
}

#[tokio::test]
async fn a_larger_storage_size_grows_the_claim_and_a_smaller_one_never_shrinks_it() {
    let fake = with_database("Retain", "1Gi");
    let ctx = context(&fake, None);
    reconcile_once(&fake, &ctx).await.expect("the first reconcile succeeds");
    create_claim(&fake, "1Gi");

    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["storage"]["size"] = json!("2Gi");
    sdb["metadata"]["generation"] = json!(2);
    fake.put(SDB, sdb);
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("growing succeeds");
    let log = fake.log();
    let resize: Vec<&Recorded> = writes(&log).into_iter().filter(|r| r.path == PVC).collect();
    assert_eq!(resize.len(), 1, "one write to the claim: {:#?}", describe(&log));
    assert_eq!(resize[0].verb(), "apply");
    assert!(resize[0].query_has(&format!("fieldManager={FIELD_MANAGER}")));
    assert_eq!(resize[0].body["spec"]["resources"]["requests"]["storage"], "2Gi");
    assert_eq!(claim_size(&fake), "2Gi");
    let template =
        &fake.object(STS).unwrap()["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"];
    assert_eq!(template, "1Gi", "the immutable claim template keeps its size");

    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["storage"]["size"] = json!("1Gi");
    sdb["metadata"]["generation"] = json!(3);
    fake.put(SDB, sdb);
    fake.clear_log();
    let _ = reconcile_once(&fake, &ctx).await;
    let log = fake.log();
    assert!(!writes(&log).iter().any(|r| r.path == PVC), "a claim is never shrunk: {:#?}", describe(&log));
    assert_eq!(claim_size(&fake), "2Gi");
}

#[tokio::test]
async fn snapshot_keeps_the_finalizer_until_the_final_backup_succeeded() {
    let fake = with_database("Snapshot", "1Gi");
    with_backups(&fake, json!({}));
    let ctx = context(&fake, None);
    reconcile_once(&fake, &ctx).await.expect("the first reconcile succeeds");
    assert_eq!(fake.object(SDB).unwrap()["metadata"]["finalizers"], json!(["servicedb.dev/final-backup"]));

    delete(&fake).await;
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("the final backup starts");
    let log = fake.log();
    let job = "/apis/batch/v1/namespaces/shop/jobs/orders-db-final-backup";
    assert!(writes(&log).iter().any(|r| r.path == job && r.verb() == "apply"), "{:#?}", describe(&log));
    assert!(
        !writes(&log).iter().any(|r| r.target().0 == "servicedatabases" && !r.is_status()),
        "the finalizer stays while the final backup runs: {:#?}",
        describe(&log)
    );
    assert!(log.iter().all(|r| r.verb() != "delete"), "nothing is deleted before the final backup");

    // Still running: nothing changes.
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("waiting for the final backup");
    assert!(!writes(&fake.log()).iter().any(|r| r.target().0 == "servicedatabases"), "{:#?}", describe(&fake.log()));

    let mut done = fake.object(job).unwrap();
    done["status"] = json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
    fake.put(job, done);
    fake.clear_log();
    reconcile_once(&fake, &ctx).await.expect("the object is released after the final backup");
    assert_eq!(fake.object(SDB).unwrap()["metadata"]["finalizers"], json!([]), "{:#?}", describe(&fake.log()));
    assert!(fake.log().iter().all(|r| r.verb() != "delete"), "garbage collection deletes the children");
}

/// The requests of one more reconcile of an unchanged object.
async fn resync(fake: &FakeApi, harness: &Harness) -> Vec<Recorded> {
    fake.clear_log();
    let _ = reconcile_once(fake, harness).await;
    fake.log()
}

#[tokio::test]
async fn a_resync_reads_only_the_two_secrets_by_name_and_writes_no_child() {
    let fake = with_database("Retain", "1Gi");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let overrides = dir.path().join("endpoints.json");
    std::fs::write(&overrides, format!(r#"{{"shop/orders-db": "127.0.0.1:{closed}"}}"#)).unwrap();
    let harness = context(&fake, Some(overrides));
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    create_claim(&fake, "1Gi");

    // Not ready: the pod comes from the cache too.
    let log = resync(&fake, &harness).await;
    let reads: Vec<String> = log.iter().filter(|r| r.verb() == "get").map(|r| r.path.clone()).collect();
    assert_eq!(reads, SECRETS.map(String::from), "{reads:#?}");
    assert!(log.iter().all(|r| r.verb() != "list"), "children come from the caches: {:#?}", describe(&log));

    // Ready (administration fails on the closed port, and says so once).
    make_ready(&fake);
    let _ = resync(&fake, &harness).await;
    let log = resync(&fake, &harness).await;
    let reads: Vec<String> = log.iter().filter(|r| r.verb() == "get").map(|r| r.path.clone()).collect();
    assert_eq!(reads, SECRETS.map(String::from), "only the Secrets a step needs, by name");
    assert!(writes(&log).is_empty(), "an unchanged object is not written: {:#?}", describe(&log));
}

#[tokio::test]
async fn children_no_longer_wanted_are_found_by_owner_and_deleted_but_the_backup_claim_stays() {
    let fake = with_database("Retain", "1Gi");
    with_backups(&fake, json!({"size": "1Gi"}));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let cronjob = "/apis/batch/v1/namespaces/shop/cronjobs/orders-db-backup";
    let policy = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/orders-db-backup";
    let claim = "/api/v1/namespaces/shop/persistentvolumeclaims/orders-db-backups";
    let login = "/api/v1/namespaces/shop/secrets/orders-db-backup-login";
    for path in [cronjob, policy, claim, login] {
        assert!(fake.object(path).is_some(), "{path} was applied: {:#?}", describe(&fake.log()));
    }
    let log = resync(&fake, &harness).await;
    let mut reads: Vec<String> = log.iter().filter(|r| r.verb() == "get").map(|r| r.path.clone()).collect();
    reads.sort();
    assert_eq!(reads, [SECRETS[0], login, SECRETS[1]], "with backups, their login's Secret too");
    // A ConfigMap someone else labelled like ours, not controlled by this owner.
    let foreign = "/api/v1/namespaces/shop/configmaps/orders-notes";
    fake.put(
        foreign,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "orders-notes", "namespace": "shop",
            "labels": {"app.kubernetes.io/managed-by": "servicedb", "app.kubernetes.io/instance": "orders"}}}),
    );

    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"].as_object_mut().unwrap().remove("backup");
    sdb["metadata"]["generation"] = json!(2);
    fake.put(SDB, sdb);
    let log = resync(&fake, &harness).await;
    let deleted: Vec<String> = log.iter().filter(|r| r.verb() == "delete").map(|r| r.path.clone()).collect();
    assert_eq!(deleted.len(), 3, "{deleted:#?}");
    for path in [cronjob, policy, login] {
        assert!(deleted.contains(&path.to_string()), "{path} is deleted: {deleted:#?}");
    }
    assert!(fake.object(claim).is_some(), "the backup claim holds the backups and is never deleted");
    assert!(fake.object(foreign).is_some(), "a child this owner does not control is left alone");
}

#[tokio::test]
async fn a_bootstrap_restore_starts_once_the_logins_exist_and_its_children_go_once_it_is_recorded_done() {
    let fake = with_database("Retain", "1Gi");
    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["bootstrap"] = json!({"fromBackup": {"location": {"serviceDatabase": "orders-old",
        "destination": {"volume": {}}, "backupId": "20261130T010000Z"}}});
    fake.put(SDB, sdb);
    let harness = context(&fake, None);
    let job = "/apis/batch/v1/namespaces/shop/jobs/orders-db-restore";
    let policy = "/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/orders-db-restore";
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    assert!(fake.object(job).is_none(), "no restore before the service's login exists: {:#?}", describe(&fake.log()));

    // The status while a restore is due: the logins exist, the data not yet.
    let mut sdb = fake.object(SDB).unwrap();
    sdb["status"] = json!({"observedGeneration": 1, "conditions": [{"type": "CredentialsReady", "status": "False",
        "reason": "Administered", "message": "restoring", "lastTransitionTime": "2026-01-01T00:00:00Z"}]});
    fake.put(SDB, sdb);
    let log = resync(&fake, &harness).await;
    assert!(fake.object(job).is_some() && fake.object(policy).is_some(), "{:#?}", describe(&log));

    // Succeeded, and recorded so: the Job and its NetworkPolicy are leftovers.
    let mut done = fake.object(job).unwrap();
    done["status"] = json!({"succeeded": 1, "conditions": [{"type": "Complete", "status": "True"}]});
    fake.put(job, done);
    let _ = resync(&fake, &harness).await;
    assert!(fake.object(job).is_some(), "kept until the status recorded the bootstrap as done");
    let mut sdb = fake.object(SDB).unwrap();
    sdb["status"]["bootstrap"] = json!({"job": "orders-db-restore", "phase": "Succeeded"});
    fake.put(SDB, sdb);
    let log = resync(&fake, &harness).await;
    let deleted: Vec<String> = log.iter().filter(|r| r.verb() == "delete").map(|r| r.path.clone()).collect();
    assert!(deleted.contains(&job.to_string()) && deleted.contains(&policy.to_string()), "{deleted:#?}");
}

// A service in another namespace: credentials delivered there once it opts in.

fn child_writes(log: &[Recorded]) -> Vec<String> {
    writes(log)
        .iter()
        .filter(|r| !r.path.contains("servicedatabases") && !r.path.contains("/events"))
        .map(|r| format!("{} {}", r.verb(), r.path))
        .collect()
}

#[tokio::test]
async fn a_service_namespace_that_did_not_opt_in_is_an_invalid_spec_and_gets_nothing() {
    let fake = with_service_elsewhere("Retain", Some("billing"));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("an invalid spec is not a reconcile error");
    let log = fake.log();
    assert!(log.iter().any(|r| r.verb() == "get" && r.path == STOREFRONT), "the Namespace is read by name");
    assert!(child_writes(&log).is_empty(), "no child is written: {:#?}", child_writes(&log));
    assert!(
        writes(&log).iter().all(|r| r.is_status() || r.path.contains("/events")),
        "only status and an Event: {:#?}",
        describe(&log)
    );
    let status = &fake.object(SDB).unwrap()["status"];
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap();
    assert_eq!((ready["status"].as_str(), ready["reason"].as_str()), (Some("False"), Some("InvalidSpec")));
    let message = ready["message"].as_str().unwrap();
    assert!(message.starts_with("ServiceNamespaceNotOptedIn"), "{message}");
    assert!(
        message.contains(
            "kubectl annotate --overwrite namespace storefront servicedb.dev/accept-credentials-from=billing,shop"
        ),
        "says which annotation to put on which namespace: {message}"
    );
}

#[tokio::test]
async fn an_opted_in_namespace_gets_the_credentials_for_its_account_and_its_pods_are_let_in() {
    let fake = with_service_elsewhere("Delete", Some("billing, shop"));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let log = fake.log();
    let order = describe(&log);
    let [secret_path, role_path, binding_path] = delivered_paths();
    for path in [&secret_path, &role_path, &binding_path] {
        let object = fake.object(path).unwrap_or_else(|| panic!("{path} was applied: {order:#?}"));
        assert!(object["metadata"].get("ownerReferences").is_none(), "{path}: no owner reference across namespaces");
        let labels = &object["metadata"]["labels"];
        assert_eq!(labels["app.kubernetes.io/managed-by"], "servicedb", "{path} is watched by label");
        assert_eq!(labels["servicedb.dev/source-namespace"], "shop");
        assert_eq!(labels["servicedb.dev/source-uid"], "0b1c2d3e-orders");
    }
    let role = first_write(&log, "roles", DELIVERED);
    assert!(role < first_write(&log, "secrets", DELIVERED), "the Role that finds the copy comes first: {order:#?}");
    let own = fake.object(SECRETS[1]).expect("the database's own copy stays");
    let copy = fake.object(&secret_path).unwrap();
    assert_eq!(decoded(&copy), decoded(&own), "the same keys and values in both namespaces");
    assert_eq!(fake.object(&role_path).unwrap()["rules"][0]["resourceNames"], json!([DELIVERED]));
    assert_eq!(
        fake.object(&binding_path).unwrap()["subjects"],
        json!([{"kind": "ServiceAccount", "name": "orders", "namespace": "storefront"}])
    );
    let shop_role = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles/orders-db-credentials";
    assert!(fake.object(shop_role).is_none(), "no grant to a same-named account of the database's namespace");
    let policy = fake.object("/apis/networking.k8s.io/v1/namespaces/shop/networkpolicies/orders-db").unwrap();
    assert_eq!(
        policy["spec"]["ingress"][0]["from"][0],
        json!({"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storefront"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}}})
    );
    assert_eq!(
        fake.object(SDB).unwrap()["metadata"]["finalizers"],
        json!(["servicedb.dev/delivered-credentials"]),
        "Delete needs a finalizer: garbage collection cannot reach another namespace"
    );

    // Steady state: the copy is read by name and not written again.
    let log = resync(&fake, &harness).await;
    assert!(child_writes(&log).is_empty(), "{:#?}", child_writes(&log));
    assert!(log.iter().any(|r| r.verb() == "get" && r.path == secret_path));
}

#[tokio::test]
async fn a_rotated_login_reaches_the_delivered_copy_in_the_same_reconcile() {
    let fake = with_service_elsewhere("Retain", Some("shop"));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    // What a finished rotation leaves in the admin Secret: login B active with its own password.
    let mut admin = fake.object(SECRETS[0]).unwrap();
    let encode = |s: &str| json!(base64::engine::general_purpose::STANDARD.encode(s));
    admin["data"]["app-password-b"] = encode("RotatedPassword0123456789abcdef");
    admin["data"]["active-login"] = encode("b");
    fake.put(SECRETS[0], admin);
    let log = resync(&fake, &harness).await;
    let [secret_path, ..] = delivered_paths();
    let (own, copy) = (decoded(&fake.object(SECRETS[1]).unwrap()), decoded(&fake.object(&secret_path).unwrap()));
    assert_eq!((own["username"].as_str(), own["password"].as_str()), ("orders_b", "RotatedPassword0123456789abcdef"));
    assert_eq!(copy, own, "both Secrets name the new login: {:#?}", child_writes(&log));
}

#[tokio::test]
async fn delete_removes_the_delivered_credentials_and_retain_keeps_them() {
    for (policy, kept) in [("Delete", false), ("Retain", true)] {
        let fake = with_service_elsewhere(policy, Some("shop"));
        let harness = context(&fake, None);
        reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
        delete(&fake).await;
        let log = resync(&fake, &harness).await;
        for path in delivered_paths() {
            assert_eq!(fake.object(&path).is_some(), kept, "{policy}: {path}: {:#?}", describe(&log));
        }
        let deletes = log.iter().filter(|r| r.verb() == "delete").count();
        assert_eq!(deletes, if kept { 0 } else { 3 }, "{policy}: {:#?}", describe(&log));
        if !kept {
            let released = first_write(&log, "servicedatabases", "orders");
            assert!(
                writes(&log).iter().take(released).filter(|r| r.verb() == "delete").count() == 3,
                "removed before the finalizer goes: {:#?}",
                describe(&log)
            );
        }
        assert_eq!(fake.object(SDB).unwrap()["metadata"]["finalizers"], json!([]), "{policy}: the object may go");
    }
}

#[tokio::test]
async fn a_service_back_in_the_database_namespace_loses_the_delivered_copy() {
    let fake = with_service_elsewhere("Delete", Some("shop"));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["service"].as_object_mut().unwrap().remove("namespace");
    sdb["metadata"]["generation"] = json!(2);
    fake.put(SDB, sdb);
    let log = resync(&fake, &harness).await;
    for path in delivered_paths() {
        assert!(fake.object(&path).is_none(), "{path} is a leftover: {:#?}", describe(&log));
    }
    assert!(!log.iter().any(|r| r.path == STOREFRONT), "the Namespace is no longer read");
    let shop_role = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles/orders-db-credentials";
    assert!(fake.object(shop_role).is_some(), "the account is granted the database's copy again");
    // The finalizer Delete needed for the copy goes once nothing is delivered.
    let _ = resync(&fake, &harness).await;
    assert_eq!(fake.object(SDB).unwrap()["metadata"]["finalizers"], json!([]));
}

#[tokio::test]
async fn a_role_labelled_like_a_delivered_one_cannot_get_a_secret_deleted() {
    let fake = with_service_elsewhere("Delete", Some("shop"));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    // Someone who may create Roles in storefront, but not delete its Secrets.
    let secret = format!("{STOREFRONT}/secrets/payments-key");
    fake.put(
        &secret,
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "payments-key",
        "namespace": "storefront"}, "data": {"key": "c2VjcmV0"}}),
    );
    fake.put(
        "/apis/rbac.authorization.k8s.io/v1/namespaces/storefront/roles/payments-key",
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "payments-key",
            "namespace": "storefront", "labels": {"app.kubernetes.io/managed-by": "servicedb",
            "servicedb.dev/source-uid": "0b1c2d3e-orders"}}}),
    );
    let log = resync(&fake, &harness).await;
    assert!(fake.object(&secret).is_some(), "a Secret servicedb did not deliver stays: {:#?}", describe(&log));
    for path in delivered_paths() {
        assert!(fake.object(&path).is_some(), "what is delivered now stays: {path}");
    }
}

/// The `Isolated` condition as stored: status, reason, message.
fn isolated(fake: &FakeApi) -> (String, String, String) {
    let sdb = fake.object(SDB).unwrap();
    let conditions = sdb["status"]["conditions"].as_array().cloned().unwrap_or_default();
    let c = conditions.iter().find(|c| c["type"] == "Isolated").expect("an Isolated condition");
    let text = |key: &str| c[key].as_str().unwrap_or_default().to_string();
    (text("status"), text("reason"), text("message"))
}

const RBAC: &str = "/apis/rbac.authorization.k8s.io/v1/namespaces/shop";

#[tokio::test]
async fn a_second_reader_of_the_credentials_is_named_until_removed_or_acknowledged() {
    let fake = with_database("Retain", "1Gi");
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    assert_eq!(isolated(&fake).0, "True", "the owner's Role and the operator are the design");

    fake.put(
        &format!("{RBAC}/roles/peek"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "peek", "namespace": "shop"},
            "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"], "resourceNames": ["orders-db-credentials"]}]}),
    );
    fake.put(
        &format!("{RBAC}/rolebindings/peek"),
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "peek", "namespace": "shop"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "peek"},
            "subjects": [{"kind": "ServiceAccount", "name": "intruder", "namespace": "shop"}]}),
    );
    fake.put(
        "/api/v1/namespaces/shop/serviceaccounts/intruder",
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "intruder", "namespace": "shop"}}),
    );
    fake.clear_log();
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    let (status, reason, message) = isolated(&fake);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "SecretReadableByOthers"), "{message}");
    assert!(
        message.starts_with(
            "ServiceAccount shop/intruder may read Secret shop/orders-db-credentials through RoleBinding shop/peek (Role peek)"
        ),
        "{message}"
    );
    let log = fake.log();
    let warning = log.iter().any(|r| {
        r.path.ends_with("/events") && r.body["reason"] == "SecretReadableByOthers" && r.body["type"] == "Warning"
    });
    assert!(warning, "a Warning Event when it turns False: {:#?}", describe(&log));
    let reviews: Vec<&Recorded> = log.iter().filter(|r| r.path.ends_with("/subjectaccessreviews")).collect();
    let asked: Vec<&str> = reviews.iter().filter_map(|r| r.body["spec"]["user"].as_str()).collect();
    assert!(
        asked.contains(&"system:serviceaccount:shop:intruder"),
        "a new ServiceAccount is reviewed once RBAC changed: {asked:?}"
    );

    fake.clear_log();
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    let log = fake.log();
    assert!(!log.iter().any(|r| r.path.ends_with("/subjectaccessreviews")), "nothing changed: no review again");
    assert!(writes(&log).is_empty(), "the same finding writes nothing: {:#?}", describe(&log));

    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["isolation"] =
        json!({"exceptions": [{"kind": "ServiceAccount", "name": "intruder", "reason": "the audit tool"}]});
    sdb["metadata"]["generation"] = json!(2);
    fake.put(SDB, sdb);
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    let (status, reason, message) = isolated(&fake);
    assert_eq!((status.as_str(), reason.as_str()), ("True", "AcknowledgedExceptions"), "{message}");
    assert!(message.contains("(acknowledged: the audit tool)"), "{message}");
}

#[tokio::test]
async fn a_pod_that_is_not_the_services_reading_the_credentials_is_named() {
    let fake = with_database("Retain", "1Gi");
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let pod = |name: &str, app: &str| {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", "labels": {"app.kubernetes.io/name": app}},
            "spec": {"containers": [{"name": "c", "image": "x", "envFrom": [{"secretRef": {"name": "orders-db-credentials"}}]}]}})
    };
    fake.put("/api/v1/namespaces/shop/pods/orders-api", pod("orders-api", "orders"));
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    assert_eq!(isolated(&fake).0, "True", "the service's own pod");
    fake.put("/api/v1/namespaces/shop/pods/snoop", pod("snoop", "carts"));
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    let (status, reason, message) = isolated(&fake);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "SecretReadByOtherPods"), "{message}");
    assert!(message.starts_with("pod shop/snoop reads Secret shop/orders-db-credentials"), "{message}");
}

#[tokio::test]
async fn only_the_database_pod_reads_the_admin_secret_and_only_backup_jobs_the_backup_login() {
    let fake = with_database("Retain", "1Gi");
    with_backups(&fake, json!({}));
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let pod = |name: &str, secret: &str, controller: Option<(&str, &str)>| {
        let owners: Vec<serde_json::Value> = controller
            .map(|(kind, owner)| json!({"apiVersion": "v1", "kind": kind, "name": owner, "uid": "u", "controller": true}))
            .into_iter()
            .collect();
        let labels = json!({"app.kubernetes.io/name": "servicedb-backup", "app.kubernetes.io/instance": "orders",
            "app.kubernetes.io/component": "backup", "app.kubernetes.io/managed-by": "servicedb"});
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "shop", "ownerReferences": owners, "labels": labels},
            "spec": {"containers": [{"name": "c", "image": "x"}],
                "volumes": [{"name": "s", "secret": {"secretName": secret}}]}})
    };
    let pods = "/api/v1/namespaces/shop/pods";
    fake.put(&format!("{pods}/orders-db-0"), pod("orders-db-0", "orders-db-admin", Some(("StatefulSet", "orders-db"))));
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    assert_eq!(isolated(&fake).0, "True", "the database pod of its StatefulSet: {:?}", isolated(&fake));

    fake.put(&format!("{pods}/debug"), pod("debug", "orders-db-admin", None));
    // Labelled like a backup pod, but no Job's.
    fake.put(&format!("{pods}/orders-db-backup-x"), pod("orders-db-backup-x", "orders-db-backup-login", None));
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    let (status, reason, message) = isolated(&fake);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "SecretReadByOtherPods"), "{message}");
    assert!(message.contains("pod shop/debug reads Secret shop/orders-db-admin"), "{message}");
    assert!(message.contains("pod shop/orders-db-backup-x reads Secret shop/orders-db-backup-login"), "{message}");

    // The pod of a Job, labelled as this instance's backups, may read the backup login.
    fake.remove(&format!("{pods}/debug"));
    fake.put(
        &format!("{pods}/orders-db-backup-x"),
        pod("orders-db-backup-x", "orders-db-backup-login", Some(("Job", "x"))),
    );
    reconcile_once(&fake, &harness).await.expect("the reconcile succeeds");
    assert_eq!(isolated(&fake).0, "True", "{:?}", isolated(&fake));
}

#[tokio::test]
async fn a_repeated_event_extends_its_series_and_one_deleted_since_is_recorded_anew() {
    use kube::runtime::events::{Event, EventType};
    let fake = FakeApi::default();
    let recorder = servicedb::controller::events::EventRecorder::new(fake.client(), "servicedb", "test-pod".into());
    let degraded = Event {
        type_: EventType::Warning,
        reason: "Degraded".into(),
        note: Some("the database pod is not ready".into()),
        action: "Reconcile".into(),
        secondary: None,
    };
    let orders = k8s_openapi::api::core::v1::ObjectReference {
        name: Some("orders".into()),
        namespace: Some("shop".into()),
        uid: Some("u1".into()),
        ..Default::default()
    };
    for _ in 0..3 {
        recorder.publish(&degraded, &orders).await.expect("recorded");
    }
    let log = fake.log();
    let (verbs, paths): (Vec<_>, Vec<_>) = log.iter().map(|r| (r.verb(), r.path.clone())).unzip();
    assert_eq!(verbs, ["post", "merge", "merge"], "one Event, then its series: {paths:?}");
    let created = &log[0].body;
    assert_eq!(created["reason"], "Degraded");
    assert_eq!(created["type"], "Warning");
    assert_eq!(created["reportingController"], "servicedb");
    assert_eq!(created["reportingInstance"], "test-pod");
    assert_eq!(created["regarding"]["name"], "orders");
    let name = created["metadata"]["name"].as_str().unwrap().to_string();
    let path = format!("/apis/events.k8s.io/v1/namespaces/shop/events/{name}");
    assert_eq!(paths[2], path);
    assert_eq!(fake.object(&path).unwrap()["series"]["count"], 3, "the stored Event counts three");

    // Someone deleted it (or the API server let it expire): a new Event.
    fake.remove(&path);
    fake.clear_log();
    recorder.publish(&degraded, &orders).await.expect("recorded anew");
    let verbs: Vec<_> = fake.log().iter().map(|r| r.verb()).collect();
    assert_eq!(verbs, ["merge", "post"]);

    // Another note is another Event, not a series with a stale note.
    fake.clear_log();
    let full = Event { note: Some("the volume is full".into()), ..degraded };
    recorder.publish(&full, &orders).await.expect("recorded");
    assert_eq!(fake.log().iter().map(|r| r.verb()).collect::<Vec<_>>(), ["post"]);
}

// TLS: on for a new instance; off only when allowed, with a Warning.

fn statefulset_args(fake: &FakeApi) -> Vec<String> {
    let sts = fake.object(STS).expect("the StatefulSet is stored");
    serde_json::from_value(sts["spec"]["template"]["spec"]["containers"][0]["args"].clone()).unwrap_or_default()
}

#[tokio::test]
async fn tls_is_on_for_a_new_instance_and_turned_off_only_when_allowed_with_a_warning() {
    let fake = with_database("Retain", "1Gi");
    let harness = context(&fake, None);
    reconcile_once(&fake, &harness).await.expect("the first reconcile succeeds");
    let admin = decoded(&fake.object(SECRETS[0]).unwrap());
    let credentials = decoded(&fake.object(SECRETS[1]).unwrap());
    assert!(admin["tls.crt"].starts_with("-----BEGIN CERTIFICATE-----") && admin.contains_key("tls.key"));
    assert_eq!(credentials["ca.crt"], admin["ca.crt"], "the service gets the CA that signed the server");
    assert!(!credentials.contains_key("tls.key"));
    assert!(statefulset_args(&fake).contains(&"ssl=on".to_string()), "{:?}", statefulset_args(&fake));
    let issued: Vec<String> = fake
        .log()
        .iter()
        .filter(|r| r.path.contains("/events") && r.verb() != "get")
        .map(|r| r.body.to_string())
        .collect();
    assert!(issued.iter().any(|e| e.contains("CertificateIssued")), "an Event records the certificate: {issued:#?}");
    assert_eq!(fake.object(SDB).unwrap()["status"]["endpoint"]["tls"], true, "the status says clients need TLS");

    // Off without allowDisable: refused, nothing rewritten.
    let mut sdb = fake.object(SDB).unwrap();
    sdb["spec"]["tls"] = json!({"enabled": false});
    sdb["metadata"]["generation"] = json!(2);
    fake.put(SDB, sdb.clone());
    let log = resync(&fake, &harness).await;
    assert!(child_writes(&log).is_empty(), "nothing is half-applied: {:#?}", child_writes(&log));
    let status = &fake.object(SDB).unwrap()["status"];
    let ready = status["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "Ready").unwrap().clone();
    assert_eq!(ready["reason"], "InvalidSpec");
    assert!(
        ready["message"].as_str().unwrap().contains("TlsDowngrade: ")
            || ready["message"].as_str().unwrap().contains("allowDisable"),
        "{ready}"
    );
    assert_eq!(decoded(&fake.object(SECRETS[0]).unwrap())["tls.crt"], admin["tls.crt"], "the certificate is kept");

    // Allowed: done, with a Warning Event.
    sdb["spec"]["tls"] = json!({"enabled": false, "allowDisable": true});
    sdb["metadata"]["generation"] = json!(3);
    fake.put(SDB, sdb);
    let log = resync(&fake, &harness).await;
    let warnings: Vec<String> = log
        .iter()
        .filter(|r| r.path.contains("/events") && r.verb() != "get")
        .map(|r| r.body.to_string())
        .filter(|e| e.contains("TlsDisabled"))
        .collect();
    assert!(warnings.iter().any(|e| e.contains("Warning")), "a Warning Event says TLS was turned off: {warnings:#?}");
    // What was applied (server-side apply drops what the operator no longer sends).
    let applied = |path: &str| {
        let body = log.iter().rev().find(|r| r.verb() == "apply" && r.path == path).map(|r| r.body.clone());
        body.unwrap_or_else(|| panic!("{path} was applied again: {:#?}", describe(&log)))
    };
    assert!(applied(SECRETS[0])["data"].get("tls.crt").is_none(), "the admin Secret drops the certificate");
    assert!(applied(SECRETS[1])["data"].get("ca.crt").is_none(), "the credentials drop ca.crt");
    let args = &applied(STS)["spec"]["template"]["spec"]["containers"][0]["args"];
    assert!(args.is_null(), "the server's own command again: {args}");
}
