//! The alert rules, judged by Prometheus's own promtool (Debian's
//! prometheus package): they load, and every alert fires when it should and
//! stays silent when it should not, for this instance only.

use k8s_openapi::jiff::Timestamp;
use servicedb::api::ServiceDatabase;
use servicedb::api::prometheus::{AlertRule, RuleGroup};
use servicedb::builders::Instance;
use servicedb::builders::monitoring::alert_rules;
use std::process::Command;

fn sdb(engine: &str, version: &str) -> ServiceDatabase {
    yaml_serde::from_str(&format!(
        "apiVersion: servicedb.dev/v1alpha1\nkind: ServiceDatabase\nmetadata: {{name: orders, namespace: shop, uid: u-1}}\nspec:\n  engine: {engine}\n  version: '{version}'\n  service: {{name: orders}}\n  storage: {{size: 1Gi}}\n  backup: {{schedule: '0 3 * * *', destination: {{volume: {{}}}}}}\n"
    ))
    .unwrap()
}

fn rules(engine: &str, version: &str) -> RuleGroup {
    let sdb = sdb(engine, version);
    let instance = Instance::new(&sdb, "servicedb-system").unwrap();
    alert_rules(&instance, Timestamp::from_second(1_800_000_000).unwrap())
}

fn promtool(args: &[&str], dir: &std::path::Path) -> String {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool is missing: run `make deps` (apt-get install prometheus)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "promtool {args:?} failed:\n{text}");
    text
}

fn write_rules(dir: &std::path::Path, group: &RuleGroup) {
    let file = yaml_serde::to_string(&serde_json::json!({ "groups": [group] })).unwrap();
    std::fs::write(dir.join("rules.yaml"), file).unwrap();
}

#[test]
fn every_engines_rules_load_in_prometheus() {
    for (engine, version) in [("postgres", "16"), ("mysql", "8.4"), ("mariadb", "11.4"), ("redis", "7.4")] {
        let dir = tempfile::tempdir().unwrap();
        let group = rules(engine, version);
        assert_eq!(group.rules.len(), 8, "{engine}");
        write_rules(dir.path(), &group);
        let out = promtool(&["check", "rules", "rules.yaml"], dir.path());
        assert!(out.contains("SUCCESS: 8 rules found"), "{engine}: {out}");
    }
}

/// The alert as promtool reports it: the series' labels, the severity, and
/// the annotations with `$value` rendered as `value`.
fn expected(rule: &AlertRule, labels: &str, value: &str) -> serde_json::Value {
    let mut exp_labels: serde_json::Map<String, serde_json::Value> = serde_json::from_str(labels).unwrap();
    exp_labels.insert("severity".into(), rule.labels["severity"].clone().into());
    let annotations: serde_json::Map<String, serde_json::Value> = rule
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), v.replace("{{ $value | humanizePercentage }}", value).into()))
        .collect();
    serde_json::json!({"exp_labels": exp_labels, "exp_annotations": annotations})
}

#[test]
fn every_alert_fires_when_it_should_and_only_then() {
    let group = rules("postgres", "16");
    let rule = |name: &str| group.rules.iter().find(|r| r.alert == name).unwrap_or_else(|| panic!("no {name}"));
    let pod = r#"{"namespace": "shop", "pod": "orders-db-0"}"#;
    let object = r#"{"namespace": "shop", "name": "orders"}"#;
    let volume = r#"{"namespace": "shop", "persistentvolumeclaim": "data-orders-db-0"}"#;
    // (alert, labels of the firing series, $value rendered, minute it is still quiet, minute it fires)
    let cases = [
        ("ServiceDatabaseDown", pod, "", 2, 10),
        (
            "ServiceDatabaseExporterDown",
            r#"{"namespace": "shop", "pod": "orders-db-0", "container": "exporter"}"#,
            "",
            5,
            15,
        ),
        ("ServiceDatabaseConnectionsNearLimit", pod, "95%", 10, 20),
        ("ServiceDatabaseStorageNearlyFull", volume, "90%", 5, 15),
        ("ServiceDatabaseCredentialsNotReady", object, "", 10, 25),
        ("ServiceDatabaseBackupFailing", object, "", 3, 8),
        ("ServiceDatabaseNotIsolated", object, "", 5, 7),
    ];
    let mut alert_tests = Vec::new();
    for (name, labels, value, quiet, fires) in cases {
        alert_tests.push(serde_json::json!({"eval_time": format!("{quiet}m"), "alertname": name, "exp_alerts": []}));
        alert_tests.push(serde_json::json!({
            "eval_time": format!("{fires}m"), "alertname": name, "exp_alerts": [expected(rule(name), labels, value)]
        }));
    }
    let minutes = serde_json::json!({
        "interval": "1m",
        "input_series": [
            {"series": r#"pg_up{namespace="shop", pod="orders-db-0"}"#, "values": "1 1 1 0x30"},
            // Another instance's and another namespace's trouble is not this instance's alert.
            {"series": r#"pg_up{namespace="shop", pod="billing-db-0"}"#, "values": "0x30"},
            {"series": r#"pg_up{namespace="other", pod="orders-db-0"}"#, "values": "0x30"},
            {"series": r#"up{namespace="shop", pod="orders-db-0", container="exporter"}"#, "values": "1x5 0x30"},
            {"series": r#"pg_stat_database_numbackends{namespace="shop", pod="orders-db-0", datname="orders"}"#, "values": "10x5 90x30"},
            {"series": r#"pg_stat_database_numbackends{namespace="shop", pod="orders-db-0", datname="postgres"}"#, "values": "5x40"},
            {"series": r#"pg_settings_max_connections{namespace="shop", pod="orders-db-0"}"#, "values": "100x40"},
            {"series": r#"kubelet_volume_stats_used_bytes{namespace="shop", persistentvolumeclaim="data-orders-db-0"}"#, "values": "50x5 90x30"},
            {"series": r#"kubelet_volume_stats_capacity_bytes{namespace="shop", persistentvolumeclaim="data-orders-db-0"}"#, "values": "100x40"},
            {"series": r#"servicedb_credentials_ready{namespace="shop", name="orders"}"#, "values": "1x5 0x30"},
            {"series": r#"servicedb_credentials_ready{namespace="shop", name="billing"}"#, "values": "0x40"},
            {"series": r#"servicedb_backup_last_run_failed{namespace="shop", name="orders"}"#, "values": "0x5 1x10"},
            {"series": r#"servicedb_isolated{namespace="shop", name="orders"}"#, "values": "1x6 0x30"},
            {"series": r#"servicedb_isolated{namespace="other", name="orders"}"#, "values": "1x40"},
        ],
        "alert_rule_test": alert_tests,
    });
    // A daily schedule: stale after 48 hours without a success.
    let stale = rule("ServiceDatabaseBackupStale");
    let hours = serde_json::json!({
        "interval": "1h",
        "input_series": [
            {"series": r#"servicedb_backup_last_success_timestamp_seconds{namespace="shop", name="orders"}"#, "values": "0x60"},
        ],
        "alert_rule_test": [
            {"eval_time": "47h", "alertname": "ServiceDatabaseBackupStale", "exp_alerts": []},
            {"eval_time": "49h", "alertname": "ServiceDatabaseBackupStale", "exp_alerts": [expected(stale, object, "")]},
        ],
    });
    let dir = tempfile::tempdir().unwrap();
    write_rules(dir.path(), &group);
    let tests =
        serde_json::json!({"rule_files": ["rules.yaml"], "evaluation_interval": "1m", "tests": [minutes, hours]});
    std::fs::write(dir.path().join("tests.yaml"), yaml_serde::to_string(&tests).unwrap()).unwrap();
    let out = promtool(&["test", "rules", "tests.yaml"], dir.path());
    assert!(out.contains("SUCCESS"), "{out}");
}

/// The chart's Grafana dashboard: every query is valid PromQL (promtool
/// loads each as a recording rule), and every operator metric it names is
/// one the operator exports.
#[test]
fn the_dashboard_queries_parse_and_name_real_operator_metrics() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/servicedb/dashboards/servicedb.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let exprs: Vec<String> = dashboard["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().cloned().unwrap_or_default())
        .map(|t| t["expr"].as_str().unwrap().replace("$namespace", ".*"))
        .collect();
    assert!(exprs.len() >= 10, "{exprs:?}");

    let rules: Vec<serde_json::Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| serde_json::json!({"record": format!("dashboard:query{i}"), "expr": expr}))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = yaml_serde::to_string(&serde_json::json!({"groups": [{"name": "dashboard", "rules": rules}]})).unwrap();
    std::fs::write(dir.path().join("rules.yaml"), file).unwrap();
    promtool(&["check", "rules", "rules.yaml"], dir.path());

    // The operator's exposition with one instance in its cache, so that every family has a series.
    let metrics = servicedb::metrics::Metrics::default();
    let (store, mut writer) = kube::runtime::reflector::store::<ServiceDatabase>();
    writer.apply_watcher_event(&kube::runtime::watcher::Event::Apply(sdb("postgres", "16")));
    metrics.watch(store);
    metrics.reconciled(std::time::Duration::from_millis(5), Some("conflict"));
    let exported = metrics.encode();
    for expr in &exprs {
        for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
            if let Some(name) = word.strip_prefix("servicedb_") {
                let family = ["_total", "_bucket"].iter().fold(name, |n, s| n.strip_suffix(s).unwrap_or(n));
                assert!(exported.contains(&format!("# TYPE servicedb_{family} ")), "{word} is not exported");
            }
        }
    }
}
