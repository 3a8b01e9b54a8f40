//! Builder tests from inline YAML fixtures: no client, no cluster.

use super::*;
use crate::api::ServiceDatabase;
use std::collections::BTreeMap;

const ORDERS: &str = r#"
apiVersion: servicedb.dev/v1alpha1
kind: ServiceDatabase
metadata:
  name: orders
  namespace: shop
  uid: 6f1c1d2e-0000-4000-8000-000000000001
spec:
  engine: postgres
  version: "16"
  service:
    name: orders
    serviceAccountName: orders-sa
  storage:
    size: 5Gi
    storageClassName: fast
  deletionPolicy: Delete
"#;

const MINIMAL: &str = r#"
apiVersion: servicedb.dev/v1alpha1
kind: ServiceDatabase
metadata:
  name: billing-api
  namespace: team-b
  uid: 6f1c1d2e-0000-4000-8000-000000000002
spec:
  engine: postgres
  version: "17"
  service:
    name: billing
    selector:
      tier: billing-backend
  storage:
    size: 1Gi
"#;

const TOOLS: &str = "ghcr.io/servicedb/servicedb-tools:test";

/// ORDERS with scheduled backups to S3 (an IP endpoint) or a volume.
fn with_backup(destination: &str) -> ServiceDatabase {
    fixture(&format!(
        "{ORDERS}  backup:\n    schedule: \"0 3 * * *\"\n    retention: {{keepLast: 7}}\n    destination: {destination}\n"
    ))
}

fn fixture(yaml: &str) -> ServiceDatabase {
    yaml_serde::from_str(yaml).expect("fixture parses")
}

fn passwords() -> Passwords {
    Passwords {
        admin: "AdminPassword0123456789".into(),
        app: "AppPassword0123456789".into(),
        monitor: "MonitorPassword0123456789".into(),
        backup: "BackupPassword0123456789".into(),
        app_b: None,
        rotation: Default::default(),
        derived: BTreeMap::from([("app-password-scram".to_string(), "SCRAM-SHA-256$4096:c2FsdA==$a:b".to_string())]),
        tls: None,
    }
}

/// Builds with the image of the spec's version, optionally bootstrapping.
fn build_from(sdb: &ServiceDatabase, restore: Option<&restore::RestoreSource>) -> Desired {
    let instance = Instance::new(sdb, "servicedb-system").expect("stored object");
    let images = crate::engine::Images::Official.for_spec(&sdb.spec).expect("supported");
    let inputs = Inputs {
        images: &images,
        claim_size: &sdb.spec.storage.size,
        tools_image: TOOLS,
        restore,
        monitoring_namespace: "monitoring",
        now: k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    };
    desired(&instance, &passwords(), inputs)
}

fn build(sdb: &ServiceDatabase) -> Desired {
    build_from(sdb, None)
}

fn text(secret: &k8s_openapi::api::core::v1::Secret) -> BTreeMap<String, String> {
    secret.data.clone().unwrap_or_default().into_iter().map(|(k, v)| (k, String::from_utf8(v.0).unwrap())).collect()
}

#[test]
fn credentials_secret_has_the_uniform_keys() {
    let d = build(&fixture(ORDERS));
    let creds = text(&d.credentials_secret);
    let keys: Vec<&str> = creds.keys().map(String::as_str).collect();
    assert_eq!(keys, ["database", "host", "jdbc-uri", "password", "port", "uri", "username"]);
    for key in secret::UNIFORM_KEYS {
        assert!(creds.contains_key(key), "missing {key}");
    }
    assert_eq!(creds["username"], "orders");
    assert_eq!(creds["password"], "AppPassword0123456789");
    assert_eq!(creds["host"], "orders-db.shop.svc");
    assert_eq!(creds["port"], "5432");
    assert_eq!(creds["database"], "orders");
    assert_eq!(creds["uri"], "postgresql://orders:AppPassword0123456789@orders-db.shop.svc:5432/orders");
    assert_eq!(d.credentials_secret.metadata.name.as_deref(), Some("orders-db-credentials"));
}

#[test]
fn the_service_never_sees_the_admin_password_or_verifier() {
    let d = build(&fixture(ORDERS));
    let creds = text(&d.credentials_secret);
    assert!(creds.values().all(|v| !v.contains("AdminPassword")));
    assert!(!creds.contains_key("app-password-scram"));

    let admin = text(&d.admin_secret);
    assert_eq!(admin["username"], "postgres");
    assert_eq!(admin["password"], "AdminPassword0123456789");
    assert_eq!(admin["app-password-scram"], "SCRAM-SHA-256$4096:c2FsdA==$a:b");
    // The operator keeps a copy, to restore a deleted credentials Secret unchanged.
    assert_eq!(admin["app-password"], "AppPassword0123456789");
}

#[test]
fn names_with_dashes_become_identifiers() {
    let d = build(&fixture(MINIMAL));
    let creds = text(&d.credentials_secret);
    assert_eq!(creds["username"], "billing_api");
    assert_eq!(creds["database"], "billing_api");
    assert_eq!(creds["host"], "billing-api-db.team-b.svc");
}

fn all_metas(d: &Desired) -> Vec<&k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta> {
    let mut metas = vec![
        &d.admin_secret.metadata,
        &d.credentials_secret.metadata,
        &d.network_policy.metadata,
        &d.headless_service.metadata,
        &d.client_service.metadata,
        &d.statefulset.metadata,
    ];
    if let Some(cm) = &d.init_config {
        metas.push(&cm.metadata);
    }
    if let Some((role, binding)) = &d.credentials_access {
        metas.extend([&role.metadata, &binding.metadata]);
    }
    metas
}

#[test]
fn every_child_is_owned_labelled_and_deterministically_named() {
    let sdb = fixture(ORDERS);
    let d = build(&sdb);
    let mut names: Vec<String> = all_metas(&d)
        .iter()
        .map(|m| {
            let owner = &m.owner_references.as_ref().unwrap()[0];
            assert_eq!(owner.uid, "6f1c1d2e-0000-4000-8000-000000000001");
            assert_eq!((owner.kind.as_str(), owner.name.as_str()), ("ServiceDatabase", "orders"));
            assert_eq!(owner.controller, Some(true));
            let labels = m.labels.as_ref().unwrap();
            assert_eq!(labels["app.kubernetes.io/managed-by"], "servicedb");
            assert_eq!(labels["app.kubernetes.io/instance"], "orders");
            assert_eq!(labels["app.kubernetes.io/component"], "database");
            assert_eq!(m.namespace.as_deref(), Some("shop"));
            m.name.clone().unwrap()
        })
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "orders-db",
            "orders-db",
            "orders-db",
            "orders-db-admin",
            "orders-db-credentials",
            "orders-db-credentials",
            "orders-db-credentials",
            "orders-db-headless",
            "orders-db-init"
        ]
    );
    // Building twice gives the same objects: nothing random in the builders.
    let again = build(&sdb);
    assert_eq!(format!("{:?}", d), format!("{:?}", again));
}

#[test]
fn statefulset_is_pod_security_restricted() {
    let d = build(&fixture(ORDERS));
    let spec = d.statefulset.spec.unwrap();
    let pod = spec.template.spec.unwrap();
    let psc = pod.security_context.unwrap();
    assert_eq!(psc.run_as_non_root, Some(true));
    assert_eq!(psc.run_as_user, Some(999));
    assert_eq!(psc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    assert_eq!(pod.automount_service_account_token, Some(false));
    assert_eq!(pod.containers.len(), 2, "the database and its exporter");
    for c in &pod.containers {
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(sc.allow_privilege_escalation, Some(false), "{}", c.name);
        assert_eq!(sc.read_only_root_filesystem, Some(true), "{}", c.name);
    }
    let c = &pod.containers[0];
    let sc = c.security_context.as_ref().unwrap();
    assert_eq!(sc.allow_privilege_escalation, Some(false));
    assert_eq!(sc.capabilities.as_ref().unwrap().drop.as_deref(), Some(&["ALL".to_string()][..]));
    assert!(sc.capabilities.as_ref().unwrap().add.is_none());
    assert_eq!(sc.read_only_root_filesystem, Some(true));
    assert_eq!(sc.run_as_non_root, Some(true));
    assert_eq!(sc.seccomp_profile.as_ref().unwrap().type_, "RuntimeDefault");
    assert_ne!(sc.privileged, Some(true));
    // Every directory the engine writes to is a volume, since the root is read-only.
    let mounts: Vec<&str> = c.volume_mounts.as_ref().unwrap().iter().map(|m| m.mount_path.as_str()).collect();
    for dir in ["/var/lib/postgresql/data", "/var/run/postgresql", "/tmp", "/docker-entrypoint-initdb.d"] {
        assert!(mounts.contains(&dir), "{dir} not mounted");
    }
}

#[test]
fn statefulset_runs_one_probed_instance_on_its_own_volume() {
    let d = build(&fixture(ORDERS));
    let spec = d.statefulset.spec.unwrap();
    assert_eq!(d.statefulset.metadata.name.as_deref(), Some("orders-db"));
    assert_eq!(spec.replicas, Some(1));
    assert_eq!(spec.service_name.as_deref(), Some("orders-db-headless"));
    let c = &spec.template.spec.as_ref().unwrap().containers[0];
    assert_eq!(c.image.as_deref(), Some("docker.io/library/postgres:16"));
    assert!(c.readiness_probe.is_some() && c.liveness_probe.is_some() && c.startup_probe.is_some());
    assert_eq!(c.resources.as_ref(), Some(&default_resources()));
    assert_eq!(c.ports.as_ref().unwrap()[0].container_port, 5432);

    let claim = &spec.volume_claim_templates.as_ref().unwrap()[0];
    let claim_spec = claim.spec.as_ref().unwrap();
    assert_eq!(claim_spec.storage_class_name.as_deref(), Some("fast"));
    assert_eq!(claim_spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0, "5Gi");
    // The template's selector labels match the pod's labels.
    let selector = spec.selector.match_labels.unwrap();
    let pod_labels = spec.template.metadata.unwrap().labels.unwrap();
    assert!(selector.iter().all(|(k, v)| pod_labels.get(k) == Some(v)));
}

#[test]
fn deletion_policy_decides_what_happens_to_the_volume() {
    let retention =
        |yaml| build(&fixture(yaml)).statefulset.spec.unwrap().persistent_volume_claim_retention_policy.unwrap();
    assert_eq!(retention(ORDERS).when_deleted.as_deref(), Some("Delete"));
    assert_eq!(retention(MINIMAL).when_deleted.as_deref(), Some("Retain"), "Retain is the default");
    assert_eq!(retention(MINIMAL).when_scaled.as_deref(), Some("Retain"));
}

#[test]
fn user_resources_replace_the_defaults() {
    let mut sdb = fixture(MINIMAL);
    sdb.spec.resources = yaml_serde::from_str("limits: {memory: 2Gi}\nrequests: {cpu: '1'}").unwrap();
    let d = build(&sdb);
    let c = &d.statefulset.spec.unwrap().template.spec.unwrap().containers[0];
    let resources = c.resources.as_ref().unwrap();
    assert_eq!(resources.limits.as_ref().unwrap()["memory"].0, "2Gi");
    assert_eq!(resources.requests.as_ref().unwrap()["cpu"].0, "1");
}

#[test]
fn network_policy_lets_in_only_the_owner_and_the_operator_on_the_database_port() {
    let d = build(&fixture(ORDERS));
    let spec = d.network_policy.spec.unwrap();
    assert_eq!(spec.policy_types.as_deref(), Some(&["Ingress".to_string(), "Egress".to_string()][..]));
    let selected = spec.pod_selector.unwrap().match_labels.unwrap();
    assert_eq!(selected["app.kubernetes.io/instance"], "orders");
    assert_eq!(selected["app.kubernetes.io/component"], "database");

    let ingress = spec.ingress.unwrap();
    assert_eq!(ingress.len(), 2, "two rules: the database port, the exporter's port");
    assert_eq!(
        serde_json::to_value(&ingress[1]).unwrap(),
        serde_json::json!({
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}],
            "ports": [{"port": 9187, "protocol": "TCP"}]
        }),
        "the metrics port, from the monitoring namespace only"
    );
    let ports = ingress[0].ports.as_ref().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(serde_json::to_value(&ports[0]).unwrap(), serde_json::json!({"port": 5432, "protocol": "TCP"}));
    let from = ingress[0].from.as_ref().unwrap();
    assert_eq!(from.len(), 2);
    // The owner: a pod selector alone means "in this namespace".
    assert_eq!(
        serde_json::to_value(&from[0]).unwrap(),
        serde_json::json!({"podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}}})
    );
    // The operator: its pods, in its namespace only.
    assert_eq!(
        serde_json::to_value(&from[1]).unwrap(),
        serde_json::json!({
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "servicedb-system"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "servicedb"}}
        })
    );

    let egress = spec.egress.unwrap();
    assert_eq!(egress.len(), 1, "egress only for DNS");
    let ports: Vec<_> = egress[0].ports.as_ref().unwrap().iter().map(|p| serde_json::to_value(p).unwrap()).collect();
    assert_eq!(
        ports,
        [serde_json::json!({"port": 53, "protocol": "UDP"}), serde_json::json!({"port": 53, "protocol": "TCP"})]
    );
}

#[test]
fn network_policy_uses_a_custom_owner_selector() {
    let d = build(&fixture(MINIMAL));
    let ingress = d.network_policy.spec.unwrap().ingress.unwrap();
    let owner = ingress[0].from.as_ref().unwrap()[0].pod_selector.clone().unwrap();
    assert_eq!(owner.match_labels.unwrap(), BTreeMap::from([("tier".to_string(), "billing-backend".to_string())]));
}

#[test]
fn only_the_named_service_account_may_get_only_its_secret() {
    let d = build(&fixture(ORDERS));
    let (role, binding) = d.credentials_access.expect("a ServiceAccount is named");
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].verbs, ["get"]);
    assert_eq!(rules[0].resources.as_deref(), Some(&["secrets".to_string()][..]));
    assert_eq!(rules[0].resource_names.as_deref(), Some(&["orders-db-credentials".to_string()][..]));
    let subjects = binding.subjects.unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!((subjects[0].kind.as_str(), subjects[0].name.as_str()), ("ServiceAccount", "orders-sa"));
    assert_eq!(subjects[0].namespace.as_deref(), Some("shop"));
    assert_eq!(binding.role_ref.name, "orders-db-credentials");

    assert!(build(&fixture(MINIMAL)).credentials_access.is_none(), "no account named, nobody is granted");
}

#[test]
fn services_target_the_instance_pods_by_port_name() {
    let d = build(&fixture(ORDERS));
    let client = d.client_service.spec.unwrap();
    assert_eq!(client.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(client.selector.as_ref().unwrap()["app.kubernetes.io/instance"], "orders");
    let port = &client.ports.unwrap()[0];
    assert_eq!(port.port, 5432);
    let headless = d.headless_service.spec.unwrap();
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(d.headless_service.metadata.name.as_deref(), Some("orders-db-headless"));
}

#[test]
fn init_script_is_shipped_and_quotes_every_value() {
    let d = build(&fixture(ORDERS));
    let data = d.init_config.unwrap().data.unwrap();
    let script = &data["10-create-app-login.sh"];
    assert!(script.contains(r#"CREATE ROLE :"app_user""#));
    assert!(script.contains("PASSWORD :'app_verifier'"));
    // The SQL heredoc is quoted, so the shell never expands values into it.
    assert!(script.contains("<<'SQL'"));
}

#[test]
fn an_object_that_was_never_stored_is_refused() {
    let mut sdb = fixture(ORDERS);
    sdb.metadata.uid = None;
    assert!(Instance::new(&sdb, "servicedb-system").is_err());
}

fn of_engine(engine: &str, version: &str) -> ServiceDatabase {
    fixture(
        &ORDERS.replace("engine: postgres", &format!("engine: {engine}")).replace("\"16\"", &format!("\"{version}\"")),
    )
}

#[test]
fn every_engine_gets_the_same_credential_keys_and_its_own_port() {
    for (engine, version, port, jdbc) in [
        ("postgres", "16", 5432, true),
        ("mysql", "8.4", 3306, true),
        ("mariadb", "11.4", 3306, true),
        ("redis", "7.4", 6379, false),
    ] {
        let d = build(&of_engine(engine, version));
        let creds = text(&d.credentials_secret);
        for key in secret::UNIFORM_KEYS {
            assert!(creds.contains_key(key), "{engine}: missing {key}");
        }
        assert_eq!(creds.contains_key("jdbc-uri"), jdbc, "{engine}: jdbc-uri only for SQL engines");
        assert_eq!(creds["port"], port.to_string(), "{engine}");
        assert_eq!(creds.len(), if jdbc { 7 } else { 6 }, "{engine}: {creds:?}");

        let np_port = d.network_policy.spec.unwrap().ingress.unwrap()[0].ports.clone().unwrap()[0].port.clone();
        assert_eq!(np_port, Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(port)), "{engine}");

        let pod = d.statefulset.spec.unwrap().template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.name, engine);
        for var in c.env.iter().flatten() {
            assert!(
                var.value.as_deref().is_none_or(|v| !v.contains("Password0123")),
                "{engine}: {} carries a secret",
                var.name
            );
        }
        assert_eq!(d.init_config.is_some(), engine == "postgres", "{engine}: init ConfigMap only where used");
    }
}

#[test]
fn redis_reads_its_acl_file_from_the_admin_secret() {
    let d = build(&of_engine("redis", "7.4"));
    let pod = d.statefulset.spec.unwrap().template.spec.unwrap();
    let c = &pod.containers[0];
    let args = c.args.clone().unwrap();
    assert_eq!(args[..3], ["redis-server", "--aclfile", "/etc/servicedb/users.acl"]);
    let volume = pod.volumes.unwrap().into_iter().find(|v| v.secret.is_some()).expect("a Secret volume");
    let source = volume.secret.unwrap();
    assert_eq!(source.secret_name.as_deref(), Some("orders-db-admin"));
    let items = source.items.unwrap();
    assert_eq!(items.len(), 1, "only the ACL file, not the passwords");
    assert_eq!(items[0].key, "users.acl");
    assert_eq!(text(&d.credentials_secret)["database"], "0");
}

#[test]
fn backups_run_on_schedule_with_credentials_from_secrets_only() {
    let sdb =
        with_backup("{s3: {endpoint: 'http://10.1.2.3:9000', bucket: b, credentialsSecret: s3-creds, tls: false}}");
    let d = build(&sdb);
    let backup = d.backup.expect("backup children");
    let cron = backup.cronjob.spec.unwrap();
    assert_eq!(backup.cronjob.metadata.name.as_deref(), Some("orders-db-backup"));
    assert_eq!((cron.schedule.as_str(), cron.concurrency_policy.as_deref()), ("0 3 * * *", Some("Forbid")));
    assert_eq!((cron.successful_jobs_history_limit, cron.failed_jobs_history_limit), (Some(3), Some(3)));
    let pod = cron.job_template.spec.unwrap().template.spec.unwrap();
    let container = &pod.containers[0];
    assert_eq!(container.image.as_deref(), Some(TOOLS));
    assert_eq!(container.security_context.as_ref().unwrap().read_only_root_filesystem, Some(true));
    assert_eq!(pod.automount_service_account_token, Some(false));
    let env: BTreeMap<_, _> = container.env.clone().unwrap().into_iter().map(|e| (e.name.clone(), e)).collect();
    assert_eq!(env["SERVICEDB_S3_PREFIX"].value.as_deref(), Some("shop/orders"));
    assert_eq!(env["SERVICEDB_KEEP_LAST"].value.as_deref(), Some("7"));
    assert_eq!(env["SERVICEDB_DB_HOST"].value.as_deref(), Some("orders-db.shop.svc"));
    for secret in ["SERVICEDB_DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"] {
        assert!(env[secret].value.is_none() && env[secret].value_from.is_some(), "{secret} must come from a Secret");
    }
    // The read-only backup login, never the admin's.
    for key in ["SERVICEDB_DB_USERNAME", "SERVICEDB_DB_PASSWORD"] {
        let from = env[key].value_from.as_ref().and_then(|v| v.secret_key_ref.as_ref()).expect("a Secret key");
        assert_eq!(from.name, "orders-db-backup-login", "{key}");
    }
    let admin_read = serde_json::to_string(&pod).unwrap().contains("orders-db-admin");
    assert!(!admin_read, "a backup pod reads the admin Secret");
    let login = &backup.login_secret;
    assert_eq!(login.metadata.name.as_deref(), Some("orders-db-backup-login"));
    let data = login.data.as_ref().unwrap();
    assert_eq!(data["username"].0, b"servicedb_backup");
    assert_eq!(data["password"].0, passwords().backup.as_bytes());
    assert_eq!(data["database"].0, b"orders", "the service's database");
    let admin = d.admin_secret.data.unwrap();
    assert_eq!(admin["backup-password"].0, passwords().backup.as_bytes(), "the operator's copy");
    assert!(backup.claim.is_none(), "S3 needs no claim");

    let egress = serde_json::to_value(backup.network_policy.spec.unwrap().egress).unwrap();
    let s3_rule = &egress[2];
    assert_eq!(s3_rule["to"][0]["ipBlock"]["cidr"], "10.1.2.3/32");
    assert_eq!(s3_rule["ports"][0]["port"], 9000);
    assert_eq!(egress[1]["ports"][0]["port"], 5432, "the database port of this instance");
}

#[test]
fn the_database_lets_in_its_own_backup_pods_only_when_backups_are_on() {
    let peers = |d: &Desired| {
        serde_json::to_value(&d.network_policy.spec.as_ref().unwrap().ingress).unwrap()[0]["from"].clone()
    };
    let on = peers(&build(&with_backup("{volume: {}}")));
    assert_eq!(on.as_array().unwrap().len(), 3);
    assert_eq!(on[2]["podSelector"]["matchLabels"]["app.kubernetes.io/component"], "backup");
    assert_eq!(on[2]["podSelector"]["matchLabels"]["app.kubernetes.io/instance"], "orders");
    assert_eq!(peers(&build(&fixture(ORDERS))).as_array().unwrap().len(), 2);
}

#[test]
fn a_volume_destination_gets_a_claim_that_outlives_the_database() {
    let d = build(&with_backup("{volume: {size: 20Gi}}"));
    let backup = d.backup.unwrap();
    let claim = backup.claim.expect("a claim when none is named");
    assert_eq!(claim.metadata.name.as_deref(), Some("orders-db-backups"));
    assert!(claim.metadata.owner_references.is_none(), "deleting the database must not delete its backups");
    let requests = claim.spec.unwrap().resources.unwrap().requests.unwrap();
    assert_eq!(requests["storage"].0, "20Gi");
    let pod = backup.cronjob.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
    let env = pod.containers[0].env.clone().unwrap();
    assert!(env.iter().any(|e| e.name == "SERVICEDB_BACKUP_DIR" && e.value.as_deref() == Some("/backups/orders")));

    let named = build(&with_backup("{volume: {claimName: shared-backups}}")).backup.unwrap();
    assert!(named.claim.is_none());
    let pod = named.cronjob.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
    let volume = &pod.volumes.unwrap()[1];
    assert_eq!(volume.persistent_volume_claim.as_ref().unwrap().claim_name, "shared-backups");
}

fn restore_source() -> restore::RestoreSource {
    let location: crate::api::BackupLocation = yaml_serde::from_str(
        "{serviceDatabase: old-orders, backupId: 20261129T030000Z-00ff, destination: {s3: {bucket: b, credentialsSecret: s3-creds, endpoint: 'https://10.1.2.3:9000'}}}",
    )
    .unwrap();
    restore::RestoreSource::from(&location)
}

fn build_restoring(yaml: &str) -> Desired {
    build_from(&fixture(yaml), Some(&restore_source()))
}

fn env_of(container: &k8s_openapi::api::core::v1::Container) -> BTreeMap<String, String> {
    container.env.clone().unwrap().into_iter().filter_map(|e| Some((e.name, e.value?))).collect()
}

#[test]
fn sql_engines_restore_with_a_job_owned_by_the_new_instance() {
    let d = build_restoring(ORDERS);
    let restore = d.restore.expect("a restore Job for PostgreSQL");
    assert_eq!(restore.job.metadata.name.as_deref(), Some("orders-db-restore"));
    let pod = restore.job.spec.unwrap().template.spec.unwrap();
    let env = env_of(&pod.containers[0]);
    assert_eq!(pod.containers[0].args, Some(vec!["restore".to_string()]));
    assert_eq!(env["SERVICEDB_RESTORE_OWNER"], "orders", "the service's login owns the restored objects");
    assert_eq!(env["SERVICEDB_S3_PREFIX"], "shop/old-orders", "the backups of the source instance");
    assert_eq!(env["SERVICEDB_BACKUP_ID"], "20261129T030000Z-00ff");
    let login = pod.containers[0].env.as_ref().unwrap().iter().find(|e| e.name == "SERVICEDB_DB_USERNAME");
    let login = login.and_then(|e| e.value_from.as_ref()?.secret_key_ref.as_ref()).expect("from a Secret");
    assert_eq!(login.name, "orders-db-admin", "a restore creates objects: the admin's login");
    let egress = serde_json::to_value(restore.network_policy.spec.unwrap().egress).unwrap();
    assert_eq!(egress[2]["to"][0]["ipBlock"]["cidr"], "10.1.2.3/32");
    assert!(d.statefulset.spec.unwrap().template.spec.unwrap().init_containers.is_none());
}

#[test]
fn redis_restores_in_an_init_container_that_spares_existing_data() {
    let d = build_restoring(&ORDERS.replace("engine: postgres", "engine: redis").replace("\"16\"", "\"7.4\""));
    assert!(d.restore.is_none(), "no Job: Redis loads data only at start");
    let pod = d.statefulset.spec.unwrap().template.spec.unwrap();
    let init = &pod.init_containers.expect("an init container")[0];
    let env = env_of(init);
    assert_eq!(env["SERVICEDB_RESTORE_INTO_DIR"], "/data");
    assert_eq!(env["SERVICEDB_RESTORE_SKIP_IF_PRESENT"], "true");
    let mounts: Vec<_> = init.volume_mounts.clone().unwrap().into_iter().map(|m| m.name).collect();
    assert!(mounts.contains(&"data".to_string()), "{mounts:?}");
    assert_eq!(init.security_context.as_ref().unwrap().run_as_non_root, Some(true));
}

#[test]
fn every_engine_gets_its_exporter_with_the_monitoring_password_from_the_secret() {
    for (engine, version, port) in [("postgres", "16", 9187), ("mariadb", "11.4", 9104), ("redis", "7.4", 9121)] {
        let yaml = ORDERS
            .replace("engine: postgres", &format!("engine: {engine}"))
            .replace("\"16\"", &format!("\"{version}\""));
        let pod = build(&fixture(&yaml)).statefulset.spec.unwrap().template.spec.unwrap();
        let exporter = pod.containers.iter().find(|c| c.name == "exporter").expect("an exporter");
        let ports = exporter.ports.clone().unwrap();
        assert_eq!((ports[0].name.as_deref(), ports[0].container_port), (Some("metrics"), port), "{engine}");
        let secrets: Vec<_> =
            exporter.env.iter().flatten().filter_map(|e| e.value_from.as_ref()?.secret_key_ref.clone()).collect();
        assert_eq!(secrets.len(), 1, "{engine}: one secret, the monitoring password");
        assert_eq!((secrets[0].name.as_str(), secrets[0].key.as_str()), ("orders-db-admin", "monitor-password"));
        assert!(exporter.env.iter().flatten().all(|e| !e.name.contains("PASS") || e.value.is_none()), "{engine}");
    }
    let off =
        ORDERS.replace("  deletionPolicy: Delete\n", "  deletionPolicy: Delete\n  monitoring: {enabled: false}\n");
    let d = build(&fixture(&off));
    assert_eq!(d.statefulset.spec.unwrap().template.spec.unwrap().containers.len(), 1);
    assert_eq!(d.network_policy.spec.unwrap().ingress.unwrap().len(), 1, "no metrics port to open");
}

#[test]
fn the_statefulset_runs_the_resolved_images_and_names_its_version() {
    let sdb = fixture(ORDERS);
    let instance = Instance::new(&sdb, "servicedb-system").unwrap();
    let images = crate::engine::InstanceImages {
        database: "mirror.example/postgres:16".into(),
        exporter: Some("mirror.example/postgres-exporter:1".into()),
    };
    let inputs = Inputs {
        images: &images,
        claim_size: "5Gi",
        tools_image: TOOLS,
        restore: None,
        monitoring_namespace: "monitoring",
        now: k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    };
    let sts = desired(&instance, &passwords(), inputs).statefulset;
    assert_eq!(sts.metadata.annotations.unwrap()[ENGINE_VERSION_ANNOTATION], "16");
    let containers = sts.spec.unwrap().template.spec.unwrap().containers;
    let images: Vec<_> = containers.iter().map(|c| (c.name.as_str(), c.image.as_deref().unwrap())).collect();
    assert_eq!(
        images,
        [("postgres", "mirror.example/postgres:16"), ("exporter", "mirror.example/postgres-exporter:1")]
    );
}

/// The S3 CA bundle's Secret volume of a pod, and the mount and env of its container.
fn ca_bundle_of(
    pod: &k8s_openapi::api::core::v1::PodSpec,
    container: &k8s_openapi::api::core::v1::Container,
) -> (String, Option<bool>, String) {
    let volume = pod.volumes.iter().flatten().find(|v| v.name == "s3-ca").expect("the CA bundle's volume");
    let mount = container.volume_mounts.iter().flatten().find(|m| m.name == "s3-ca").expect("mounted");
    let file = env_of(container)["SERVICEDB_S3_CA_FILE"].clone();
    assert!(file.starts_with(&mount.mount_path), "{file} is under {}", mount.mount_path);
    (volume.secret.as_ref().unwrap().secret_name.clone().unwrap(), mount.read_only, file)
}

#[test]
fn backup_and_restore_pods_trust_the_s3_ca_bundle_from_its_secret() {
    let s3 = "{s3: {endpoint: 'https://10.1.2.3:9000', bucket: b, credentialsSecret: s3-creds, caBundle: {secretName: store-ca}}}";
    let backup = build(&with_backup(s3)).backup.unwrap();
    let pod = backup.cronjob.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
    let (secret, read_only, file) = ca_bundle_of(&pod, &pod.containers[0]);
    assert_eq!((secret.as_str(), read_only, file.as_str()), ("store-ca", Some(true), "/etc/servicedb/s3-ca/ca.crt"));

    // bootstrap.fromBackup.location.destination is a BackupDestination too.
    let location: crate::api::BackupLocation =
        yaml_serde::from_str(&format!("{{serviceDatabase: old-orders, destination: {s3}}}")).unwrap();
    let source = restore::RestoreSource::from(&location);
    let job = build_from(&fixture(ORDERS), Some(&source)).restore.expect("a restore Job").job;
    let pod = job.spec.unwrap().template.spec.unwrap();
    assert_eq!(ca_bundle_of(&pod, &pod.containers[0]).0, "store-ca");

    let redis = fixture(&ORDERS.replace("engine: postgres", "engine: redis").replace("\"16\"", "\"7.4\""));
    let pod = build_from(&redis, Some(&source)).statefulset.spec.unwrap().template.spec.unwrap();
    let init = pod.init_containers.clone().expect("the restore init container");
    assert_eq!(ca_bundle_of(&pod, &init[0]).1, Some(true));
}

/// ORDERS whose service runs in the namespace `storefront`.
fn elsewhere() -> ServiceDatabase {
    fixture(
        &ORDERS.replace("serviceAccountName: orders-sa", "serviceAccountName: orders-sa\n    namespace: storefront"),
    )
}

#[test]
fn a_service_in_another_namespace_is_let_in_from_that_namespace_only() {
    let ingress = build(&elsewhere()).network_policy.spec.unwrap().ingress.unwrap();
    // One peer with both selectors: the service's pods, and only in its namespace.
    assert_eq!(
        serde_json::to_value(&ingress[0].from.as_ref().unwrap()[0]).unwrap(),
        serde_json::json!({
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "storefront"}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": "orders"}}
        })
    );
    // Naming its own namespace is the same as naming none.
    let own =
        fixture(&ORDERS.replace("serviceAccountName: orders-sa", "serviceAccountName: orders-sa\n    namespace: shop"));
    let d = build(&own);
    assert!(d.delivered_credentials.is_none());
    assert_eq!(format!("{:?}", d.network_policy), format!("{:?}", build(&fixture(ORDERS)).network_policy));
}

#[test]
fn credentials_are_delivered_to_a_service_in_another_namespace_for_its_account_only() {
    let d = build(&elsewhere());
    let DeliveredCredentials { role, secret, binding } = d.delivered_credentials.expect("delivered");
    let name = "orders-db-credentials.shop";
    for meta in [&role.metadata, &secret.metadata, &binding.metadata] {
        assert_eq!((meta.name.as_deref(), meta.namespace.as_deref()), (Some(name), Some("storefront")));
        assert!(meta.owner_references.is_none(), "an owner reference cannot cross namespaces");
        let labels = meta.labels.as_ref().unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "servicedb", "the watches select on it");
        assert_eq!(labels["app.kubernetes.io/instance"], "orders");
        assert_eq!(labels[delivery::SOURCE_NAMESPACE_LABEL], "shop");
        assert_eq!(labels[delivery::SOURCE_UID_LABEL], "6f1c1d2e-0000-4000-8000-000000000001");
        assert!(delivery::delivered_by(labels, &Instance::new(&elsewhere(), "servicedb-system").unwrap()));
    }
    assert_eq!(text(&secret), text(&d.credentials_secret), "the same keys and values as the database's copy");
    assert_eq!(secret.type_, d.credentials_secret.type_);
    let rules = role.rules.unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(
        (rules[0].verbs.as_slice(), rules[0].resource_names.as_deref()),
        (&["get".to_string()][..], Some(&[name.to_string()][..]))
    );
    let subjects = binding.subjects.unwrap();
    assert_eq!(subjects.len(), 1);
    assert_eq!(
        (subjects[0].kind.as_str(), subjects[0].name.as_str(), subjects[0].namespace.as_deref()),
        ("ServiceAccount", "orders-sa", Some("storefront"))
    );
    assert_eq!(binding.role_ref.name, name);
    // A same-named account of the database's namespace is not the service's: no grant there.
    assert!(d.credentials_access.is_none());
}

/// ORDERS (with the exporter and backups) serving TLS.
fn build_with_tls(sdb: &ServiceDatabase) -> (Desired, crate::tls::ServerKeys) {
    let instance = Instance::new(sdb, "servicedb-system").expect("stored object");
    let images = crate::engine::Images::Official.for_spec(&sdb.spec).expect("supported");
    let authority = crate::tls::Authority::generate(std::time::SystemTime::now()).unwrap();
    let names = crate::tls::server_names(&instance.instance_name(), instance.namespace);
    let keys = authority.issue(&names, std::time::SystemTime::now()).unwrap();
    let passwords = Passwords { tls: Some(keys.clone()), ..passwords() };
    let inputs = Inputs {
        images: &images,
        claim_size: &sdb.spec.storage.size,
        tools_image: TOOLS,
        restore: None,
        monitoring_namespace: "monitoring",
        now: k8s_openapi::jiff::Timestamp::UNIX_EPOCH,
    };
    (desired(&instance, &passwords, inputs), keys)
}

#[test]
fn with_tls_the_server_mounts_its_keys_the_exporter_only_the_ca_and_clients_get_ca_crt() {
    let (desired, keys) = build_with_tls(&with_backup("{volume: {size: 1Gi}}"));
    let admin = text(&desired.admin_secret);
    assert_eq!(admin["tls.crt"], keys.cert_pem);
    assert_eq!(admin["tls.key"], keys.key_pem);
    let credentials = text(&desired.credentials_secret);
    assert_eq!(credentials["ca.crt"], keys.ca_pem, "the service verifies the server with it");
    assert!(!credentials.contains_key("tls.key"), "the server's key stays in the admin Secret");
    assert!(credentials["uri"].ends_with("sslmode=verify-full"), "{}", credentials["uri"]);
    let backup_login = text(&desired.backup.as_ref().unwrap().login_secret);
    assert_eq!(backup_login["ca.crt"], keys.ca_pem);

    let pod = desired.statefulset.spec.as_ref().unwrap().template.spec.clone().unwrap();
    let volume = |name: &str| pod.volumes.as_ref().unwrap().iter().find(|v| v.name == name).cloned().unwrap();
    let items = |name: &str| -> Vec<String> {
        volume(name).secret.unwrap().items.unwrap().into_iter().map(|i| i.key).collect()
    };
    assert_eq!(items("tls"), ["tls.crt", "tls.key", "ca.crt"]);
    assert_eq!(volume("tls").secret.unwrap().default_mode, Some(0o440), "PostgreSQL refuses a key others can read");
    assert_eq!(items("exporter-tls"), ["ca.crt"], "the exporter never sees the server's key");
    let database = &pod.containers[0];
    let args = database.args.clone().unwrap();
    assert!(args.contains(&"ssl=on".to_string()), "{args:?}");
    let mounted = |c: &k8s_openapi::api::core::v1::Container, name: &str| {
        c.volume_mounts.iter().flatten().any(|m| m.name == name && m.mount_path == crate::engine::TLS_DIR)
    };
    assert!(mounted(database, "tls") && mounted(&pod.containers[1], "exporter-tls"));
    let init = desired.init_config.as_ref().unwrap().data.clone().unwrap();
    assert!(init["pg_hba.conf"].contains("hostssl"), "the hba file the server is told to read");

    let job = desired.backup.unwrap().cronjob.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap();
    let env = job.containers[0].env.clone().unwrap();
    let ca = env.iter().find(|e| e.name == "SERVICEDB_DB_CA").expect("the backup verifies the server");
    let selector = ca.value_from.as_ref().unwrap().secret_key_ref.as_ref().unwrap();
    assert_eq!((selector.name.as_str(), selector.key.as_str()), ("orders-db-backup-login", "ca.crt"));
}

#[test]
fn without_tls_nothing_of_it_is_built() {
    let desired = build(&fixture(ORDERS));
    let admin = text(&desired.admin_secret);
    assert!(!admin.contains_key("tls.crt") && !text(&desired.credentials_secret).contains_key("ca.crt"));
    let pod = desired.statefulset.spec.unwrap().template.spec.unwrap();
    assert!(pod.volumes.unwrap().iter().all(|v| v.name != "tls" && v.name != "exporter-tls"));
    assert_eq!(pod.containers[0].args, None, "the image's own command");
}
