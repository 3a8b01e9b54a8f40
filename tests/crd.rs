//! The checked-in CRDs match the code, and the CRD's CEL rules accept and
//! refuse what they should (evaluated by kube's CEL interpreter, the same
//! rules the API server enforces).

use servicedb::api::{KNOWN_FORMATS, ServiceDatabase, crds, crds_yaml};

#[test]
fn crds_directory_matches_servicedb_crd() {
    let generated = crds_yaml().unwrap();
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/crds/servicedb.dev.yaml");
    let checked_in = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated == checked_in,
        "crds/ drifted from the code: run `make crds` (servicedb crd > {path}) and commit the result"
    );
}

/// Every `format` value anywhere under `value`.
fn formats(value: &serde_json::Value, found: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            if let Some(serde_json::Value::String(format)) = map.get("format") {
                found.push(format.clone());
            }
            map.values().for_each(|v| formats(v, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| formats(v, found)),
        _ => {}
    }
}

#[test]
fn the_api_server_knows_every_format() {
    // An unknown one makes `kubectl apply -f crds/` print a warning.
    let mut found = Vec::new();
    for crd in crds() {
        formats(&serde_json::to_value(&crd).unwrap(), &mut found);
    }
    let unknown: Vec<_> = found.iter().filter(|f| !KNOWN_FORMATS.contains(&f.as_str())).collect();
    assert!(unknown.is_empty(), "formats the API server does not know: {unknown:?}");
    assert!(found.iter().any(|f| f == "int64"), "the u32 fields keep an integer format");
}

#[test]
fn every_rule_on_the_whole_object_names_its_field() {
    // Without a fieldPath the API server prints `<nil>: Invalid value`.
    for crd in crds() {
        for version in &crd.spec.versions {
            let root = version.schema.as_ref().and_then(|s| s.open_api_v3_schema.as_ref()).unwrap();
            for rule in root.x_kubernetes_validations.iter().flatten() {
                assert!(rule.field_path.is_some(), "{}: rule {:?} names no field", crd.spec.names.kind, rule.rule);
            }
            let name = root.properties.as_ref().and_then(|p| p.get("metadata")).and_then(|m| m.properties.as_ref());
            assert!(name.is_some_and(|p| p.contains_key("name")), "metadata.name must exist for the fieldPaths");
        }
    }
}

fn sdb(name: &str, spec: &str) -> ServiceDatabase {
    yaml_serde::from_str(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: {name}, namespace: shop}}\nspec: {spec}"
    ))
    .unwrap()
}

const SPEC: &str = "{engine: postgres, version: '16', service: {name: orders}, storage: {size: 1Gi}}";

fn messages(result: Result<(), kube::core::cel::ValidationErrors>) -> String {
    match result {
        Ok(()) => String::new(),
        Err(e) => format!("{e:?}"),
    }
}

#[test]
fn a_well_formed_object_passes_every_rule() {
    assert_eq!(messages(sdb("orders", SPEC).validate_cel()), "");
}

#[test]
fn names_must_be_short_dns_labels_and_not_reserved() {
    assert!(messages(sdb("postgres", SPEC).validate_cel()).contains("reserved"));
    assert!(messages(sdb(&"a".repeat(41), SPEC).validate_cel()).contains("at most 40 characters"));
    assert!(messages(sdb("orders.v2", SPEC).validate_cel()).contains("at most 40 characters"));
}

#[test]
fn sizes_must_be_positive_quantities() {
    let bad = sdb("orders", &SPEC.replace("1Gi", "lots"));
    assert!(messages(bad.validate_cel()).contains("positive quantity"));
    let zero = sdb("orders", &SPEC.replace("1Gi", "0"));
    assert!(messages(zero.validate_cel()).contains("positive quantity"));
}

#[test]
fn version_must_look_like_a_version() {
    let bad = sdb("orders", &SPEC.replace("'16'", "'latest'"));
    assert!(messages(bad.validate_cel()).contains("version must be a number"));
}

#[test]
fn a_version_typo_can_be_fixed_in_place() {
    // A running instance's version is guarded by the operator (VersionChange),
    // not by CEL, so that an unsupported version can simply be corrected.
    let old = sdb("orders", &SPEC.replace("'16'", "'9'"));
    assert_eq!(messages(sdb("orders", SPEC).validate_cel_update(&old)), "");
}

#[test]
fn storage_grows_but_never_shrinks() {
    let old = sdb("orders", SPEC);
    let bigger = sdb("orders", &SPEC.replace("1Gi", "2Gi"));
    let smaller = sdb("orders", &SPEC.replace("1Gi", "512Mi"));
    assert_eq!(messages(bigger.validate_cel_update(&old)), "");
    assert!(messages(smaller.validate_cel_update(&old)).contains("never shrink"));
}

#[test]
fn storage_class_is_immutable() {
    let old = sdb("orders", SPEC);
    let new = sdb("orders", &SPEC.replace("size: 1Gi", "size: 1Gi, storageClassName: fast"));
    assert!(messages(new.validate_cel_update(&old)).contains("storageClassName is immutable"));
}

#[test]
fn the_chart_ships_the_same_crds() {
    let root = env!("CARGO_MANIFEST_DIR");
    let read = |p: &str| std::fs::read_to_string(format!("{root}/{p}")).unwrap_or_default();
    assert!(
        read("crds/servicedb.dev.yaml") == read("charts/servicedb/crds/servicedb.dev.yaml"),
        "charts/servicedb/crds drifted from crds/: run `make crds`"
    );
}

fn with_backup(backup: &str) -> ServiceDatabase {
    sdb("orders", &SPEC.replace("storage: {size: 1Gi}}", &format!("storage: {{size: 1Gi}}, backup: {backup}}}")))
}

#[test]
fn backups_need_a_cron_schedule_and_exactly_one_destination() {
    let good = "{schedule: '0 3 * * *', retention: {keepLast: 7}, destination: {volume: {}}}";
    assert_eq!(messages(with_backup(good).validate_cel()), "");
    let s3 = "{schedule: '0 3 * * *', destination: {s3: {bucket: b, credentialsSecret: c, endpoint: 'https://minio.storage:9000'}}}";
    assert_eq!(messages(with_backup(s3).validate_cel()), "");

    let hourly = messages(with_backup("{schedule: '@hourly', destination: {volume: {}}}").validate_cel());
    assert!(hourly.contains("five fields"), "{hourly}");
    let both = "{schedule: '0 3 * * *', destination: {volume: {}, s3: {bucket: b, credentialsSecret: c}}}";
    assert!(messages(with_backup(both).validate_cel()).contains("exactly one of volume or s3"));
    let neither = "{schedule: '0 3 * * *', destination: {}}";
    assert!(messages(with_backup(neither).validate_cel()).contains("exactly one of volume or s3"));
    let empty_retention = "{schedule: '0 3 * * *', retention: {}, destination: {volume: {}}}";
    assert!(messages(with_backup(empty_retention).validate_cel()).contains("keepLast, maxAgeDays or both"));
}

#[test]
fn s3_is_tls_unless_turned_off() {
    let plain = "{schedule: '0 3 * * *', destination: {s3: {bucket: b, credentialsSecret: c, endpoint: 'http://10.0.0.5:9000'}}}";
    assert!(messages(with_backup(plain).validate_cel()).contains("must be https://"));
    let off = plain.replace("endpoint:", "tls: false, endpoint:");
    assert_eq!(messages(with_backup(&off).validate_cel()), "");
    let path = "{schedule: '0 3 * * *', destination: {s3: {bucket: b, credentialsSecret: c, endpoint: 'https://x/y'}}}";
    assert!(messages(with_backup(path).validate_cel()).contains("no path"));
}

#[test]
fn snapshot_deletion_needs_a_backup_destination() {
    let without =
        sdb("orders", &SPEC.replace("storage: {size: 1Gi}}", "storage: {size: 1Gi}, deletionPolicy: Snapshot}"));
    assert!(messages(without.validate_cel()).contains("deletionPolicy Snapshot needs spec.backup"));
    let with = SPEC.replace(
        "storage: {size: 1Gi}}",
        "storage: {size: 1Gi}, deletionPolicy: Snapshot, backup: {schedule: '0 3 * * *', destination: {volume: {}}}}",
    );
    assert_eq!(messages(sdb("orders", &with).validate_cel()), "");
}

#[test]
fn bootstrap_is_set_at_creation_only() {
    let with = |from: &str| {
        sdb(
            "orders",
            &SPEC.replace(
                "storage: {size: 1Gi}}",
                &format!("storage: {{size: 1Gi}}, bootstrap: {{fromBackup: {from}}}}}"),
            ),
        )
    };
    let created = with("{location: {serviceDatabase: old, destination: {volume: {}}}}");
    assert_eq!(messages(created.validate_cel()), "");
    let plain = sdb("orders", SPEC);
    assert!(messages(created.validate_cel_update(&plain)).contains("only when the ServiceDatabase is created"));
    assert!(messages(plain.validate_cel_update(&created)).contains("only when the ServiceDatabase is created"));
    let both = with("{backupName: b, location: {serviceDatabase: old, destination: {volume: {}}}}");
    assert!(messages(both.validate_cel()).contains("exactly one of backupName or location"));
}

#[test]
fn a_service_in_another_namespace_names_its_service_account_and_may_move() {
    let with = |service: &str| sdb("orders", &SPEC.replace("service: {name: orders}", service));
    let without_account = with("service: {name: orders, namespace: storefront}");
    assert!(
        messages(without_account.validate_cel()).contains("service.namespace needs service.serviceAccountName"),
        "{}",
        messages(without_account.validate_cel())
    );
    let storefront = with("service: {name: orders, namespace: storefront, serviceAccountName: orders}");
    assert_eq!(messages(storefront.validate_cel()), "");
    let bad = with("service: {name: orders, namespace: Store_Front, serviceAccountName: orders}");
    assert!(messages(bad.validate_cel()).contains("service.namespace must be a namespace name"));
    // Not immutable: moving the service, or bringing it home, is allowed (the old copy is removed).
    let home = with("service: {name: orders, serviceAccountName: orders}");
    assert_eq!(messages(home.validate_cel_update(&storefront)), "");
    let moved = with("service: {name: orders, namespace: checkout, serviceAccountName: orders}");
    assert_eq!(messages(moved.validate_cel_update(&storefront)), "");
}

/// The example app is what the example ServiceDatabase lets in and hands
/// its credentials to, and it verifies the server with the Secret's CA.
#[test]
fn the_example_app_is_the_service_the_example_database_names() {
    use k8s_openapi::api::apps::v1::Deployment;
    let read = |file: &str| std::fs::read_to_string(format!("{}/examples/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let sdb: ServiceDatabase = yaml_serde::from_str(&read("orders.yaml")).expect("examples/orders.yaml parses");
    let app: Deployment = yaml_serde::from_str(&read("orders-app.yaml")).expect("examples/orders-app.yaml parses");
    let pod = app.spec.unwrap().template;
    let labels = pod.metadata.unwrap().labels.unwrap();
    assert_eq!(labels.get("app.kubernetes.io/name"), Some(&sdb.spec.service.name), "the NetworkPolicy lets it in");
    let spec = pod.spec.unwrap();
    assert_eq!(spec.service_account_name, sdb.spec.service.service_account_name, "the Role lets it read the Secret");
    let secret = format!("{}-db-credentials", sdb.metadata.name.unwrap());
    let volume = spec.volumes.unwrap().into_iter().find_map(|v| v.secret).expect("the Secret as files");
    assert_eq!(volume.secret_name.as_deref(), Some(secret.as_str()));
    assert_eq!(volume.items.unwrap()[0].key, "ca.crt");
    let container = &spec.containers[0];
    let mount = &container.volume_mounts.as_ref().unwrap()[0].mount_path;
    let env = container.env.as_ref().unwrap();
    let value = |name: &str| env.iter().find(|e| e.name == name).unwrap();
    assert_eq!(value("PGSSLROOTCERT").value.as_deref(), Some(format!("{mount}/ca.crt").as_str()));
    let uri = value("DATABASE_URL").value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((uri.name.as_str(), uri.key.as_str()), (secret.as_str(), "uri"));
}
